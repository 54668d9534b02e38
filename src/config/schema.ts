// The one typed configuration schema. Every key has a default and a one-line doc (`describe`), which
// `domicilio config docs` prints and docs/configuration.md is generated from. Unknown keys are errors.
import { z } from "zod";

const port = z.number().int().min(0).max(65535);

export const configSchema = z
  .object({
    provider: z
      .object({
        name: z.string().min(1).describe("Provider name as written in receipts (gestore-emittente)."),
        domain: z
          .string()
          .min(1)
          .describe("Provider signing domain: receipts come from posta-certificata@<domain>."),
        domains: z
          .array(z.string().min(1))
          .default([])
          .describe("Mail domains whose boxes this instance hosts."),
      })
      .strict()
      .describe("Who this PEC provider is."),
    database: z
      .object({
        url: z
          .string()
          .default("")
          .describe(
            "postgres://… for PostgreSQL; empty for the embedded SQLite file <data>/domicilio.sqlite.",
          ),
      })
      .strict()
      .default({ url: "" })
      .describe("Metadata database."),
    blobs: z
      .object({
        path: z.string().default("blobs").describe("Folder of message bytes, relative to the data folder."),
        fsync: z
          .boolean()
          .default(true)
          .describe("fsync every blob before it is referenced (keep on in production)."),
        inlineMaxBytes: z
          .number()
          .int()
          .min(0)
          .max(1024 * 1024)
          .default(65536)
          .describe(
            "Messages up to this size are kept in the database, in the same durable commit as their rows, instead of one file each (0: always files).",
          ),
      })
      .strict()
      .default({ path: "blobs", fsync: true, inlineMaxBytes: 65536 })
      .describe("Content-addressed store of message bytes."),
    listen: z
      .object({
        bind: z.string().default("0.0.0.0").describe("Address every listener binds to."),
        http: port.default(8080).describe("HTTP: webmail, console, API, autoconfig, health, metrics."),
        smtp: port.default(25).describe("SMTP MX for other providers and ordinary senders."),
        submission: port.default(587).describe("SMTP submission with STARTTLS."),
        submissions: port.default(465).describe("SMTP submission over implicit TLS."),
        imap: port.default(143).describe("IMAP with STARTTLS."),
        imaps: port.default(993).describe("IMAP over implicit TLS."),
        pop3: port.default(110).describe("POP3 with STLS."),
        pop3s: port.default(995).describe("POP3 over implicit TLS."),
      })
      .strict()
      .default({
        bind: "0.0.0.0",
        http: 8080,
        smtp: 25,
        submission: 587,
        submissions: 465,
        imap: 143,
        imaps: 993,
        pop3: 110,
        pop3s: 995,
      })
      .describe("Listeners (each can be moved by a DOMICILIO_*_PORT variable)."),
    mailbox: z
      .object({
        quotaBytes: z
          .number()
          .int()
          .positive()
          .default(1024 ** 3)
          .describe("Default quota of a new box, in bytes (1 GiB)."),
      })
      .strict()
      .default({ quotaBytes: 1024 ** 3 })
      .describe("Defaults for new boxes."),
    smtp: z
      .object({
        hostname: z
          .string()
          .default("")
          .describe("Name in the SMTP greeting and EHLO; empty: the provider domain."),
        maxMessageBytes: z
          .number()
          .int()
          .positive()
          .default(30 * 1024 * 1024)
          .describe("Largest message accepted on any listener, in bytes (SIZE)."),
        maxRecipients: z
          .number()
          .int()
          .positive()
          .default(500)
          .describe("Recipients per message (the rules ask for at least 50)."),
        maxTotalBytes: z
          .number()
          .int()
          .positive()
          .default(100 * 1024 * 1024)
          .describe("Size × recipients of one submission (the rules ask for at least 30 MB)."),
        maxClients: z.number().int().positive().default(500).describe("Simultaneous SMTP connections."),
        maxConnectionsPerIp: z
          .number()
          .int()
          .positive()
          .default(50)
          .describe("Simultaneous SMTP connections from one address."),
        submissionsPerMinute: z
          .number()
          .int()
          .positive()
          .default(6000)
          .describe("Messages one box may submit per minute; more are answered 451 4.7.1."),
        socketTimeoutSeconds: z
          .number()
          .int()
          .positive()
          .default(120)
          .describe("Idle time before an SMTP connection is closed."),
      })
      .strict()
      .default({
        hostname: "",
        maxMessageBytes: 30 * 1024 * 1024,
        maxRecipients: 500,
        maxTotalBytes: 100 * 1024 * 1024,
        maxClients: 500,
        maxConnectionsPerIp: 50,
        submissionsPerMinute: 6000,
        socketTimeoutSeconds: 120,
      })
      .describe("SMTP listeners: MX (smtp), submission and submissions."),
    pec: z
      .object({
        preavvisoHours: z
          .number()
          .positive()
          .default(12)
          .describe("Hours without presa in carico or delivery receipt before the preavviso."),
        finalHours: z
          .number()
          .min(22)
          .max(24)
          .default(23)
          .describe("Hours without delivery receipt before the final non-delivery notice (22 to 24)."),
        workers: z
          .number()
          .int()
          .positive()
          .default(16)
          .describe("Jobs of the PEC queue processed at once by this process."),
        retryMaxMinutes: z
          .number()
          .positive()
          .default(30)
          .describe("Longest wait between two attempts to send to another server."),
        giveUpHours: z
          .number()
          .positive()
          .default(48)
          .describe("Hours after which sending to another server is abandoned."),
        checkpointEvery: z
          .number()
          .int()
          .positive()
          .default(1000)
          .describe("Registro entries between two signed checkpoints of the chain head."),
        logRetentionMonths: z
          .number()
          .int()
          .min(30)
          .default(30)
          .describe("Months the registro and messages kept apart (virus) are kept."),
      })
      .strict()
      .default({
        preavvisoHours: 12,
        finalHours: 23,
        workers: 16,
        retryMaxMinutes: 30,
        giveUpHours: 48,
        checkpointEvery: 1000,
        logRetentionMonths: 30,
      })
      .describe("The PEC service: timers, queue, registro."),
    antivirus: z
      .object({
        clamdSocket: z
          .string()
          .default("")
          .describe("clamd unix socket (or host:port) to scan every message; empty: no scanning."),
      })
      .strict()
      .default({ clamdSocket: "" })
      .describe("Virus scanning (ClamAV's clamd)."),
    notify: z
      .object({
        relay: z
          .string()
          .default("")
          .describe("host:port of the SMTP relay for new-mail notifications; empty: not sent."),
        from: z.string().default("").describe("From of notifications; empty: no-reply@<provider domain>."),
        intervalMinutes: z
          .number()
          .positive()
          .default(15)
          .describe("At most one notification per box in this many minutes."),
      })
      .strict()
      .default({ relay: "", from: "", intervalMinutes: 15 })
      .describe("New-message notifications to the member's ordinary address."),
    log: z
      .object({
        level: z
          .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
          .default("info")
          .describe("Log level (pino)."),
      })
      .strict()
      .default({ level: "info" })
      .describe("Logging."),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
