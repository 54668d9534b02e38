// Outbound SMTP (nodemailer): one pooled transport per destination host:port, the destination found by
// DOMICILIO_ROUTES or by MX lookup through an injected resolver (architecture.md "Inject … DNS").
import { promises as dns } from "node:dns";
import nodemailer, { type Transporter } from "nodemailer";
import type SMTPPool from "nodemailer/lib/smtp-pool";
import { OUTBOUND_POOL_CONNECTIONS, OUTBOUND_POOL_MESSAGES, OUTBOUND_TIMEOUT_MS } from "./limits.js";
import type { Route } from "./routes.js";

export type MxResolver = (domain: string) => Promise<{ exchange: string; priority: number }[]>;

export const systemMx: MxResolver = (domain) => dns.resolveMx(domain);

export interface SendResult {
  /** the server took the message, for every recipient but those below */
  ok: boolean;
  /** recipients refused for good at RCPT (5xx) */
  rejected: string[];
  /** recipients refused for now at RCPT (4xx, e.g. 452 "send the rest later"): to be sent again */
  deferred: string[];
  /** (not ok) a 5xx answer: retrying will not help */
  permanent: boolean;
  response: string;
}

/** Each recipient nodemailer reports refused at RCPT, by the class of its reply (RFC 5321 §4.2.1). */
function refusals(errors: unknown): { rejected: string[]; deferred: string[] } {
  const rejected: string[] = [];
  const deferred: string[] = [];
  for (const e of (errors ?? []) as { recipient?: string; responseCode?: number }[]) {
    if (!e.recipient) continue;
    const list = (e.responseCode ?? 500) < 500 ? deferred : rejected;
    list.push(e.recipient.toLowerCase());
  }
  return { rejected, deferred };
}

export class SmtpSender {
  private readonly pools = new Map<string, Transporter<SMTPPool.SentMessageInfo>>();

  constructor(
    private readonly options: {
      routes: Map<string, Route>;
      resolveMx?: MxResolver;
      /** our name in EHLO */
      name: string;
    },
  ) {}

  async destinations(domain: string): Promise<Route[]> {
    const route = this.options.routes.get(domain.toLowerCase());
    if (route) return [route];
    const mx = await (this.options.resolveMx ?? systemMx)(domain);
    // RFC 5321 §5.1: lowest preference first; no MX → the domain itself.
    if (mx.length === 0) return [{ host: domain, port: 25 }];
    return mx.sort((a, b) => a.priority - b.priority).map((m) => ({ host: m.exchange, port: 25 }));
  }

  private pool(r: Route) {
    const key = `${r.host}:${r.port}`;
    let t = this.pools.get(key);
    if (!t) {
      t = nodemailer.createTransport({
        pool: true,
        host: r.host,
        port: r.port,
        secure: false,
        name: this.options.name,
        maxConnections: OUTBOUND_POOL_CONNECTIONS,
        maxMessages: OUTBOUND_POOL_MESSAGES,
        connectionTimeout: OUTBOUND_TIMEOUT_MS,
        greetingTimeout: OUTBOUND_TIMEOUT_MS,
        socketTimeout: OUTBOUND_TIMEOUT_MS,
        // Opportunistic STARTTLS between MTAs (RFC 3207): certificates of MX hosts are rarely verifiable.
        tls: { rejectUnauthorized: false },
      });
      this.pools.set(key, t);
    }
    return t;
  }

  /** Sends `raw` unchanged to every recipient (all of one domain) with the given reverse-path. */
  async send(domain: string, envelope: { from: string; to: string[] }, raw: Buffer): Promise<SendResult> {
    let routes: Route[];
    try {
      routes = await this.destinations(domain);
    } catch (err) {
      const code = (err as { code?: string }).code;
      const permanent = code === "ENOTFOUND" || code === "ENODATA";
      return {
        ok: false,
        rejected: [],
        deferred: [],
        permanent,
        response: `no route to ${domain}: ${code ?? (err as Error).message}`,
      };
    }
    let last: SendResult = {
      ok: false,
      rejected: [],
      deferred: [],
      permanent: false,
      response: "no destination",
    };
    for (const r of routes) {
      try {
        const info = await this.pool(r).sendMail({ envelope, raw });
        const { rejected, deferred } = refusals((info as { rejectedErrors?: unknown }).rejectedErrors);
        // A refusal nodemailer lists without its reply counts as permanent, as before.
        for (const x of info.rejected as (string | { address: string })[]) {
          const a = (typeof x === "string" ? x : x.address).toLowerCase();
          if (!rejected.includes(a) && !deferred.includes(a)) rejected.push(a);
        }
        return { ok: true, rejected, deferred, permanent: false, response: String(info.response ?? "") };
      } catch (err) {
        const e = err as {
          responseCode?: number;
          response?: string;
          message: string;
          rejectedErrors?: unknown;
        };
        // Every recipient refused at RCPT: each by its own reply, so one deferral does not hold back
        // a refusal for good, nor the other way round. All of them for good: no other host will do
        // better. Some only for now: the next MX host may take them (RFC 5321 §5.1), so it is tried.
        const each = refusals(e.rejectedErrors);
        if (each.rejected.length + each.deferred.length === envelope.to.length) {
          last = { ok: false, ...each, permanent: false, response: e.response ?? e.message };
          if (each.deferred.length === 0) return last;
          continue;
        }
        last = {
          ok: false,
          rejected: [],
          deferred: [],
          permanent: (e.responseCode ?? 0) >= 500,
          response: e.response ?? e.message,
        };
        if (last.permanent) return last;
      }
    }
    return last;
  }

  close(): void {
    for (const t of this.pools.values()) t.close();
    this.pools.clear();
  }
}
