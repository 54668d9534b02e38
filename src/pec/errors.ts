// Typed errors of the PEC library. Every failure on hostile input ends in one of these, never in a crash:
// callers (SMTP incoming point, IMAP, CLI) map the code to their wire form.

export type PecParseErrorCode =
  | "message-too-large"
  | "header-too-large"
  | "mime-truncated"
  | "mime-too-deep"
  | "mime-too-many-parts"
  | "bad-base64"
  | "xml-invalid"
  | "xml-forbidden"
  | "daticert-invalid"
  | "cms-invalid"
  | "original-invalid";

export class PecParseError extends Error {
  override name = "PecParseError";
  constructor(
    readonly code: PecParseErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export type PecBuildErrorCode = "original-invalid" | "signer-invalid" | "argument-invalid";

export class PecBuildError extends Error {
  override name = "PecBuildError";
  constructor(
    readonly code: PecBuildErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export type ProvidersIndexErrorCode = "index-invalid" | "ldif-invalid" | "certificate-invalid";

export class ProvidersIndexError extends Error {
  override name = "ProvidersIndexError";
  constructor(
    readonly code: ProvidersIndexErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}
