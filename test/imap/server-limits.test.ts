// Limits that need their own server: connections per box and the idle timeout.
import assert from "node:assert/strict";
import { test } from "node:test";
import { RawImap } from "../helpers/imap-raw.js";
import { PASSWORD, startTestImap, USER } from "../helpers/imap-server.js";

test("a box has at most maxConnectionsPerUser sessions; one more is refused with [LIMIT]", async () => {
  const t = await startTestImap({ limits: { maxConnectionsPerUser: 2 } });
  try {
    const open: RawImap[] = [];
    for (let i = 0; i < 2; i++) {
      const c = await RawImap.open(t.port);
      assert.match(await c.cmd(`LOGIN ${USER} "${PASSWORD}"`), /^t\d+ OK/m);
      open.push(c);
    }
    const third = await RawImap.open(t.port);
    assert.match(await third.cmd(`LOGIN ${USER} "${PASSWORD}"`), /^t\d+ NO \[LIMIT\]/m);
    // When one leaves, there is room again.
    assert.match(await open[0]!.cmd("LOGOUT"), /OK/);
    await open[0]!.until(() => open[0]!.closed);
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = /^t\d+ OK/m.test(await third.cmd(`LOGIN ${USER} "${PASSWORD}"`));
      if (!ok) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(ok, "a slot freed by LOGOUT can be used");
    third.close();
    open[1]!.close();
  } finally {
    await t.close();
  }
});

test("a connection that stays silent is logged out with BYE", async () => {
  const t = await startTestImap({ limits: { idleTimeoutNotAuthMs: 300, idleTimeoutAuthMs: 600 } });
  try {
    const c = await RawImap.open(t.port);
    assert.match(await c.until(() => c.closed), /^\* BYE Autologout/m);
    const d = await RawImap.open(t.port);
    assert.match(await d.cmd(`LOGIN ${USER} "${PASSWORD}"`), /^t\d+ OK/m);
    assert.match(await d.until(() => d.closed), /^\* BYE Autologout/m);
  } finally {
    await t.close();
  }
});
