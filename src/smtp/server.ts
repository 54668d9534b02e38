// The SMTP listeners (smtp-server): the MX on 25 for other providers and ordinary senders, submission on
// 587 (STARTTLS) and 465 (implicit TLS) for members. This file speaks SMTP only: what a command means for
// PEC is decided by the handlers the transport layer passes in, which throw SmtpReplyError to refuse.

import type { AddressInfo } from "node:net";
import { isIP } from "node:net";
import { SMTPServer, type SMTPServerSession } from "smtp-server";
import { installEnhancedCodes } from "./enhanced-codes.js";
import { SMTP_ERRORS, SmtpReplyError } from "./errors.js";
import { CLOSE_TIMEOUT_MS, MAX_AUTH_FAILURES, MAX_UNAUTHENTICATED_COMMANDS } from "./limits.js";

export type SmtpRole = "smtp" | "submission" | "submissions";

export interface SmtpEnvelope {
  mailFrom: string;
  rcptTo: string[];
  /** the authenticated box (submission), null on the MX */
  user: string | null;
  remoteAddress: string;
}

export interface SmtpHandlers {
  /** Returns the login name on success; throws SmtpReplyError otherwise. */
  authenticate?(username: string, password: string): Promise<string>;
  mailFrom(address: string, envelope: SmtpEnvelope): Promise<void>;
  rcptTo(address: string, envelope: SmtpEnvelope): Promise<void>;
  /** The whole message; resolves once it is durably stored (the 250 text), or throws SmtpReplyError. */
  data(raw: Buffer, envelope: SmtpEnvelope): Promise<string>;
  onError?(err: unknown): void;
}

export interface SmtpServerOptions {
  role: SmtpRole;
  name: string;
  tls: { key: string; cert: string };
  handlers: SmtpHandlers;
  maxMessageBytes: number;
  maxRecipients: number;
  maxClients: number;
  maxConnectionsPerIp: number;
  socketTimeoutMs: number;
}

export function isLoopback(address: string): boolean {
  const a = address.replace(/^::ffff:/, "");
  return a === "::1" || (isIP(a) === 4 && a.startsWith("127."));
}

function envelopeOf(session: SMTPServerSession): SmtpEnvelope {
  return {
    mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
    rcptTo: session.envelope.rcptTo.map((r) => r.address),
    user: typeof session.user === "string" ? session.user : null,
    remoteAddress: session.remoteAddress,
  };
}

/** Maps any failure to the wire: our typed errors as they are, anything else as a leak-free 451. */
function wire(err: unknown, onError?: (err: unknown) => void): SmtpReplyError {
  if (err instanceof SmtpReplyError) return err;
  onError?.(err);
  return SMTP_ERRORS.localError();
}

export class SmtpListener {
  readonly server: SMTPServer;
  private readonly perIp = new Map<string, number>();
  private readonly authFailures = new Map<string, number>();

  constructor(options: SmtpServerOptions) {
    installEnhancedCodes();
    const { role, handlers } = options;
    const submission = role !== "smtp";
    this.server = new SMTPServer({
      name: options.name,
      banner: "Domicilio PEC ESMTP",
      secure: role === "submissions",
      key: options.tls.key,
      cert: options.tls.cert,
      size: options.maxMessageBytes,
      maxRecipients: options.maxRecipients,
      maxClients: options.maxClients,
      socketTimeout: options.socketTimeoutMs,
      closeTimeout: CLOSE_TIMEOUT_MS,
      authMethods: ["PLAIN", "LOGIN"],
      authOptional: !submission,
      disabledCommands: submission ? [] : ["AUTH"],
      // contract.md: plain-text passwords without TLS only on loopback; checked in onAuth.
      allowInsecureAuth: true,
      maxAllowedUnauthenticatedCommands: submission ? MAX_UNAUTHENTICATED_COMMANDS : false,
      hideDSN: true,
      // RFC 2034: advertise ENHANCEDSTATUSCODES and put one in every reply (smtp-server hides them by default).
      hideENHANCEDSTATUSCODES: false,
      disableReverseLookup: true,
      logger: false,
      onConnect: (session, cb) => {
        const ip = session.remoteAddress;
        const n = (this.perIp.get(ip) ?? 0) + 1;
        if (n > options.maxConnectionsPerIp) {
          return cb(new SmtpReplyError(421, "4.7.0", "Too many connections from your address"));
        }
        this.perIp.set(ip, n);
        cb();
      },
      onClose: (session) => {
        const ip = session.remoteAddress;
        const n = (this.perIp.get(ip) ?? 1) - 1;
        if (n <= 0) this.perIp.delete(ip);
        else this.perIp.set(ip, n);
        this.authFailures.delete(session.id);
      },
      onAuth: (auth, session, cb) => {
        if (!handlers.authenticate) return cb(SMTP_ERRORS.authRequired());
        if (!session.secure && !isLoopback(session.remoteAddress))
          return cb(SMTP_ERRORS.encryptionRequired());
        handlers.authenticate(auth.username ?? "", auth.password ?? "").then(
          (user) => cb(null, { user }),
          (err: unknown) => {
            // A 421 closes the connection (RFC 5321 §3.8): guessing passwords costs a reconnect.
            const n = (this.authFailures.get(session.id) ?? 0) + 1;
            this.authFailures.set(session.id, n);
            if (n >= MAX_AUTH_FAILURES)
              return cb(new SmtpReplyError(421, "4.7.0", "Too many authentication failures"));
            cb(wire(err, handlers.onError));
          },
        );
      },
      onMailFrom: (address, session, cb) => {
        if (submission && !session.user) return cb(SMTP_ERRORS.authRequired());
        handlers.mailFrom(address.address, envelopeOf(session)).then(
          () => cb(),
          (err: unknown) => cb(wire(err, handlers.onError)),
        );
      },
      onRcptTo: (address, session, cb) => {
        handlers.rcptTo(address.address, envelopeOf(session)).then(
          () => cb(),
          (err: unknown) => cb(wire(err, handlers.onError)),
        );
      },
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => {
          if (!stream.sizeExceeded) chunks.push(c);
        });
        stream.on("error", (err: unknown) => cb(wire(err, handlers.onError)));
        stream.on("end", () => {
          if (stream.sizeExceeded) return cb(SMTP_ERRORS.tooBig());
          handlers.data(Buffer.concat(chunks), envelopeOf(session)).then(
            (text) => cb(null, text),
            (err: unknown) => cb(wire(err, handlers.onError)),
          );
        });
      },
    });
    this.server.on("error", (err) => handlers.onError?.(err));
  }

  async listen(port: number, host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.server.once("error", onError);
      this.server.listen(port, host, () => {
        this.server.server.off("error", onError);
        resolve();
      });
    });
    return (this.server.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
