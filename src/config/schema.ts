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
      })
      .strict()
      .default({ path: "blobs", fsync: true })
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
