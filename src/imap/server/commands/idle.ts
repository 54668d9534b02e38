// IDLE (RFC 2177): changes in the selected folder are pushed as they happen until the client says DONE.
import { ImapBad } from "../errors.js";
import { AUTHED, type CommandSpec } from "../registry.js";

export const idle: CommandSpec = {
  name: "IDLE",
  states: AUTHED,
  capabilities: ["IDLE"],
  async run(session, r, { tag }) {
    r.end();
    session.write(Buffer.from("+ idling\r\n"));
    session.idling = true;
    try {
      await session.sync(true);
      const line = await session.nextLine();
      if (line === null) return;
      session.idling = false;
      if (line.toString("latin1").trim().toUpperCase() !== "DONE") throw new ImapBad("Expected DONE");
    } finally {
      session.idling = false;
    }
    await session.finish(tag, "IDLE terminated");
  },
};
