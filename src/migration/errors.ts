// Errors a person can act on. Every code has an exit status (the CLI) and a message in plain Italian that
// says what to do; `detail` keeps the technical cause for logs.
export type MigrationErrorCode =
  | "AUTH_FAILED"
  | "SOURCE_UNREACHABLE"
  | "TLS_UNTRUSTED"
  | "QUOTA_TOO_SMALL"
  | "TARGET_NOT_FOUND"
  | "SOURCE_CHANGED"
  | "INVALID_SOURCE"
  | "ALREADY_RUNNING"
  | "INTERNAL";

export const EXIT_CODES: Record<MigrationErrorCode | "NOT_VERIFIED" | "OK", number> = {
  OK: 0,
  NOT_VERIFIED: 1,
  INVALID_SOURCE: 2,
  AUTH_FAILED: 3,
  SOURCE_UNREACHABLE: 4,
  TLS_UNTRUSTED: 4,
  QUOTA_TOO_SMALL: 5,
  TARGET_NOT_FOUND: 6,
  SOURCE_CHANGED: 1,
  ALREADY_RUNNING: 7,
  INTERNAL: 1,
};

export class MigrationError extends Error {
  override name = "MigrationError";
  constructor(
    readonly code: MigrationErrorCode,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}

const APP_PASSWORD_HINT =
  "Se la vecchia casella usa l'accesso in due passaggi (2FA), la password normale non basta: crea una " +
  "«password per le app» dal pannello del vecchio gestore e usa quella.";

interface NetError {
  code?: string;
  authenticationFailed?: boolean;
  responseText?: string;
  serverResponseCode?: string;
  message?: string;
}

/**
 * A login refused for the server's own reasons, not the credentials (RFC 5530 §3): UNAVAILABLE (Dovecot,
 * at its sessions-per-user limit), INUSE, LIMIT. Telling the member the password is wrong would send
 * them the wrong way.
 */
export const BUSY_CODES = new Set(["UNAVAILABLE", "INUSE", "LIMIT"]);

/** The code of a login refused with one of BUSY_CODES (body-connection.ts), read by classifyConnectError. */
export const SERVER_BUSY = "SERVER_BUSY";

/** Turns what imapflow or the socket threw at login into an error a member can act on. */
export function classifyConnectError(err: unknown, where: string, loginHint?: string): MigrationError {
  if (err instanceof MigrationError) return err;
  const e = (err ?? {}) as NetError;
  const detail = [e.code, e.message, e.responseText].filter(Boolean).join(": ");
  if (e.code === SERVER_BUSY) {
    return new MigrationError(
      "SOURCE_UNREACHABLE",
      `Il server ${where} non accetta ora altre connessioni a questa casella (${e.responseText || e.message}). ` +
        "Chiudi i programmi di posta collegati alla vecchia casella (telefono, computer) o riprova più tardi.",
      detail,
    );
  }
  if (e.authenticationFailed || e.serverResponseCode === "AUTHENTICATIONFAILED") {
    return new MigrationError(
      "AUTH_FAILED",
      `Accesso rifiutato da ${where}: indirizzo o password della vecchia casella non corretti. ` +
        `Controlla che non ci siano spazi in più. ${loginHint ?? APP_PASSWORD_HINT}`,
      detail,
    );
  }
  const code = e.code ?? "";
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME/.test(code)) {
    return new MigrationError(
      "TLS_UNTRUSTED",
      `Il certificato TLS di ${where} non è attendibile (${code}). Se il server è tuo e usa un certificato ` +
        "autofirmato, riprova con --insecure-tls.",
      detail,
    );
  }
  if (
    /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ETIMEOUT|EHOSTUNREACH|ENETUNREACH|ECONNRESET|EPIPE|NoConnection|CONNECT_TIMEOUT|GREETING_TIMEOUT/i.test(
      code,
    ) ||
    /timeout|closed/i.test(e.message ?? "")
  ) {
    return new MigrationError(
      "SOURCE_UNREACHABLE",
      `Il server ${where} non risponde (${code || e.message}). Controlla il nome del server e la porta ` +
        "(di solito 993), e la connessione a Internet.",
      detail,
    );
  }
  return new MigrationError("INTERNAL", `Errore inatteso con ${where}: ${e.message ?? String(err)}`, detail);
}
