// The copy's connection to the old box: log in, LIST the folders, EXAMINE a folder and scan it, fetch
// bodies, log out. That is all a copy does on the source, so it does it on connections of its own rather
// than through imapflow: messages come out as the socket's own chunks, never joined or copied
// (imap-response.ts says why that matters for speed), and the copy's start-up does not load imapflow.
//
// Same connection rules as imapflow's (targets.ts, newImapClient, for an IMAP target): implicit
// TLS when the endpoint says so, otherwise STARTTLS whenever the server offers it; SNI for host names
// only; the certificate checked unless --insecure-tls; AUTHENTICATE PLAIN when offered (RFC 4616, with
// SASL-IR, RFC 4959, when allowed), LOGIN otherwise.
import net from "node:net";
import tls from "node:tls";
import { encodeMutf7 } from "../mime/mutf7.js";
import { BUSY_CODES, SERVER_BUSY } from "./errors.js";
import type { SourceFolder } from "./folder-map.js";
import {
  capabilitiesOf,
  type FetchedBody,
  type ListedName,
  type Namespaces,
  quoted,
  ResponseReader,
  readFetchBody,
  readListed,
  readNamespaces,
  readScan,
  readTagged,
  type ScannedAttributes,
  type ServerResponse,
  type TaggedStatus,
  untaggedCode,
} from "./imap-response.js";
import { decodeName, listedFolders } from "./listing.js";
import type { ImapEndpoint } from "./targets.js";

const CONNECT_TIMEOUT_MS = 30_000;
/** Without a byte from the server for this long, the connection is given up (as imapflow's socketTimeout). */
const IDLE_TIMEOUT_MS = 10 * 60_000;
const LOGOUT_WAIT_MS = 2_000;
/** As imapflow's greetingTimeout for the control connection (targets.ts). */
const GREETING_TIMEOUT_MS = 30_000;
/** An authentication backend may be slow; not this slow. */
const LOGIN_TIMEOUT_MS = 60_000;
const LIMITS = { maxLineBytes: 1024 * 1024, maxLiteralBytes: 2 ** 31 - 1 };

/** What a failed command or connection throws; shaped like imapflow's errors for classifyConnectError. */
export class SourceCommandError extends Error {
  override name = "SourceCommandError";
  readonly authenticationFailed: boolean;
  readonly serverResponseCode: string;
  readonly responseText: string;
  /** The server's tagged NO or BAD for the command (not a lost connection). */
  readonly tagged: boolean;
  /** Set when the connection is gone ("NoConnection", as imapflow says: errors.ts reads it). */
  readonly code?: string;
  constructor(message: string, status?: TaggedStatus, auth = false, code?: string) {
    super(message);
    this.tagged = status !== undefined;
    this.serverResponseCode = status?.code ?? "";
    this.responseText = status?.text ?? "";
    this.authenticationFailed = auth || this.serverResponseCode === "AUTHENTICATIONFAILED";
    if (code) this.code = code;
  }
}

interface Pending {
  tag: string;
  /** LOGOUT expects the server's BYE. */
  logout: boolean;
  /** A login: a BYE before its tagged answer does not tell why it failed, the answer does. */
  login: boolean;
  onUntagged?: (r: ServerResponse) => void;
  /** The server's "+": a literal may follow, or an AUTHENTICATE answer. */
  onContinue?: () => void;
  resolve: (s: TaggedStatus) => void;
  reject: (e: Error) => void;
}

/** A command the server refused (tagged NO or BAD) resolves to null; a lost connection still throws. */
function refusedOnly(err: unknown): null {
  if (err instanceof SourceCommandError && err.tagged) return null;
  throw err;
}

/** A piece of a command: text as is, or a string the server must receive as a literal (RFC 9051 §4.3). */
type Arg = string | { literal: Buffer };

export class BodyConnection {
  private reader = new ResponseReader(LIMITS);
  private tags = 0;
  private pending: Pending | null = null;
  /** Set once the connection cannot serve another command; every later call throws it. */
  private broken: Error | null = null;
  private greeting: { resolve: (r: ServerResponse) => void; reject: (e: Error) => void } | null = null;
  private caps = new Set<string>();

  private constructor(private socket: net.Socket) {
    this.attach(socket);
  }

  /** Connects and logs in; throws what classifyConnectError reads (socket codes, authenticationFailed). */
  static async open(
    ep: ImapEndpoint,
    /** For tests: a shorter wait for the greeting. */
    greetingTimeoutMs = GREETING_TIMEOUT_MS,
  ): Promise<BodyConnection> {
    const tlsOptions = {
      rejectUnauthorized: !ep.insecureTls,
      // RFC 6066 §3: no IP literals in SNI.
      ...(net.isIP(ep.host) ? {} : { servername: ep.host }),
    };
    const socket = ep.secure
      ? tls.connect({ host: ep.host, port: ep.port, ...tlsOptions })
      : net.connect({ host: ep.host, port: ep.port });
    const conn = new BodyConnection(socket);
    try {
      const greeted = conn.waitGreeting();
      greeted.catch(() => {}); // a failed connect rejects both; the connect's error is the one thrown
      await waitConnected(socket, ep.secure ? "secureConnect" : "connect");
      socket.setNoDelay(true);
      const greeting = await withTimeout(greeted, greetingTimeoutMs, "GREETING_TIMEOUT");
      const line = greeting.text[0]!;
      // "* BYE Maximum number of connections…": the server is there but will not talk to us now.
      if (/^\* BYE/i.test(line))
        throw new SourceCommandError(
          `server refused the connection: ${line}`,
          undefined,
          false,
          "NoConnection",
        );
      conn.caps = capabilitiesOf(line) ?? (await conn.capability());
      if (!ep.secure && conn.caps.has("STARTTLS")) {
        await conn.run(["STARTTLS"]);
        await conn.startTls(tlsOptions);
        conn.caps = await conn.capability();
      }
      // A server that never answers the login must not hold the copy for the idle timeout's 10 minutes.
      if (!/^\* PREAUTH/i.test(line))
        await withTimeout(conn.login(ep.user, ep.password), LOGIN_TIMEOUT_MS, "ETIMEDOUT");
      return conn;
    } catch (err) {
      conn.close();
      throw err;
    }
  }

  /** See ResponseReader.ownPending. */
  ownPending(): void {
    this.reader.ownPending();
  }

  get usable(): boolean {
    return this.broken === null;
  }

  /** Opens a folder read-only (RFC 9051 §6.3.2) and returns its UIDVALIDITY and message count. */
  async examine(path: string, wire?: string): Promise<{ uidValidity: number; exists: number }> {
    let uidValidity = 0;
    let exists = 0;
    // The name as listed when known (listing.ts), else the path in modified UTF-7 (RFC 3501 §5.1.3).
    await this.run(["EXAMINE ", astring(wire ?? encodeMutf7(path))], (r) => {
      const line = r.text[0]!;
      const v = untaggedCode(line, "UIDVALIDITY");
      if (v !== null) uidValidity = Number(v);
      const n = /^\* (\d+) EXISTS/i.exec(line);
      if (n) exists = Number(n[1]);
    });
    return { uidValidity, exists };
  }

  /**
   * The box's folders (listing.ts): NAMESPACE for the personal prefix and the other namespaces, whose
   * folders are not the box's (RFC 2342; none when refused), every name with `LIST "" "*"` (RFC 9051
   * §6.3.9), and the subscriptions with `LSUB "" "*"` (RFC 3501 §6.3.9), or on a server without LSUB
   * `LIST (SUBSCRIBED)` (RFC 5258; unknown when both are refused). A plain LIST, without RETURN options:
   * with them some servers (Dovecot 2.4) leave out the special-use attributes nobody asked for by name.
   */
  async list(): Promise<{ folders: SourceFolder[]; namespacePrefix: string }> {
    let namespaces: Namespaces = { personal: [], others: [] };
    await this.run(["NAMESPACE"], (r) => {
      const ns = readNamespaces(r);
      if (ns) namespaces = { personal: ns.personal.map(decodeName), others: ns.others.map(decodeName) };
    }).catch(refusedOnly);
    const list: ListedName[] = [];
    await this.run(['LIST "" "*"'], (r) => {
      const l = readListed(r, "LIST");
      if (l) list.push(l);
    });
    const listSubscribed = async (command: string, answer: "LIST" | "LSUB") => {
      const names: ListedName[] = [];
      const ok = await this.run([command], (r) => {
        const l = readListed(r, answer);
        if (l) names.push(l);
      }).catch(refusedOnly);
      return ok ? names : null;
    };
    // IMAP4rev2 has no LSUB (RFC 9051 §6.3.9): its LIST selects the subscribed folders instead.
    const lsub =
      (await listSubscribed('LSUB "" "*"', "LSUB")) ??
      (await listSubscribed('LIST (SUBSCRIBED) "" "*"', "LIST"));
    return {
      folders: listedFolders(list, lsub, namespaces),
      namespacePrefix: namespaces.personal[0] ?? "",
    };
  }

  /** Every message of the folder examined last: `UID FETCH 1:* (UID FLAGS RFC822.SIZE)`. */
  async scan(onMessage: (m: ScannedAttributes) => void): Promise<void> {
    await this.run(["UID FETCH 1:* (UID FLAGS RFC822.SIZE)"], (r) => {
      const m = readScan(r);
      if (m) onMessage(m);
    });
  }

  /** `UID FETCH uids (UID FLAGS INTERNALDATE BODY.PEEK[])` on the folder examined last. */
  async fetchBodies(uids: string, onMessage: (m: FetchedBody) => void): Promise<void> {
    await this.run([`UID FETCH ${uids} (UID FLAGS INTERNALDATE BODY.PEEK[])`], (r) => {
      const m = readFetchBody(r);
      if (m) onMessage(m);
    });
  }

  async logout(): Promise<void> {
    if (this.broken) return this.close();
    const done = this.run(["LOGOUT"]).catch(() => {});
    // A server that never answers must not hold the end of a copy.
    await Promise.race([done, new Promise((r) => setTimeout(r, LOGOUT_WAIT_MS).unref())]);
    this.close();
  }

  close(): void {
    this.fail(new SourceCommandError("connection closed"));
    this.socket.destroy();
  }

  private async capability(): Promise<Set<string>> {
    let caps = new Set<string>();
    await this.run(["CAPABILITY"], (r) => {
      caps = capabilitiesOf(r.text[0]!) ?? caps;
    });
    return caps;
  }

  private async login(user: string, password: string): Promise<void> {
    try {
      if (this.caps.has("AUTH=PLAIN")) {
        // RFC 4616: authorization identity empty, then the user and the password, NUL-separated.
        const token = Buffer.from(`\0${user}\0${password}`, "utf8").toString("base64");
        if (this.caps.has("SASL-IR")) await this.run([`AUTHENTICATE PLAIN ${token}`]);
        else await this.run(["AUTHENTICATE PLAIN"], undefined, [token]);
      } else {
        await this.run(["LOGIN ", astring(user), " ", astring(password)]);
      }
    } catch (err) {
      // The server's answer to the login (a BYE before it changes nothing): the credentials, unless its
      // response code says the server is busy (errors.ts BUSY_CODES).
      if (err instanceof SourceCommandError && err.tagged) {
        const busy = BUSY_CODES.has(err.serverResponseCode);
        throw new SourceCommandError(
          err.message,
          { tag: "", status: "NO", code: err.serverResponseCode, text: err.responseText },
          !busy,
          busy ? SERVER_BUSY : undefined,
        );
      }
      throw err;
    }
  }

  /**
   * Sends a command and resolves with its tagged OK; NO and BAD reject. Literals wait for the server's
   * "+" unless it takes LITERAL+ (RFC 7888); `answers` are lines sent one per "+" (AUTHENTICATE).
   */
  private run(
    args: Arg[],
    onUntagged?: (r: ServerResponse) => void,
    answers: string[] = [],
  ): Promise<TaggedStatus> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.pending) return Promise.reject(new Error("BodyConnection: one command at a time"));
    const tag = `D${++this.tags}`;
    const nonSync = this.caps.has("LITERAL+");
    // Split the command where a synchronizing literal must wait for "+".
    const pieces: Buffer[] = [];
    let text = `${tag} `;
    for (const a of args) {
      if (typeof a === "string") text += a;
      else {
        pieces.push(Buffer.from(`${text}{${a.literal.length}${nonSync ? "+" : ""}}\r\n`, "latin1"));
        pieces.push(a.literal);
        text = "";
      }
    }
    pieces.push(Buffer.from(`${text}\r\n`, "latin1"));
    const sync = !nonSync && args.some((a) => typeof a !== "string");
    return new Promise<TaggedStatus>((resolve, reject) => {
      let next = 0;
      const send = (n: number) => {
        for (; next < pieces.length && n > 0; n--) this.socket.write(pieces[next++]!);
      };
      // Synchronizing literals: the announcement goes first, its bytes and the rest after each "+".
      if (sync) send(1);
      else {
        for (const p of pieces) this.socket.write(p);
        next = pieces.length;
      }
      this.pending = {
        tag,
        logout: args[0] === "LOGOUT",
        login: typeof args[0] === "string" && /^(LOGIN|AUTHENTICATE) /.test(args[0]),
        ...(onUntagged ? { onUntagged } : {}),
        onContinue: () => {
          if (next < pieces.length) send(2);
          else if (answers.length) this.socket.write(`${answers.shift()}\r\n`);
          else this.socket.write("*\r\n"); // RFC 9051 §6.2.2: cancels an exchange we cannot answer
        },
        resolve,
        reject,
      };
    });
  }

  private async startTls(options: tls.ConnectionOptions): Promise<void> {
    this.socket.removeAllListeners("data");
    this.socket.setTimeout(0);
    const secured = tls.connect({ ...options, socket: this.socket });
    this.socket = secured;
    this.reader = new ResponseReader(LIMITS);
    this.attach(secured);
    await waitConnected(secured, "secureConnect");
  }

  private attach(socket: net.Socket): void {
    socket.setTimeout(IDLE_TIMEOUT_MS, () => {
      const e = Object.assign(new SourceCommandError("the old server stopped answering"), {
        code: "ETIMEDOUT",
      });
      this.fail(e);
      socket.destroy();
    });
    socket.on("data", (chunk: Buffer) => {
      let responses: ServerResponse[];
      try {
        responses = this.reader.push(chunk);
      } catch (err) {
        this.fail(err as Error);
        socket.destroy();
        return;
      }
      try {
        for (const r of responses) this.handle(r);
      } catch (err) {
        // An answer that cannot be read (imap-response.ts throws on malformed ones) ends this
        // connection, not the thread it runs on: the engine reconnects and goes on.
        this.fail(err as Error);
        socket.destroy();
      }
    });
    socket.on("error", (err) => this.fail(err));
    socket.on("close", () => this.fail(new SourceCommandError("the old server closed the connection")));
  }

  private handle(r: ServerResponse): void {
    const line = r.text[0]!;
    if (this.greeting) {
      const g = this.greeting;
      this.greeting = null;
      g.resolve(r);
      return;
    }
    const p = this.pending;
    if (line.startsWith("+")) {
      p?.onContinue?.();
      return;
    }
    if (line.startsWith("* ")) {
      if (/^\* BYE/i.test(line) && p?.login) {
        // "* BYE Too many failed logins" then "D1 NO …": the tagged answer settles the login; the
        // connection is not used again, and is closed if the server does not close it.
        this.broken ??= new SourceCommandError(`the old server ended the connection: ${line.slice(6)}`);
        setTimeout(() => this.socket.destroy(), LOGOUT_WAIT_MS).unref();
        return;
      }
      if (/^\* BYE/i.test(line) && !p?.logout) {
        // The server is ending the connection (Dovecot does on a message it cannot read): the command
        // fails at once with its words, whether or not the server then closes, and the connection is
        // not used again (imapflow does the same).
        this.fail(
          new SourceCommandError(
            `the old server ended the connection: ${line.slice(6)}`,
            undefined,
            false,
            "NoConnection",
          ),
        );
        this.socket.destroy();
        return;
      }
      p?.onUntagged?.(r);
      return;
    }
    const status = readTagged(line);
    if (!status || !p || status.tag !== p.tag) return; // not ours: nothing waits for it
    this.pending = null;
    if (status.status === "OK") p.resolve(status);
    else p.reject(new SourceCommandError(`${status.status} ${status.text}`, status));
  }

  private waitGreeting(): Promise<ServerResponse> {
    return new Promise((resolve, reject) => {
      this.greeting = { resolve, reject };
    });
  }

  private fail(err: Error): void {
    this.broken ??= err;
    this.greeting?.reject(this.broken);
    this.greeting = null;
    const p = this.pending;
    this.pending = null;
    p?.reject(this.broken);
  }
}

/** A string argument: quoted when it can be, a literal otherwise (8-bit, CR, LF). */
function astring(s: string): Arg {
  return quoted(s) ?? { literal: Buffer.from(s, "utf8") };
}

function withTimeout<T>(p: Promise<T>, ms: number, code: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error("the server did not answer in time"), { code })),
      ms,
    );
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function waitConnected(socket: net.Socket, event: "connect" | "secureConnect"): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const e = Object.assign(new Error("connection timed out"), { code: "CONNECT_TIMEOUT" });
      socket.destroy(e);
      reject(e);
    }, CONNECT_TIMEOUT_MS);
    socket.once(event, () => {
      clearTimeout(timer);
      socket.off("error", onError);
      resolve();
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    socket.once("error", onError);
  });
}
