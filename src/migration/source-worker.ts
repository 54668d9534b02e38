// The thread that reads the old box (source-thread.ts explains why a thread). It holds the copy's source
// connections (body-connection.ts) and answers one request at a time per connection. A FETCH answer goes
// back with the socket's own buffers transferred, not copied, and each message's sha-256 computed here.
import { createHash } from "node:crypto";
import { parentPort } from "node:worker_threads";
import { BodyConnection } from "./body-connection.js";
import { prepareSource } from "./source-prepare.js";
import type { SourceReply, SourceRequest, ThreadMessage } from "./source-thread.js";
import type { ImapEndpoint } from "./targets.js";

const port = parentPort!;
const conns = new Map<number, BodyConnection>();
/** Each preparation's login, by its connection: the credentials that worked, or null if none did. */
const logins = new Map<number, Promise<ImapEndpoint | null>>();

function errorOf(err: unknown): SourceReply["error"] {
  const e = (err ?? {}) as Record<string, unknown>;
  return {
    name: typeof e.name === "string" ? e.name : "Error",
    message: typeof e.message === "string" ? e.message : String(err),
    ...(typeof e.code === "string" ? { code: e.code } : {}),
    authenticationFailed: e.authenticationFailed === true,
    serverResponseCode: typeof e.serverResponseCode === "string" ? e.serverResponseCode : "",
    responseText: typeof e.responseText === "string" ? e.responseText : "",
  };
}

async function serve(m: SourceRequest): Promise<void> {
  const usable = () => conns.get(m.conn)?.usable ?? false;
  const conn = () => {
    const c = conns.get(m.conn);
    if (!c) throw new Error(`no source connection ${m.conn}`);
    return c;
  };
  const messages: ThreadMessage[] = [];
  const buffers = new Set<ArrayBuffer>();
  try {
    switch (m.op) {
      case "prepare": {
        let loggedIn!: (ep: ImapEndpoint | null) => void;
        logins.set(m.conn, new Promise((r) => (loggedIn = r)));
        try {
          const { prepared, scanner } = await prepareSource(m.ep, loggedIn);
          conns.set(m.conn, scanner);
          return port.postMessage({ id: m.id, usable: usable(), prepared } satisfies SourceReply);
        } finally {
          loggedIn(null);
        }
      }
      case "open": {
        // A spare asked for with the preparation waits for its login: the password that worked there.
        const ep = m.after === undefined ? m.ep : await logins.get(m.after);
        if (!ep) throw new Error("the first connection could not log in");
        conns.set(m.conn, await BodyConnection.open(ep));
        return port.postMessage({ id: m.id, usable: true } satisfies SourceReply);
      }
      case "examine":
        return port.postMessage({
          id: m.id,
          usable: usable(),
          examined: await conn().examine(m.path, m.wire),
        } satisfies SourceReply);
      case "fetch": {
        await conn().fetchBodies(m.uids, (b) => {
          const hash = createHash("sha256");
          let size = 0;
          for (const c of b.body) {
            hash.update(c);
            size += c.byteLength;
            buffers.add(c.buffer as ArrayBuffer);
          }
          messages.push({
            uid: b.uid,
            ...(b.flags ? { flags: b.flags } : {}),
            ...(b.internalDate !== undefined ? { internalDate: b.internalDate } : {}),
            size,
            sha256: hash.digest("hex"),
            chunks: b.body.map((c) => [c.buffer as ArrayBuffer, c.byteOffset, c.byteLength]),
          });
        });
        return reply({ id: m.id, usable: usable(), messages });
      }
      case "logout":
        await conns.get(m.conn)?.logout();
        conns.delete(m.conn);
        return port.postMessage({ id: m.id, usable: false } satisfies SourceReply);
      case "close":
        conns.get(m.conn)?.close();
        conns.delete(m.conn);
        return port.postMessage({ id: m.id, usable: false } satisfies SourceReply);
    }
  } catch (err) {
    // What arrived before the failure goes back too: the engine keeps it and asks again for the rest.
    return reply({ id: m.id, usable: usable(), messages, error: errorOf(err) });
  }

  /** Sends the messages' buffers over instead of copying them; nothing here touches them afterwards. */
  function reply(r: SourceReply): void {
    // Bytes the connection still holds (a line begun after the tagged answer) may share a buffer with
    // the last message: it keeps copies of them, so the transfer detaches nothing it reads later.
    conns.get(m.conn)?.ownPending();
    try {
      port.postMessage(r, [...buffers]);
    } catch {
      try {
        // A buffer Node will not hand over (newer Node refuses its shared pool's): copy them all instead.
        port.postMessage(r);
      } catch (err) {
        // Whatever cannot cross: the request fails, the thread and its other connections go on.
        port.postMessage({ id: r.id, usable: false, error: errorOf(err) } satisfies SourceReply);
      }
    }
  }
}

port.on("message", (m: SourceRequest) => {
  void serve(m);
});
