// One IMAP connection: reads commands through the framer, runs them one at a time through the registry,
// keeps the selected folder in step with the store's change log, and writes responses with
// back-pressure so a slow reader only ever slows itself.
import type { Socket } from "node:net";
import { type SecureContext, TLSSocket } from "node:tls";
import { verifyPassword } from "../../accounts/passwords.js";
import type { MailStore } from "../../store/mail-store.js";
import type { Mailbox } from "../../store/types.js";
import { CommandFramer, type FramerEvent } from "../proto/framer.js";
import type { IMAP_LIMITS } from "../proto/limits.js";
import { Reader } from "../proto/reader.js";
import { formatSet } from "../proto/sequence-set.js";
import { encodeLine, statusText, type Value } from "../proto/serializer.js";
import { ImapBad, ImapBye, ImapNo, toWire } from "./errors.js";
import type { CommandRegistry, SessionState } from "./registry.js";
import { SelectedFolder } from "./selected.js";

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ServerContext {
  store: MailStore;
  registry: CommandRegistry;
  secureContext: SecureContext | null;
  log: Logger;
  limits: typeof IMAP_LIMITS;
  /** Sessions with a folder selected, by folder id: change events are fanned out through it. */
  watchers: Map<number, Set<Session>>;
  /** Logged-in sessions per box. */
  userConnections: Map<number, number>;
  /**
   * \Recent (RFC 3501 §2.3.2): per folder, the highest UID some session has already been told about.
   * A message above it is \Recent for the first session that sees it. Kept in memory: after a restart
   * nothing is \Recent until new mail arrives.
   */
  recentBoundary: Map<number, number>;
  /** Password check (argon2id by default; tests may inject a cheaper one). */
  verifyPassword?: (hash: string, password: string) => Promise<boolean>;
}

const SYSTEM_FLAGS = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"];

const isLoopback = (a: string | undefined) =>
  !!a && (a === "::1" || a.startsWith("127.") || a.startsWith("::ffff:127."));

export class Session {
  state: SessionState = "notauth";
  secure: boolean;
  mailbox: Mailbox | null = null;
  selected: SelectedFolder | null = null;
  /** Extensions turned on by ENABLE (RFC 5161) or implicitly (CONDSTORE by a CONDSTORE command). */
  readonly enabled = new Set<string>();
  readonly remoteAddress: string;
  private sock: Socket;
  private framer: CommandFramer;
  /** Set while a command waits in nextLine() for more bytes from the client. */
  private inputWaiter: (() => void) | null = null;
  private running = false;
  private closed = false;
  private badCount = 0;
  private authFailures = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private syncChain: Promise<void> = Promise.resolve();
  /** True while IDLE waits for DONE: changes are pushed as they happen. */
  idling = false;
  private dirty = false;

  constructor(
    sock: Socket,
    readonly ctx: ServerContext,
    implicitTls: boolean,
  ) {
    this.sock = sock;
    this.secure = implicitTls;
    this.remoteAddress = sock.remoteAddress ?? "";
    this.framer = this.newFramer();
    this.attach(sock);
  }

  get store(): MailStore {
    return this.ctx.store;
  }
  get utf8(): boolean {
    return this.enabled.has("UTF8=ACCEPT");
  }
  get condstore(): boolean {
    return this.enabled.has("CONDSTORE") || this.enabled.has("QRESYNC");
  }
  /** Plain-text passwords only over TLS or on loopback (contract.md). */
  get plaintextAllowed(): boolean {
    return this.secure || isLoopback(this.remoteAddress);
  }
  get canStartTls(): boolean {
    return !this.secure && this.ctx.secureContext !== null;
  }

  start(): void {
    const caps = this.capabilities().join(" ");
    this.send(["*", `OK [CAPABILITY ${caps}] Domicilio IMAP ready`]);
    this.touch();
  }

  capabilities(): string[] {
    const caps = ["IMAP4rev1"];
    if (this.state === "notauth") {
      if (this.canStartTls) caps.push("STARTTLS");
      if (this.plaintextAllowed) caps.push("AUTH=PLAIN", "AUTH=LOGIN");
      else caps.push("LOGINDISABLED");
      caps.push("SASL-IR", "LITERAL+", "ID", "ENABLE", "IDLE", "NAMESPACE");
      return caps;
    }
    caps.push(...this.ctx.registry.capabilities());
    caps.push(`APPENDLIMIT=${this.ctx.limits.maxAppendBytes}`);
    return caps;
  }

  // ---- I/O --------------------------------------------------------------------------------------------

  private newFramer(): CommandFramer {
    const limits = this.ctx.limits;
    return new CommandFramer({
      maxLineBytes: limits.maxLineBytes,
      maxCommandBytes: limits.maxCommandBytes,
      maxLiteralBytes: (first) =>
        /^\S+ (UID )?APPEND /i.test(first.toString("latin1", 0, 64)) && this.state !== "notauth"
          ? limits.maxAppendBytes
          : limits.maxLiteralBytes,
    });
  }

  private readonly onData = (chunk: Buffer) => {
    this.touch();
    this.framer.write(chunk);
    // A client far ahead of us (pipelining while a command runs): stop reading until we catch up.
    if (this.framer.unread > this.ctx.limits.maxReadAheadBytes) this.sock.pause();
    if (this.inputWaiter) {
      const w = this.inputWaiter;
      this.inputWaiter = null;
      w();
    } else void this.pump();
  };

  private readonly onClose = () => this.cleanup();
  private readonly onError = () => {
    this.cleanup();
    this.sock.destroy();
  };

  private attach(sock: Socket): void {
    sock.on("data", this.onData);
    sock.on("close", this.onClose);
    sock.on("error", this.onError);
  }

  private detach(sock: Socket): void {
    sock.off("data", this.onData);
    sock.off("close", this.onClose);
    sock.off("error", this.onError);
  }

  /**
   * Frames and runs commands one at a time, in the order the client sent them, until the framer needs
   * more bytes. Framing waits for the session (see framer.ts): whether the bytes after a command are
   * commands or continuation lines is known only once that command has run.
   */
  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.closed) {
        const ev = this.framer.next();
        if (!ev) break;
        if (this.framer.unread <= this.ctx.limits.maxReadAheadBytes / 2) this.resumeReading();
        await this.handleEvent(ev);
      }
    } catch (err) {
      this.ctx.log.error({ err }, "imap session failure");
      this.bye("Internal error");
    } finally {
      this.running = false;
    }
    // Waiting for the client now: whatever was paused must flow again.
    this.resumeReading();
  }

  private resumeReading(): void {
    if (!this.closed && this.sock.isPaused()) this.sock.resume();
  }

  /**
   * The next continuation line from the client (IDLE's DONE, AUTHENTICATE responses); null when the
   * connection ends. Such a line carries no literals (RFC 2177 §3, RFC 9051 §6.2.2), so it is framed in
   * line mode. A line over the limit is refused with BAD [TOOBIG]: it cannot be the expected answer.
   */
  async nextLine(): Promise<Buffer | null> {
    for (;;) {
      if (this.closed) return null;
      this.framer.lineMode = true;
      const ev = this.framer.next();
      this.framer.lineMode = false;
      if (ev?.kind === "line") return ev.bytes;
      if (ev?.kind === "line-too-long") throw new ImapBad("Line too long", "TOOBIG");
      // Line mode gives nothing else; anything else would mean the framer was mid-command.
      if (ev) throw new Error(`unexpected ${ev.kind} event in line mode`);
      this.resumeReading();
      await new Promise<void>((resolve) => {
        this.inputWaiter = resolve;
      });
    }
  }

  write(buf: Buffer): void {
    if (this.closed || this.sock.destroyed) return;
    this.sock.write(buf);
  }

  /** Waits while the client has not read what we sent (slow reader back-pressure). */
  async drain(): Promise<void> {
    while (!this.closed && this.sock.writableLength > this.ctx.limits.writeHighWaterBytes) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.sock.off("drain", done);
          this.sock.off("close", done);
          resolve();
        };
        this.sock.once("drain", done);
        this.sock.once("close", done);
      });
    }
  }

  send(values: Value[]): void {
    this.write(encodeLine(values, { utf8: this.utf8 }));
  }

  untagged(...values: Value[]): void {
    this.send(["*", ...values]);
  }

  tagged(tag: string, status: "OK" | "NO" | "BAD", text: string, code: string | null = null): void {
    this.write(Buffer.from(`${tag} ${statusText(status, code, text)}\r\n`, "utf8"));
  }

  bye(text: string): void {
    if (this.closed) return;
    this.write(Buffer.from(`* ${statusText("BYE", null, text)}\r\n`));
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.sock.end();
    // A client that never reads must not keep the socket forever.
    setTimeout(() => this.sock.destroy(), 5000).unref();
    this.cleanup();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.unwatch();
    if (this.mailbox) {
      const n = (this.ctx.userConnections.get(this.mailbox.id) ?? 1) - 1;
      if (n <= 0) this.ctx.userConnections.delete(this.mailbox.id);
      else this.ctx.userConnections.set(this.mailbox.id, n);
    }
    if (this.inputWaiter) {
      const w = this.inputWaiter;
      this.inputWaiter = null;
      w();
    }
  }

  private touch(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const ms =
      this.state === "notauth" ? this.ctx.limits.idleTimeoutNotAuthMs : this.ctx.limits.idleTimeoutAuthMs;
    this.idleTimer = setTimeout(() => this.bye("Autologout; idle for too long"), ms);
    this.idleTimer.unref();
  }

  // ---- commands ---------------------------------------------------------------------------------------

  private async handleEvent(ev: FramerEvent): Promise<void> {
    switch (ev.kind) {
      case "continue":
        // RFC 9051 §7.5: the command so far is acceptable, send the literal.
        this.write(Buffer.from("+ Ready for literal data\r\n"));
        return;
      case "line-too-long":
        this.countBad();
        this.tagged(ev.tag, "BAD", "Command line too long", "TOOBIG");
        return;
      case "literal-too-big":
        // RFC 7888 §4: the data of a non-synchronizing literal is already coming; we cannot skip it safely.
        if (ev.fatal) this.bye("[TOOBIG] Literal too big");
        else this.tagged(ev.tag, "NO", `Literal of ${ev.size} octets is too big`, "TOOBIG");
        return;
      case "command":
      case "line":
        await this.handleCommand(ev.bytes);
        return;
    }
  }

  private countBad(): void {
    this.badCount++;
    if (this.badCount >= this.ctx.limits.maxBadCommands) this.bye("Too many invalid commands");
  }

  private async handleCommand(bytes: Buffer): Promise<void> {
    const r = new Reader(bytes);
    r.utf8 = this.utf8 || this.state === "notauth";
    let tag = "*";
    try {
      if (bytes.length === 0) throw new ImapBad("Empty command line");
      tag = r.tag();
      r.sp();
      let name = r.astringAtom().toUpperCase();
      let uid = false;
      if (name === "UID") {
        r.sp();
        name = r.atom().toUpperCase();
        uid = true;
      }
      const spec = this.ctx.registry.get(name);
      if (!spec || (uid && !spec.uid)) throw new ImapBad(`Unknown command ${name.slice(0, 40)}`);
      if (!spec.states.includes(this.state)) {
        throw new ImapBad(
          spec.states.includes("notauth") && spec.states.length === 1
            ? "Already logged in"
            : this.state === "notauth"
              ? "Log in first"
              : spec.states.includes("selected")
                ? "Select a mailbox first"
                : `${name} is not allowed now`,
        );
      }
      await spec.run(this, r, { tag, uid });
      this.badCount = 0;
    } catch (err) {
      if (err instanceof ImapBye) {
        this.bye(err.message);
        return;
      }
      const w = toWire(err);
      if (w.bug)
        this.ctx.log.error(
          { err: w.bug, command: bytes.subarray(0, 80).toString("latin1") },
          "imap command failed",
        );
      this.tagged(tag, w.status, w.text, w.code);
      if (w.status === "BAD") this.countBad();
    }
  }

  /** Sync with the store (allowing EXPUNGE unless told otherwise), then the tagged OK. */
  async finish(
    tag: string,
    text: string,
    options: { code?: string | null; expunge?: boolean } = {},
  ): Promise<void> {
    await this.sync(options.expunge ?? true);
    this.tagged(tag, "OK", text, options.code ?? null);
  }

  // ---- authentication ---------------------------------------------------------------------------------

  async login(address: string, password: string): Promise<void> {
    if (!this.plaintextAllowed) throw new ImapNo("PRIVACYREQUIRED", "Use STARTTLS or port 993 first");
    const box = await this.store.getMailbox(address).catch(() => null);
    const check = this.ctx.verifyPassword ?? verifyPassword;
    const ok = box ? await check(box.passwordHash, password).catch(() => false) : false;
    if (!box || !ok) {
      this.authFailures++;
      // Slow down guessing: each failure on this connection doubles the wait.
      await new Promise((r) =>
        setTimeout(r, this.ctx.limits.authFailureDelayMs * 2 ** Math.min(this.authFailures - 1, 4)),
      );
      if (this.authFailures >= this.ctx.limits.maxAuthFailures) {
        this.ctx.log.warn({ address, ip: this.remoteAddress }, "imap: too many failed logins");
        throw new ImapBye("Too many failed logins");
      }
      throw new ImapNo("AUTHENTICATIONFAILED", "Invalid credentials");
    }
    // The state is told only to someone who knows the password.
    if (box.state === "waiting-first-access")
      throw new ImapNo("AUTHENTICATIONFAILED", "Box not activated yet: complete the first access on the web");
    if (box.state === "deactivated") throw new ImapNo("UNAVAILABLE", "This box has been deactivated");
    const count = this.ctx.userConnections.get(box.id) ?? 0;
    if (count >= this.ctx.limits.maxConnectionsPerUser)
      throw new ImapNo("LIMIT", "Too many connections for this box");
    this.ctx.userConnections.set(box.id, count + 1);
    this.mailbox = box;
    this.state = "auth";
    this.touch();
  }

  async startTls(tag: string): Promise<void> {
    if (!this.canStartTls) throw new ImapBad("TLS is already active or not available");
    // RFC 9051 §6.2.1 / RFC 2595 §3.1: anything pipelined after STARTTLS must be discarded: it stays
    // unread in the plain-text framer, which is dropped here.
    this.tagged(tag, "OK", "Begin TLS negotiation now");
    const plain = this.sock;
    this.detach(plain);
    const secure = new TLSSocket(plain, { isServer: true, secureContext: this.ctx.secureContext! });
    this.sock = secure;
    this.secure = true;
    this.framer = this.newFramer();
    this.attach(secure);
  }

  // ---- selected folder --------------------------------------------------------------------------------

  async select(folderName: string, readOnly: boolean): Promise<SelectedFolder> {
    // RFC 9051 §6.3.2 / RFC 7162 §3.2.11: the previous mailbox is closed, and the client is told so.
    if (this.selected) this.untagged("OK", "[CLOSED]", "Previous mailbox closed");
    this.unselect();
    const folder = await this.store.getFolder(this.mailbox!.id, folderName);
    if (!folder) throw new ImapNo("NONEXISTENT", "No such mailbox");
    const messages = await this.store.listMessages(folder.id);
    const sel = new SelectedFolder(folder, readOnly, messages);
    this.selected = sel;
    this.state = "selected";
    let set = this.ctx.watchers.get(folder.id);
    if (!set) {
      set = new Set();
      this.ctx.watchers.set(folder.id, set);
    }
    set.add(this);
    // Anything committed between our read and our registration is found by the next sync.
    this.dirty = true;
    return sel;
  }

  unselect(): void {
    this.unwatch();
    this.selected = null;
    if (this.state === "selected") this.state = "auth";
  }

  private unwatch(): void {
    if (!this.selected) return;
    const set = this.ctx.watchers.get(this.selected.folder.id);
    set?.delete(this);
    if (set && set.size === 0) this.ctx.watchers.delete(this.selected.folder.id);
  }

  /** Marks as \Recent for this session the UIDs no other session has claimed yet. */
  claimRecent(sel: SelectedFolder, uids: number[]): void {
    const id = sel.folder.id;
    const boundary = this.ctx.recentBoundary.get(id);
    let max = boundary ?? 0;
    for (const uid of uids) {
      if (boundary !== undefined && uid > boundary && !sel.readOnly) sel.recent.add(uid);
      if (uid > max) max = uid;
    }
    // EXAMINE does not take \Recent away from others (RFC 3501 §6.3.2).
    if (!sel.readOnly || boundary === undefined) this.ctx.recentBoundary.set(id, max);
  }

  /** Called by the server when the store reports a change in the selected folder. */
  onFolderChange(): void {
    this.dirty = true;
    if (this.idling)
      this.sync(true).catch((err: unknown) => {
        // The selected folder went away under an IDLE: say why and hang up (never an unhandled rejection).
        this.bye(err instanceof ImapBye ? err.message : "Internal error");
      });
  }

  /** Brings the selected view up to date and reports what changed; runs one at a time. */
  sync(allowExpunge: boolean): Promise<void> {
    const run = this.syncChain.then(() => this.doSync(allowExpunge));
    this.syncChain = run.catch((err) => this.ctx.log.error({ err }, "imap sync failed"));
    return run;
  }

  private async doSync(allowExpunge: boolean): Promise<void> {
    const sel = this.selected;
    if (!sel || this.closed) return;
    // Nothing happened to the folder since we last looked: the store tells every change (ours, other
    // connections', other processes') through onChange, synchronously after commit.
    if (!this.dirty && (!allowExpunge || sel.pendingExpunge.size === 0)) return;
    this.dirty = false;
    const folder = await this.store.getFolderById(sel.folder.id);
    if (!folder) {
      // The folder was deleted or renamed away by another connection.
      if (this.selected === sel) throw new ImapBye("Selected mailbox was deleted, have to disconnect");
      return;
    }
    if (this.selected !== sel) return;
    sel.folder = folder;
    const since = sel.highestModseq;
    if (folder.highestModseq > since) {
      const [changed, expunged] = await Promise.all([
        this.store.listMessages(folder.id, { changedSince: since }),
        this.store.expungedSince(folder.id, since),
      ]);
      if (this.selected !== sel) return;
      for (const uid of expunged) if (sel.seqOf(uid) > 0) sel.pendingExpunge.add(uid);
      // The reads above are separate statements (on PostgreSQL, on separate pool connections): a commit
      // can land between them, so `changed` may still hold a message that `expunged` already lists. The
      // expunge is the later state, so such a message gets no FETCH: once its EXPUNGE is sent it has no
      // sequence number left (RFC 9051 §7.5.1), and its flags are no longer in the view.
      const fresh = changed.filter((m) => m.uid > sel.lastUid && !sel.pendingExpunge.has(m.uid));
      const known = changed.filter(
        (m) => m.uid <= sel.lastUid && sel.flags.has(m.uid) && !sel.pendingExpunge.has(m.uid),
      );
      sel.highestModseq = folder.highestModseq;
      if (allowExpunge) this.reportExpunges(sel);
      if (fresh.length > 0) {
        for (const m of fresh) {
          sel.add(m);
        }
        this.claimRecent(
          sel,
          fresh.map((m) => m.uid),
        );
        this.untagged(sel.exists, "EXISTS");
        this.untagged(sel.recent.size, "RECENT");
      }
      for (const m of known) {
        const before = sel.flags.get(m.uid)!;
        sel.modseqs.set(m.uid, m.modseq);
        if (sameFlags(before, m.flags)) continue;
        sel.flags.set(m.uid, m.flags);
        const items: Value[] = ["UID", m.uid, "FLAGS", this.flagList(sel, m.uid)];
        if (this.condstore) items.push("MODSEQ", [m.modseq]);
        this.untagged(sel.seqOf(m.uid), "FETCH", items);
      }
    } else if (allowExpunge) this.reportExpunges(sel);
  }

  private reportExpunges(sel: SelectedFolder): void {
    if (sel.pendingExpunge.size === 0) return;
    const uids = [...sel.pendingExpunge].sort((a, b) => a - b);
    if (this.enabled.has("QRESYNC")) {
      // RFC 7162 §3.2.10: VANISHED instead of EXPUNGE once QRESYNC is enabled.
      for (const uid of uids) sel.remove(uid);
      this.untagged("VANISHED", formatSet(uids));
      return;
    }
    // Highest first, so the numbers we send stay valid as the client applies them.
    for (let i = uids.length - 1; i >= 0; i--) {
      const seq = sel.remove(uids[i]!);
      if (seq > 0) this.untagged(seq, "EXPUNGE");
    }
  }

  /** FLAGS and PERMANENTFLAGS for the selected folder (RFC 9051 §7.3.5, §7.1). */
  announceFlags(sel: SelectedFolder): void {
    const flags = [...SYSTEM_FLAGS, ...[...sel.keywords].sort()];
    this.untagged("FLAGS", flags);
    this.untagged(
      "OK",
      `[PERMANENTFLAGS (${sel.readOnly ? "" : [...flags, "\\*"].join(" ")})]`,
      "Flags permitted",
    );
  }

  /**
   * The flags of a message for a FETCH response. A keyword the client has not been told about yet is
   * announced first with a new FLAGS response, as clients expect every keyword to be in FLAGS.
   */
  flagList(sel: SelectedFolder, uid: number): string[] {
    const flags = [...(sel.flags.get(uid) ?? [])];
    const fresh = flags.filter((f) => !f.startsWith("\\") && !sel.keywords.has(f));
    if (fresh.length) {
      for (const f of fresh) sel.keywords.add(f);
      this.announceFlags(sel);
    }
    if (sel.recent.has(uid)) flags.push("\\Recent");
    return flags;
  }

  get hasPendingChanges(): boolean {
    return this.dirty;
  }
}

function sameFlags(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((f, i) => f === b[i]);
}
