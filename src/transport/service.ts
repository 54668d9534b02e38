// The PEC service of one process: the SMTP handlers of the access point (submission) and of the incoming
// point (MX), and the queue worker behind them. An SMTP 250 is answered only after a durable commit
// (architecture.md "Data that must never be wrong"): of the whole acceptance when the access point could
// do it in the session, of the message and its job otherwise. Everything the rules require afterwards is
// done by jobs, so a crash delays it and never loses or doubles it.
import { randomBytes } from "node:crypto";
import { parseAddress } from "../accounts/addresses.js";
import { verifyPassword } from "../accounts/passwords.js";
import type { LoadedConfig } from "../config/load.js";
import { BuildThread } from "../pec/build-thread.js";
import type { BuildContext } from "../pec/builders.js";
import { newIdentificativo } from "../pec/identificativo.js";
import { ensureProviderKeys, ownProviderEntry } from "../pec/provider-keys.js";
import { ProvidersIndex } from "../pec/providers-index.js";
import { pooledRandomBytes } from "../pec/random-pool.js";
import { type MxResolver, SmtpSender } from "../smtp/client.js";
import { SMTP_ERRORS } from "../smtp/errors.js";
import { parseRoutes } from "../smtp/routes.js";
import type { SmtpEnvelope, SmtpHandlers } from "../smtp/server.js";
import type { SqlMailStore, StagedBlobs } from "../store/sql-mail-store.js";
import type { NewJob } from "../store/transport-store.js";
import { acceptNow, type SubmitPayload } from "./access-point.js";
import { ClamdScanner, type Scanner } from "./antivirus.js";
import { type Clock, clockFromEnv } from "./clock.js";
import { isLocal, isSystem, type ServiceContext } from "./context.js";
import { mxAccepts, takesOrdinaryMail } from "./incoming-point.js";
import { Worker } from "./worker.js";

export interface PecServiceOptions {
  clock?: Clock;
  resolveMx?: MxResolver;
  scanner?: Scanner | null;
  env?: NodeJS.ProcessEnv;
  warn?: (message: string, err?: unknown) => void;
}

const HOSTED_REFRESH_MS = 10_000;

export class PecService {
  readonly svc: ServiceContext;
  readonly worker: Worker;
  private hostedSet: Set<string>;
  private hostedAt = 0;
  private readonly rate = new Map<string, { minute: number; n: number }>();

  private constructor(svc: ServiceContext, hosted: Set<string>) {
    this.svc = svc;
    this.hostedSet = hosted;
    this.worker = new Worker(svc);
  }

  static async create(loaded: LoadedConfig, store: SqlMailStore, options: PecServiceOptions = {}) {
    const { config, dataDir } = loaded;
    const env = options.env ?? process.env;
    const clock = options.clock ?? clockFromEnv(env);
    const keys = await ensureProviderKeys(dataDir, config.provider);
    const index = ProvidersIndex.open(dataDir, [ownProviderEntry(config.provider, keys)], {
      checkEveryMs: 1000,
    });
    const warn =
      options.warn ??
      ((message: string, err?: unknown) =>
        console.error(`pec: ${message}${err ? `: ${(err as Error)?.stack ?? String(err)}` : ""}`));
    const hosted = new Set([
      config.provider.domain,
      ...config.provider.domains,
      ...(await store.listDomains()),
    ]);
    const scanner =
      options.scanner !== undefined
        ? options.scanner
        : config.antivirus.clamdSocket
          ? new ClamdScanner(config.antivirus.clamdSocket)
          : null;
    let self: PecService | null = null;
    const build: BuildContext = {
      provider: { name: config.provider.name, domain: config.provider.domain },
      signer: keys.signer,
      now: clock,
      random: pooledRandomBytes(),
    };
    const svc: ServiceContext = {
      store,
      ts: store.transport(),
      index,
      build,
      builds: new BuildThread(build, warn),
      keys,
      config,
      clock,
      sender: new SmtpSender({
        routes: parseRoutes(env.DOMICILIO_ROUTES),
        ...(options.resolveMx ? { resolveMx: options.resolveMx } : {}),
        name: config.smtp.hostname || config.provider.domain,
      }),
      scanner,
      hosted: () => self!.hosted(),
      systemAddress: `posta-certificata@${config.provider.domain}`.toLowerCase(),
      wake: () => self?.worker.wake(),
      warn,
    };
    self = new PecService(svc, hosted);
    return self;
  }

  private hosted(): Set<string> {
    const now = Date.now();
    if (now - this.hostedAt > HOSTED_REFRESH_MS) {
      this.hostedAt = now;
      this.svc.store
        .listDomains()
        .then((d) => {
          const c = this.svc.config.provider;
          this.hostedSet = new Set([c.domain, ...c.domains, ...d].map((x) => x.toLowerCase()));
        })
        .catch(() => undefined);
    }
    return this.hostedSet;
  }

  async start(): Promise<void> {
    // SQLite is one node: a lease held before a crash belongs to nobody now.
    if (this.svc.store.backend === "sqlite") await this.svc.ts.releaseAll();
    this.worker.start();
  }

  async stop(): Promise<void> {
    await this.worker.stop();
    this.svc.sender.close();
    await this.svc.builds.close();
  }

  /** Bytes durable, then the job committed: only then may SMTP say 250. */
  private async queue(
    kind: "submit" | "incoming",
    raw: Buffer,
    payload: Record<string, unknown>,
    key: string,
  ) {
    // A large message is a durable file now; a small one is written with its job, in the same commit.
    const { refs, write } = await this.svc.store.stageBlobs([raw]);
    await new Promise<void>((resolve, reject) => {
      this.pending.push({
        job: { kind, key, payload: { ...payload, blobId: refs[0]!.id }, runAt: 0 },
        write,
        resolve,
        reject,
      });
      if (!this.flushing) void this.flush();
    });
    this.svc.wake();
  }

  private pending: {
    job: NewJob;
    write: StagedBlobs["write"];
    resolve: () => void;
    reject: (err: unknown) => void;
  }[] = [];
  private flushing = false;

  /**
   * Group commit: the messages of every SMTP session that finished DATA while the previous commit ran
   * are committed together, so concurrent submissions share one fsync; each session still hears 250
   * only after the commit that holds its job.
   */
  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        const now = this.svc.clock().getTime();
        try {
          await this.svc.ts.transaction(async (trx) => {
            for (const b of batch) await b.write(trx);
            await this.svc.ts.enqueue(
              trx,
              batch.map((b) => ({ ...b.job, runAt: now })),
              now,
            );
          });
          for (const b of batch) b.resolve();
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /**
   * The access point in the session (access-point.ts acceptNow); false sends the message to the queue.
   * An error before the commit also falls back to the queue, which retries for ever. An error after it
   * (the commit written, its fsync failed) must not: the same submission would be accepted twice, so the
   * session is answered 451 and the message, already in the database, is at most once.
   */
  private async acceptNow(payload: Omit<SubmitPayload, "blobId">, raw: Buffer): Promise<boolean> {
    try {
      return await acceptNow(this.svc, payload, raw);
    } catch (err) {
      if (await this.svc.ts.getTransaction(payload.identificativo).catch(() => true)) throw err;
      this.svc.warn(`submission ${payload.identificativo} goes to the queue`, err);
      return false;
    }
  }

  /** Submission (587/465): the access point's SMTP side. */
  submissionHandlers(): SmtpHandlers {
    const svc = this.svc;
    return {
      authenticate: async (username, password) => {
        const box = await svc.store.getMailbox(username.trim());
        // One answer for every failure: no hint of which boxes exist or what state they are in.
        if (box?.state !== "active" || !(await verifyPassword(box.passwordHash, password)))
          throw SMTP_ERRORS.authFailed();
        return box.address;
      },
      mailFrom: async (address, env) => {
        if (!address) throw SMTP_ERRORS.nullSenderSubmission();
        // The reverse-path must be the authenticated box (pec-rules.md "Access point").
        if (address.trim().toLowerCase() !== env.user) throw SMTP_ERRORS.senderNotOwned();
        const minute = Math.floor(Date.now() / 60_000);
        const r = this.rate.get(env.user);
        const n = r && r.minute === minute ? r.n + 1 : 1;
        if (n > svc.config.smtp.submissionsPerMinute) throw SMTP_ERRORS.rateLimited();
        this.rate.set(env.user, { minute, n });
      },
      rcptTo: async (address) => {
        if (!parseAddress(address)) throw SMTP_ERRORS.badRecipient();
      },
      data: async (raw, env: SmtpEnvelope) => {
        if (!env.user) throw SMTP_ERRORS.authRequired(); // the listener asks for AUTH before MAIL already
        const identificativo = newIdentificativo(svc.build.provider.domain, svc.clock(), svc.build.random);
        const payload = { identificativo, mailFrom: env.mailFrom, rcptTo: env.rcptTo, user: env.user };
        if (await this.acceptNow(payload, raw)) return `Ok: accepted as ${identificativo}`;
        await this.queue("submit", raw, payload, `submit:${identificativo}`);
        return `Ok: queued as ${identificativo}`;
      },
      onError: (err) => svc.warn("submission", err),
    };
  }

  /** MX (25): the incoming point's SMTP side. */
  mxHandlers(): SmtpHandlers {
    const svc = this.svc;
    return {
      mailFrom: async () => undefined,
      rcptTo: async (address, env) => {
        const parsed = parseAddress(address);
        if (!parsed) throw SMTP_ERRORS.badRecipient();
        if (!isLocal(svc, parsed.address) && !isSystem(svc, parsed.address)) throw SMTP_ERRORS.relayDenied();
        // DATA has one answer for every recipient (RFC 5321 §3.3), and for ordinary mail that answer
        // depends on each box's policy: a box that refuses it beside one that takes it would be dropped
        // without a word. Such a recipient is deferred with 452 4.5.3 (RFC 5321 §4.5.3.1.10), and the
        // sending server brings it in a transaction of its own. Not when the sender is at a provider of
        // the index: that is certified mail, which every box takes, and a sender that wrongly treats a
        // 452 as final would turn the deferral into a non-delivery.
        const first = env.rcptTo[0];
        if (
          first !== undefined &&
          svc.index.classify(env.mailFrom) !== "certificato" &&
          (await takesOrdinaryMail(svc, first)) !== (await takesOrdinaryMail(svc, parsed.address))
        )
          throw SMTP_ERRORS.tooManyRecipients();
      },
      data: async (raw, env) => {
        const rcpts = env.rcptTo.map((r) => r.toLowerCase());
        const { valid, accepted } = await mxAccepts(svc, raw, rcpts);
        if (!valid) {
          if (accepted.length === 0) {
            const anyBox = await Promise.all(rcpts.map((r) => svc.store.getMailbox(r)));
            throw anyBox.some((b) => b) ? SMTP_ERRORS.ordinaryRefused() : SMTP_ERRORS.noSuchUser();
          }
          // Ordinary mail with a virus is refused outright; certified mail goes to the incoming point's
          // virus path (rilevazione virus) in its job.
          if (svc.scanner && (await svc.scanner.scan(raw)).infected) throw SMTP_ERRORS.virus();
        }
        const id = randomBytes(12).toString("hex");
        await this.queue(
          "incoming",
          raw,
          { mailFrom: env.mailFrom, rcptTo: valid ? rcpts : accepted },
          `incoming:${id}`,
        );
        return `Ok: queued as ${id}`;
      },
      onError: (err) => svc.warn("smtp", err),
    };
  }
}
