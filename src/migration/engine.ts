// The migration engine: copies every folder of an old PEC box into the new one, byte-exact, with flags,
// keywords and INTERNALDATE, verified, resumable after a crash at any point, and fast on re-runs.
//
// Phases (the states a member sees):
//   In preparazione — on the source thread (source-prepare.ts), on a connection of our own
//     (body-connection.ts): log in to the source, LIST every folder (RFC 9051 §6.3.9, RFC 6154
//     attributes; listing.ts), plan the folder mapping (folder-map.ts), and scan every folder with one
//     cheap `UID FETCH 1:* (UID FLAGS RFC822.SIZE)`. Then, here: compare with the ledger to know exactly
//     what is missing and which flags changed; check the new box's quota for the missing bytes. Nothing
//     is written to the box in this phase, so a quota that is too small leaves it untouched.
//   Copia in corso — create the folders, then several workers (one source connection each, within the
//     source's connection limits, logged in beside the preparation; the scan's own is the first) take
//     chunks of the folders, largest first: `UID FETCH set (UID FLAGS INTERNALDATE BODY.PEEK[])`. A
//     fetched chunk's bytes are staged at once (the store writes the large ones as files, fsynced) while
//     earlier chunks commit; its rows then commit in the folder's order, one store transaction per chunk.
//     Each message is held in memory once, as the socket's own chunks (imap-response.ts, never joined:
//     message-bytes.ts), and a worker holds one chunk at a time.
//   Copiato — every folder verified: every source UID has a ledger row whose target message exists with
//     the same sha-256 (the store names blobs by their sha-256, so this compares the bytes we received
//     with the bytes it stored) and the source's flags. Otherwise Errore, with the reason.
//
// See ledger.ts for why a SIGKILL between the store commit and the ledger commit never doubles a message.
import { summarizeHeaders } from "../mime/header-summary.js";
import type { MessageBytes } from "../store/message-bytes.js";
import { classifyConnectError, MigrationError } from "./errors.js";
import type { PlannedFolder } from "./folder-map.js";
import { flagsKey, type Ledger, type LedgerRow } from "./ledger.js";
import { presetForHost } from "./presets.js";
import { type Prepared, type SourceConnection, type SourceMessage, SourceThread } from "./source-thread.js";
import type {
  AppendItem,
  ImapEndpoint,
  MigrationTarget,
  Staged,
  TargetFolderState,
  TargetSession,
} from "./targets.js";

export type MigrationState = "preparing" | "copying" | "copied" | "error";

/** What the member reads (contract.md: the states appear as text on the page). */
export const STATE_LABELS: Record<MigrationState, string> = {
  preparing: "In preparazione",
  copying: "Copia in corso",
  copied: "Copiato",
  error: "Errore",
};

export interface FolderReport {
  source: string;
  target: string;
  sourceMessages: number;
  copied: number;
  alreadyPresent: number;
  failed: number;
  targetMessages: number;
  verified: boolean;
  /** Why the folder was not copied (virtual folders). */
  skipped?: string;
  /** Messages the source could not serve, or other per-folder problems. */
  errors?: string[];
}

export interface MigrationReport {
  folders: FolderReport[];
  totals: { sourceMessages: number; copied: number; alreadyPresent: number; failed: number; bytes: number };
  verified: boolean;
  seconds: number;
  state: MigrationState;
  error?: { code: string; message: string };
  /** Work done: a re-run with nothing new fetches no bodies. */
  stats: {
    bodiesFetched: number;
    bytesFetched: number;
    flagsUpdated: number;
    removed: number;
    connections: number;
  };
}

export type MigrationEvent =
  | { type: "state"; state: MigrationState; label: string; error?: { code: string; message: string } }
  | {
      type: "progress";
      folder: string;
      messagesDone: number;
      messagesTotal: number;
      bytesDone: number;
      bytesTotal: number;
    }
  | { type: "folder"; report: FolderReport }
  | { type: "message-failed"; folder: string; uid: number; reason: string };

export interface MigrationOptions {
  source: ImapEndpoint;
  target: MigrationTarget;
  ledger: Ledger;
  /** Propagate deletions at the source to the box (off by default: nothing is ever lost by a re-run). */
  mirror?: boolean;
  /** Parallel connections to the source (the planning one included). Default 4. */
  connections?: number;
  /** Messages and bytes per chunk: one UID FETCH, one store transaction. */
  batchMessages?: number;
  batchBytes?: number;
  onEvent?: (e: MigrationEvent) => void;
  /**
   * The source thread and its preparation (`thread.prepare(source)`), started by
   * `domicilio migrate` before it loads the store. runMigration owns both from then on: it logs the
   * scanner out and ends the thread on every path.
   */
  early?: { thread: SourceThread } & ReturnType<SourceThread["prepare"]>;
  /** When the run began (performance.now()), if before this call: the report's `seconds` count from it. */
  startedAt?: number;
}

interface ScannedMessage {
  flags: string[];
  size: number;
}

interface FolderWork {
  plan: PlannedFolder;
  report: FolderReport;
  uidValidity: number;
  scan: Map<number, ScannedMessage>;
  /** Valid ledger rows by source UID. */
  rows: Map<number, LedgerRow>;
  missing: number[];
  missingBytes: number;
  flagChanges: { uid: number; targetUid: number; flags: string[] }[];
  gone: LedgerRow[];
}

interface GroupWork {
  targetName: string;
  folders: FolderWork[];
  /** Unclaimed target messages by content hash (crash leftovers or UIDVALIDITY fallback). */
  orphans: Map<string, number[]>;
  orphanBytes: number;
  bytes: number;
  targetUidValidity: number;
}

function uidSet(uids: number[]): string {
  // Compact ranges: 1:5,7,9:12 (RFC 3501 §9 sequence-set).
  const sorted = [...uids].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

function addError(fr: FolderReport, ...messages: string[]): void {
  if (!fr.errors) fr.errors = [];
  fr.errors.push(...messages);
}

function cleanFlags(flags: Iterable<string> | undefined): string[] {
  return flagsKey(flags ?? [])
    .split(" ")
    .filter(Boolean);
}

/**
 * INTERNALDATE as the server wrote it (RFC 9051 §9 date-time, which Date reads). When the server sent
 * none, or one that does not read, the message's own Date: header is the nearest thing to it (what a
 * mail program shows as the date anyway); the time of the copy only when that is missing too.
 */
export function internalDateOf(text: string | undefined, bytes: MessageBytes): Date {
  const d = text === undefined ? null : new Date(text);
  if (d && !Number.isNaN(d.getTime())) return d;
  return summarizeHeaders(bytes).date ?? new Date();
}

export function sourceId(ep: ImapEndpoint): string {
  return `${ep.user.trim().toLowerCase()}@${ep.host.toLowerCase()}:${ep.port}`;
}

export async function runMigration(o: MigrationOptions): Promise<MigrationReport> {
  const started = o.startedAt ?? performance.now();
  const emit = (e: MigrationEvent) => o.onEvent?.(e);
  const connections = Math.max(1, Math.floor(o.connections ?? 4));
  const batchMessages = o.batchMessages ?? 100;
  // Small enough that memory stays flat (a few chunks in flight per connection), large enough that a
  // transaction carries many messages.
  const batchBytes = o.batchBytes ?? 4 * 1024 * 1024;
  const report: MigrationReport = {
    folders: [],
    totals: { sourceMessages: 0, copied: 0, alreadyPresent: 0, failed: 0, bytes: 0 },
    verified: false,
    seconds: 0,
    state: "preparing",
    stats: { bodiesFetched: 0, bytesFetched: 0, flagsUpdated: 0, removed: 0, connections: 0 },
  };
  const setState = (state: MigrationState, error?: { code: string; message: string }) => {
    report.state = state;
    if (error) report.error = error;
    emit({ type: "state", state, label: STATE_LABELS[state], ...(error ? { error } : {}) });
  };
  /** The copy workers' connections (body-connection.ts). */
  const bodies: SourceConnection[] = [];
  /** The thread that holds them (source-thread.ts): started ahead by `domicilio migrate`, or here. */
  let thread: SourceThread | null = o.early?.thread ?? null;
  const sessions: TargetSession[] = [];
  let releaseLock: (() => Promise<void>) | null = null;
  /** The copy workers' other connections while they log in: settled before the end. */
  let pendingSpares: Promise<SourceConnection | null>[] = [];
  /** The thread's preparation while it runs: settled before the end, its connection then closed. */
  let preparing: Promise<Prepared> | null = null;
  setState("preparing");
  try {
    // ---- In preparazione -------------------------------------------------------------------------
    // The source's side (login, LIST, plan, scan of every folder) runs on the source thread; see
    // SourceThread.prepare. Its connection becomes the first copy worker's.
    if (!thread?.alive) thread = new SourceThread();
    const started = o.early ?? thread.prepare(o.source, connections - 1);
    preparing = started.prepared;
    // The copy workers' other connections, logging in beside the preparation: the run's to log out.
    const spares = started.spares.map((p) =>
      p.then((c) => {
        if (c) {
          bodies.push(c);
          report.stats.connections++;
        }
        return c;
      }),
    );
    pendingSpares = spares;
    const prepared = await preparing;
    bodies.push(prepared.scanner);
    report.stats.connections++;
    const source = prepared.source;
    const plan = prepared.plan;
    await o.target.open();
    releaseLock = await o.ledger.lockTarget();
    const openBody = async () => {
      // A thread that ended (it failed to start, or died) is replaced, not asked again.
      if (!thread?.alive) thread = new SourceThread();
      const c = await thread.open(source);
      bodies.push(c);
      report.stats.connections++;
      return c;
    };
    const names = await o.target.resolveNames(plan);
    const prepSession = await o.target.session();
    sessions.push(prepSession);

    const scans = new Map(prepared.scans.map((f) => [f.source, f]));
    const works: FolderWork[] = [];
    for (const p of plan) {
      const target = names.get(p.target) ?? p.target;
      const fr: FolderReport = {
        source: p.source,
        target,
        sourceMessages: 0,
        copied: 0,
        alreadyPresent: 0,
        failed: 0,
        targetMessages: 0,
        verified: true,
      };
      if (p.skipped) fr.skipped = p.skipped;
      report.folders.push(fr);
      if (p.skipped || !p.selectable) continue;
      const found = scans.get(p.source);
      if (!found?.examined) {
        // A folder the server lists but refuses to open: reported, the others are copied.
        fr.verified = false;
        addError(fr, `la cartella non si apre sul vecchio server: ${found?.error ?? "nessuna risposta"}`);
        continue;
      }
      const scan = new Map<number, ScannedMessage>();
      const uidValidity = found.examined.uidValidity;
      for (const m of found.scanned ?? []) scan.set(m.uid, { flags: cleanFlags(m.flags), size: m.size });
      fr.sourceMessages = scan.size;
      works.push({
        plan: p,
        report: fr,
        uidValidity,
        scan,
        rows: new Map(),
        missing: [],
        missingBytes: 0,
        flagChanges: [],
        gone: [],
      });
    }

    // Group by target folder (two source folders may land in one), then reconcile with ledger and box.
    const groups = new Map<string, GroupWork>();
    for (const w of works) {
      const g: GroupWork = groups.get(w.report.target) ?? {
        targetName: w.report.target,
        folders: [],
        orphans: new Map(),
        orphanBytes: 0,
        bytes: 0,
        targetUidValidity: 0,
      };
      g.folders.push(w);
      groups.set(w.report.target, g);
    }
    let needBytes = 0;
    for (const g of groups.values()) {
      const tstate: TargetFolderState | null = await prepSession.listFolder(g.targetName);
      const tByUid = new Map((tstate?.messages ?? []).map((m) => [m.uid, m]));
      g.targetUidValidity = tstate?.uidValidity ?? 0;
      for (const w of g.folders) {
        // RFC 3501 §2.3.1.1: a new UIDVALIDITY means the old UIDs mean nothing; match by content instead.
        await o.ledger.deleteRows(w.plan.source, { notUidValidity: w.uidValidity });
        const rows = await o.ledger.rowsForFolder(w.plan.source);
        const broken: number[] = [];
        for (const r of rows) {
          const present = tstate && r.targetUidValidity === tstate.uidValidity && tByUid.has(r.targetUid);
          if (!present) broken.push(r.uid);
          else w.rows.set(r.uid, r);
        }
        // Rows whose message disappeared from the box (deleted there, or folder recreated): copy again.
        if (broken.length)
          await o.ledger.deleteRows(w.plan.source, { uidValidity: w.uidValidity, uids: broken });
        for (const [uid, m] of w.scan) {
          const r = w.rows.get(uid);
          if (!r) {
            w.missing.push(uid);
            w.missingBytes += m.size;
          } else {
            w.report.alreadyPresent++;
            if (flagsKey(m.flags) !== r.flags)
              w.flagChanges.push({ uid, targetUid: r.targetUid, flags: m.flags });
          }
        }
        for (const r of w.rows.values()) if (!w.scan.has(r.uid)) w.gone.push(r);
        g.bytes += w.missingBytes;
        needBytes += w.missingBytes;
      }
      if (tstate && g.folders.some((w) => w.missing.length > 0)) {
        const claimed = new Set(
          (await o.ledger.rowsForTargetFolder(g.targetName))
            .filter((r) => r.targetUidValidity === tstate.uidValidity)
            .map((r) => r.targetUid),
        );
        // Only a message of the same size can be the same message (RFC822.SIZE is the byte count): the
        // box's own messages (mail that arrived in the new box) are neither read nor counted as free.
        const sizes = new Map<number, number>();
        for (const w of g.folders) {
          for (const uid of w.missing) {
            const size = w.scan.get(uid)!.size;
            sizes.set(size, (sizes.get(size) ?? 0) + 1);
          }
        }
        const unclaimed = tstate.messages.filter(
          (m) => !claimed.has(m.uid) && (m.size === undefined || sizes.has(m.size)),
        );
        const needHash = unclaimed.filter((m) => m.hash === null).map((m) => m.uid);
        const hashes = needHash.length ? await prepSession.hashes(g.targetName, needHash) : new Map();
        for (const m of unclaimed) {
          const h = m.hash ?? hashes.get(m.uid);
          if (!h) continue;
          const list = g.orphans.get(h) ?? [];
          list.push(m.uid);
          g.orphans.set(h, list);
          const left = m.size === undefined ? 0 : (sizes.get(m.size) ?? 0);
          if (left > 0) {
            sizes.set(m.size!, left - 1);
            g.orphanBytes += m.size!;
          }
        }
        needBytes -= g.orphanBytes;
      }
    }
    const free = await o.target.freeBytes();
    if (free !== null && needBytes > free) {
      const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
      throw new MigrationError(
        "QUOTA_TOO_SMALL",
        `Lo spazio libero della nuova casella (${mb(free)}) non basta per i messaggi da copiare ` +
          `(${mb(needBytes)}). Nulla è stato copiato: chiedi al gestore di aumentare lo spazio e riprova.`,
      );
    }

    // ---- Copia in corso ---------------------------------------------------------------------------
    setState("copying");
    await o.target.ensureFolders(plan);
    const messagesTotal = works.reduce((s, w) => s + w.missing.length, 0);
    const bytesTotal = needBytes + [...groups.values()].reduce((s, g) => s + g.orphanBytes, 0);
    let messagesDone = 0;
    let bytesDone = 0;
    const progress = (folder: string) =>
      emit({ type: "progress", folder, messagesDone, messagesTotal, bytesDone, bytesTotal });
    let fatal: unknown = null;

    // Flags changed at the source since the last run (replaced on the target, grouped by value), and,
    // with --mirror, deletions. Cheap metadata operations, done before the bodies.
    for (const g of groups.values()) {
      for (const w of g.folders) {
        const byFlags = new Map<string, { uids: number[]; targetUids: number[]; flags: string[] }>();
        for (const c of w.flagChanges) {
          const k = flagsKey(c.flags);
          const e = byFlags.get(k) ?? { uids: [], targetUids: [], flags: c.flags };
          e.uids.push(c.uid);
          e.targetUids.push(c.targetUid);
          byFlags.set(k, e);
        }
        for (const [k, e] of byFlags) {
          await prepSession.setFlags(g.targetName, e.targetUids, e.flags);
          await o.ledger.setFlags(
            w.plan.source,
            w.uidValidity,
            e.uids.map((uid) => ({ uid, flags: k })),
          );
          for (const uid of e.uids) w.rows.get(uid)!.flags = k;
          report.stats.flagsUpdated += e.uids.length;
        }
        if (o.mirror && w.gone.length) {
          await prepSession.remove(
            g.targetName,
            w.gone.map((r) => r.targetUid),
          );
          await o.ledger.deleteRows(w.plan.source, {
            uidValidity: w.uidValidity,
            uids: w.gone.map((r) => r.uid),
          });
          report.stats.removed += w.gone.length;
        }
      }
    }

    // The missing messages in chunks (by count and by the sizes the scan reported), largest folders
    // first. Several connections fetch chunks at once — several of the same folder too — but a folder's
    // chunks take their UIDs in order, so the box keeps the source's order: a chunk appends once the
    // previous one's rows are written. Its commit then lands after that one's in the WAL (a crash keeps
    // a prefix of them), and both become durable with the same fsync.
    interface Chunk {
      g: GroupWork;
      w: FolderWork;
      uids: number[];
      /**
       * Resolves when the previous chunk of the same folder holds its UIDs (its rows are written; its
       * commit may still be on its way to the disk) or is abandoned.
       */
      previous: Promise<void>;
      /** This chunk holds its UIDs, or never will: the folder's next chunk may append. Idempotent. */
      done: () => void;
    }
    const chunks: Chunk[] = [];
    for (const g of [...groups.values()].sort((a, b) => b.bytes - a.bytes)) {
      for (const w of g.folders) {
        let previous: Promise<void> = Promise.resolve();
        let cur: number[] = [];
        let bytes = 0;
        const push = () => {
          let done!: () => void;
          const committed = new Promise<void>((r) => {
            done = r;
          });
          chunks.push({ g, w, uids: cur, previous, done });
          previous = committed;
          cur = [];
          bytes = 0;
        };
        for (const uid of [...w.missing].sort((a, b) => a - b)) {
          cur.push(uid);
          bytes += w.scan.get(uid)?.size ?? 0;
          if (cur.length >= batchMessages || bytes >= batchBytes) push();
        }
        if (cur.length) push();
      }
    }

    interface Fetched {
      uid: number;
      /** sha-256 of the bytes, from the source thread; the store names the blob by it. */
      hash: string;
      item: AppendItem;
      /** Set when an unclaimed target message with the same bytes is there already (ledger.ts). */
      claimTargetUid?: number;
    }

    const worker = async (first: Promise<SourceConnection | null>, index: number) => {
      let conn: SourceConnection | null = await first;
      // A spare that could not log in (a server that allows fewer sessions than --connections, one per
      // box say) leaves its share to the others; the first worker always copies, on a new connection if
      // its own is gone, so whatever the server allows, everything is copied.
      if (!conn && index > 0) return;
      let ts: TargetSession | null = null;
      let selected: FolderWork | null = null;
      const examine = async (w: FolderWork) => {
        selected = null;
        let opened: { uidValidity: number };
        try {
          opened = await conn!.examine(w.plan.source, w.plan.wire);
        } catch (err) {
          if (!conn!.usable) throw err;
          // The server's NO: the folder was deleted or renamed at the source since the scan.
          throw new MigrationError(
            "SOURCE_CHANGED",
            `la cartella ${w.plan.source} non si apre più sul vecchio server (${(err as Error).message})`,
          );
        }
        if (opened.uidValidity !== w.uidValidity) {
          throw new MigrationError(
            "SOURCE_CHANGED",
            `UIDVALIDITY di ${w.plan.source} cambiata durante la copia`,
          );
        }
        selected = w;
      };
      // A server that drops the connection on a message it cannot read (Dovecot does) costs one
      // reconnection, not the copy. The old connection is closed first (a server at its connection
      // limit would refuse the new one beside it), and a refused login is tried twice more.
      const reconnect = async (w: FolderWork) => {
        selected = null;
        await conn!.close();
        for (let attempt = 0; ; attempt++) {
          try {
            conn = await openBody();
            break;
          } catch (err) {
            if (attempt >= 2) throw err;
            await new Promise((r) => setTimeout(r, 250 * 4 ** attempt));
          }
        }
        await examine(w);
      };
      // A connection that sat idle (opened during the scan) may have been dropped by the server or a
      // NAT box meanwhile: one reconnection, as for a message it could not read.
      const select = async (w: FolderWork) => {
        if (selected === w) return;
        try {
          await examine(w);
        } catch (err) {
          if (err instanceof MigrationError || conn!.usable) throw err;
          await reconnect(w);
        }
      };

      const fetchChunk = async (c: Chunk): Promise<Fetched[]> => {
        const { w, g } = c;
        const fr = w.report;
        const out: Fetched[] = [];
        const received = new Set<number>();
        // Only the chunk's UIDs: an answer for any other (a server's unsolicited FETCH carrying a
        // body would be odd, but it must not become a message of this chunk).
        const wanted = new Set(c.uids);
        const accept = (m: SourceMessage) => {
          // The socket's chunks as they came, never joined here, with the sha-256 the source thread
          // computed (message-bytes.ts): the store names the blob by it.
          const bytes = m.bytes;
          const size = bytes.size;
          received.add(m.uid);
          report.stats.bodiesFetched++;
          report.stats.bytesFetched += size;
          const hash = bytes.sha256;
          const flags = cleanFlags(m.flags ?? w.scan.get(m.uid)?.flags);
          const f: Fetched = {
            uid: m.uid,
            hash,
            item: { bytes, size, flags, internalDate: internalDateOf(m.internalDate, bytes) },
          };
          const pool = hash ? g.orphans.get(hash) : undefined;
          if (pool && pool.length > 0) f.claimTargetUid = pool.shift()!;
          out.push(f);
        };
        try {
          await conn!.fetchBodies(uidSet(c.uids), (m) => {
            if (!received.has(m.uid) && wanted.has(m.uid)) accept(m);
          });
        } catch (err) {
          if (err instanceof MigrationError) throw err;
          // Whatever the batch did not deliver is asked for one by one below.
          if (!conn!.usable) await reconnect(w);
        }
        // One broken message must not stop the rest: ask for each missing one alone; what still fails
        // is reported per message and the copy goes on.
        for (const uid of c.uids) {
          if (received.has(uid)) continue;
          let reason = "il server non ha restituito il messaggio";
          try {
            await conn!.fetchBodies(String(uid), (m) => {
              if (m.uid === uid && !received.has(uid)) accept(m);
            });
            if (received.has(uid)) continue;
          } catch (err) {
            reason = `il server non riesce a leggere il messaggio (${(err as Error).message ?? err})`;
            if (!conn!.usable) await reconnect(w);
          }
          fr.failed++;
          messagesDone++;
          addError(fr, `UID ${uid}: ${reason}`);
          emit({ type: "message-failed", folder: fr.source, uid, reason });
        }
        out.sort((a, b) => a.uid - b.uid);
        return out;
      };

      const commit = async (
        c: Chunk,
        fetched: Fetched[],
        toAppend: Fetched[],
        staged: Promise<Staged> | null,
      ) => {
        const { w, g } = c;
        const fr = w.report;
        const claimed = fetched.filter((f) => f.claimTargetUid !== undefined);
        const row = (f: Fetched, targetUidValidity: number, targetUid: number): LedgerRow => ({
          folder: w.plan.source,
          uidValidity: w.uidValidity,
          uid: f.uid,
          hash: f.hash,
          size: f.item.size,
          flags: flagsKey(f.item.flags),
          targetFolder: g.targetName,
          targetUidValidity,
          targetUid,
        });
        const rows: LedgerRow[] = [];
        for (const f of claimed) {
          // Already in the box from a run killed before its ledger commit: claim it, do not copy again.
          await ts!.setFlags(g.targetName, [f.claimTargetUid!], f.item.flags);
          rows.push(row(f, g.targetUidValidity, f.claimTargetUid!));
        }
        if (toAppend.length) {
          const items = toAppend.map((f) => f.item);
          // The folder's next chunk appends as soon as this one's rows are written: their commits
          // share WAL fsyncs instead of waiting for each other's.
          const res = await ts!.append(g.targetName, items, staged ? await staged : undefined, c.done);
          toAppend.forEach((f, i) => {
            rows.push(row(f, res.uidValidity, res.uids[i]!));
          });
        }
        // After the target committed (ledger.ts: a crash here leaves orphans the next run claims).
        await o.ledger.insert(rows);
        for (const r of rows) w.rows.set(r.uid, r);
        const b = fetched.reduce((s, f) => s + f.item.size, 0);
        fr.copied += toAppend.length;
        fr.alreadyPresent += claimed.length;
        report.totals.bytes += toAppend.reduce((s, f) => s + f.item.size, 0);
        messagesDone += fetched.length;
        bytesDone += b;
        progress(fr.source);
      };

      try {
        while (!fatal) {
          const c = chunks.shift();
          if (!c) break;
          try {
            conn ??= await openBody();
            if (!ts) {
              ts = await o.target.session();
              sessions.push(ts);
            }
            let fetched: Fetched[] = [];
            try {
              await select(c.w);
              fetched = await fetchChunk(c);
            } catch (err) {
              if (!(err instanceof MigrationError && err.code === "SOURCE_CHANGED")) throw err;
              c.w.report.failed += c.uids.length;
              messagesDone += c.uids.length;
              addError(c.w.report, `${(err as Error).message}: rilancia la copia`);
            }
            // The bytes go into the box now (stage: a Domicilio box writes the large ones as files), while
            // the chunks before this one commit; only the rows wait for the folder's order. Claimed
            // messages are in the box already. A worker holds one chunk at a time: letting it fetch the
            // next one meanwhile bought no speed once small messages rode in the commit, and cost memory.
            const toAppend = fetched.filter((f) => f.claimTargetUid === undefined);
            const staged = toAppend.length && ts.stage ? ts.stage(toAppend.map((f) => f.item)) : null;
            staged?.catch(() => {}); // awaited by commit; a failure there is the chunk's
            await c.previous;
            if (fatal) {
              await staged?.catch(() => {}); // no write outlives the run
              break;
            }
            if (fetched.length) await commit(c, fetched, toAppend, staged);
          } catch (err) {
            fatal ??= err;
          } finally {
            c.done();
          }
        }
      } finally {
        selected = null;
      }
    };

    const parallel = Math.max(1, Math.min(connections, chunks.length));
    // The scanner's connection is the first worker's.
    const firstBody = Promise.resolve(prepared.scanner.usable ? prepared.scanner : null);
    await Promise.all(
      Array.from({ length: parallel }, (_, i) =>
        worker(i === 0 ? firstBody : (spares[i - 1] ?? Promise.resolve(null)), i),
      ),
    );
    // Chunks nobody took after a fatal error must not leave waiters behind.
    for (const c of chunks) c.done();
    if (fatal) throw fatal;

    // ---- Verifica ---------------------------------------------------------------------------------
    for (const g of groups.values()) {
      const tstate = await prepSession.listFolder(g.targetName);
      const tByUid = new Map((tstate?.messages ?? []).map((m) => [m.uid, m]));
      for (const w of g.folders) {
        const fr = w.report;
        fr.targetMessages = tstate?.messages.length ?? 0;
        let ok = fr.failed === 0 && !!tstate;
        const problems: string[] = [];
        for (const [uid, m] of w.scan) {
          const r = w.rows.get(uid);
          const t = r ? tByUid.get(r.targetUid) : undefined;
          if (!r || !t || r.targetUidValidity !== tstate!.uidValidity) {
            if (!fr.errors?.some((e) => e.startsWith(`UID ${uid}:`))) problems.push(`UID ${uid}: assente`);
            ok = false;
          } else if (t.hash !== null && t.hash !== r.hash) {
            problems.push(`UID ${uid}: contenuto diverso`);
            ok = false;
          } else if (flagsKey(t.flags) !== flagsKey(m.flags)) {
            problems.push(`UID ${uid}: flag diversi`);
            ok = false;
          }
        }
        if (problems.length) addError(fr, ...problems.slice(0, 20));
        fr.verified = ok;
        emit({ type: "folder", report: fr });
      }
    }

    // Folders with nothing to verify (not selectable, skipped) count as verified.
    for (const fr of report.folders) {
      report.totals.sourceMessages += fr.sourceMessages;
      report.totals.copied += fr.copied;
      report.totals.alreadyPresent += fr.alreadyPresent;
      report.totals.failed += fr.failed;
    }
    report.verified = report.folders.every((f) => f.verified);
    if (report.verified) setState("copied");
    else {
      setState("error", {
        code: "NOT_VERIFIED",
        message: `${report.totals.failed} messaggi non copiati o non verificati: rilancia la copia; i messaggi già copiati non saranno duplicati.`,
      });
    }
  } catch (err) {
    const e =
      err instanceof MigrationError
        ? err
        : (err as { code?: string })?.code === "OVER_QUOTA"
          ? new MigrationError(
              "QUOTA_TOO_SMALL",
              "La nuova casella è piena: chiedi al gestore più spazio e riprova.",
            )
          : classifyConnectError(
              err,
              `${o.source.host}:${o.source.port}`,
              presetForHost(o.source.host)?.loginHint,
            );
    for (const fr of report.folders) {
      report.totals.sourceMessages += fr.sourceMessages;
      report.totals.copied += fr.copied;
      report.totals.alreadyPresent += fr.alreadyPresent;
      report.totals.failed += fr.failed;
    }
    report.verified = false;
    setState("error", { code: e.code, message: e.message });
  } finally {
    // A connection still opening would outlive the run.
    await Promise.allSettled([...pendingSpares, preparing]);
    // Side by side: each LOGOUT is a round trip to a server that may be far away.
    await Promise.all(sessions.map((s) => s.release().catch(() => {})));
    await Promise.all(bodies.map((b) => b.logout()));
    // (assigned in openBody, which TypeScript does not follow)
    await (thread as SourceThread | null)?.close();
    await o.target.close().catch(() => {});
    await releaseLock?.().catch(() => {});
  }
  report.seconds = (performance.now() - started) / 1000;
  return report;
}
