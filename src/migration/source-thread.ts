// The copy's source connections live on a thread of their own (source-worker.ts). Reading the old box
// is most of a copy's work that is not the store's: the kernel's copy of every byte from the socket into
// fresh buffers (and their page faults), framing the answers, the sha-256 of every message. On the main
// thread it was about a third of the time of a copy that is bound by that thread (bench/migrate.ts:
// SQLite is synchronous there, and the store's work must stay there). On their own thread the two halves
// run side by side; the bytes cross over without a copy (their buffers are transferred), with their
// sha-256, which the store then uses as the blob's name (message-bytes.ts, HashedChunks).
import type { Worker } from "node:worker_threads";
import type { HashedChunks } from "../store/message-bytes.js";
import { startModuleThread } from "../threads/module-thread.js";
import type { PlannedFolder } from "./folder-map.js";
import type { ScannedAttributes } from "./imap-response.js";
import type { ImapEndpoint } from "./targets.js";

/** What a connection on the thread is asked to do. */
type SourceOp =
  | { op: "prepare"; ep: ImapEndpoint }
  /** `after`: the credentials that worked for that connection's `prepare`, once its login is done. */
  | { op: "open"; ep: ImapEndpoint; after?: number }
  | { op: "examine"; path: string; wire?: string }
  | { op: "fetch"; uids: string }
  | { op: "logout" }
  | { op: "close" };

export type SourceRequest = { id: number; conn: number } & SourceOp;

/** A fetched message as it crosses threads: its chunks as (buffer, offset, length). */
export interface ThreadMessage {
  uid: number;
  flags?: string[];
  internalDate?: string;
  size: number;
  sha256: string;
  chunks: [ArrayBuffer, number, number][];
}

/** One folder of the plan as the scan found it: its UIDVALIDITY and messages, or why it did not open. */
export interface PreparedFolder {
  source: string;
  examined?: { uidValidity: number; exists: number };
  scanned?: ScannedAttributes[];
  /** The server's refusal to open it (the connection still usable): reported, the others are copied. */
  error?: string;
}

/** What the thread's `prepare` found: the folder plan, and each copyable folder's scan. */
export interface Prepared {
  plan: PlannedFolder[];
  scans: PreparedFolder[];
  /** The credentials that worked (a password typed with a stray space is tried once without it). */
  source: ImapEndpoint;
  /** The connection that scanned, logged in: the first copy worker's. */
  scanner: SourceConnection;
}

export interface SourceReply {
  id: number;
  /** Whether the connection can take another command. */
  usable: boolean;
  prepared?: Omit<Prepared, "scanner">;
  examined?: { uidValidity: number; exists: number };
  messages?: ThreadMessage[];
  /** The failure, with the fields classifyConnectError reads. */
  error?: {
    name: string;
    message: string;
    code?: string;
    authenticationFailed: boolean;
    serverResponseCode: string;
    responseText: string;
  };
}

/** A message fetched by the source thread: its bytes with their length and sha-256. */
export interface SourceMessage {
  uid: number;
  flags?: string[];
  internalDate?: string;
  bytes: HashedChunks;
}

/** What the engine needs of a connection to the old box. */
export interface SourceConnection {
  readonly usable: boolean;
  /** `wire`: the name as the server listed it (PlannedFolder.wire), when known. */
  examine(path: string, wire?: string): Promise<{ uidValidity: number; exists: number }>;
  /** `UID FETCH uids (UID FLAGS INTERNALDATE BODY.PEEK[])`; what arrived is handed over even on failure. */
  fetchBodies(uids: string, onMessage: (m: SourceMessage) => void): Promise<void>;
  logout(): Promise<void>;
  /** Closes without a LOGOUT; resolves once the socket is gone. */
  close(): Promise<void>;
}

function toError(e: NonNullable<SourceReply["error"]>): Error {
  return Object.assign(new Error(e.message), e);
}

/** The thread, and the connections it holds for one copy. */
export class SourceThread {
  private readonly worker: Worker;
  private nextId = 1;
  private nextConn = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (r: SourceReply) => void; reject: (e: Error) => void }
  >();
  private dead: Error | null = null;

  constructor() {
    this.worker = startModuleThread(import.meta.url, "source-worker");
    const fail = (err: Error) => {
      this.dead ??= err;
      for (const w of this.waiting.values()) w.reject(this.dead);
      this.waiting.clear();
    };
    this.worker.on("message", (r: SourceReply) => {
      const w = this.waiting.get(r.id);
      this.waiting.delete(r.id);
      w?.resolve(r);
    });
    this.worker.on("error", fail);
    this.worker.on("exit", () => fail(new Error("the source thread ended")));
  }

  /** False once the thread has ended or failed: a new run needs a new thread. */
  get alive(): boolean {
    return this.dead === null;
  }

  request(req: SourceRequest): Promise<SourceReply> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.waiting.set(req.id, { resolve, reject });
      try {
        this.worker.postMessage(req);
      } catch (err) {
        this.waiting.delete(req.id);
        reject(err as Error);
      }
    });
  }

  newId(): number {
    return this.nextId++;
  }

  /**
   * The whole of "In preparazione" that reads the old box, on the thread (source-prepare.ts): the login,
   * LIST, the folder plan, and EXAMINE plus the scan of every folder to copy, on a connection that is
   * then handed over as the first copy worker's. `domicilio migrate` asks for it before it loads
   * anything else, so that all of it runs while the main thread loads the store (0.4 s of module
   * loading): only the store's side is left when that is done. Throws what classifyConnectError reads.
   * `spares` more connections log in as soon as the first has, with the credentials that worked there,
   * so that the copy starts with all of them (a login is several round trips and the server's
   * authentication); each resolves to null if it could not log in, and the copy goes on without it.
   */
  prepare(
    ep: ImapEndpoint,
    spares: number,
  ): { prepared: Promise<Prepared>; spares: Promise<SourceConnection | null>[] } {
    const scanner = new ThreadedConnection(this, this.nextConn++);
    const prepared = scanner.call({ op: "prepare", ep }).then((r) => ({ ...r.prepared!, scanner }));
    const after = scanner.id;
    const opened = Array.from({ length: spares }, () => {
      const conn = new ThreadedConnection(this, this.nextConn++);
      return conn.call({ op: "open", ep, after }).then(
        () => conn,
        () => null,
      );
    });
    return { prepared, spares: opened };
  }

  /** Connects and logs in on the thread; throws what classifyConnectError reads. */
  async open(ep: ImapEndpoint): Promise<SourceConnection> {
    const conn = new ThreadedConnection(this, this.nextConn++);
    await conn.call({ op: "open", ep });
    return conn;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

class ThreadedConnection implements SourceConnection {
  usable = true;

  constructor(
    private readonly thread: SourceThread,
    readonly id: number,
  ) {}

  async call(req: SourceOp): Promise<SourceReply> {
    let r: SourceReply;
    try {
      r = await this.thread.request({ ...req, id: this.thread.newId(), conn: this.id });
    } catch (err) {
      this.usable = false;
      throw err;
    }
    this.usable = r.usable;
    if (r.error && req.op !== "fetch") throw toError(r.error);
    return r;
  }

  async examine(path: string, wire?: string): Promise<{ uidValidity: number; exists: number }> {
    return (await this.call({ op: "examine", path, ...(wire !== undefined ? { wire } : {}) })).examined!;
  }

  async fetchBodies(uids: string, onMessage: (m: SourceMessage) => void): Promise<void> {
    const r = await this.call({ op: "fetch", uids });
    for (const m of r.messages ?? []) {
      onMessage({
        uid: m.uid,
        ...(m.flags ? { flags: m.flags } : {}),
        ...(m.internalDate !== undefined ? { internalDate: m.internalDate } : {}),
        bytes: {
          chunks: m.chunks.map(([ab, offset, length]) => Buffer.from(ab, offset, length)),
          size: m.size,
          sha256: m.sha256,
        },
      });
    }
    if (r.error) throw toError(r.error);
  }

  async logout(): Promise<void> {
    if (!this.usable) return this.close();
    await this.call({ op: "logout" }).catch(() => {});
    this.usable = false;
  }

  async close(): Promise<void> {
    this.usable = false;
    await this.call({ op: "close" }).catch(() => {});
  }
}
