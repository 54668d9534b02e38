// Typed SMTP errors (architecture.md "Style" 4): a reply code, an enhanced status code (RFC 3463) and a
// short English text that names no internal detail. The catalogue below is every refusal our listeners
// give; handlers throw these and smtp-server writes them.
export class SmtpReplyError extends Error {
  override name = "SmtpReplyError";
  readonly responseCode: number;
  constructor(
    code: number,
    readonly enhanced: string,
    readonly text: string,
  ) {
    // smtp-server writes `message` after the code; the enhanced code travels in front of the text and is
    // moved into its place by enhanced-codes.ts.
    super(`${enhanced} ${text}`);
    this.responseCode = code;
  }
}

const e = (code: number, enhanced: string, text: string) => () => new SmtpReplyError(code, enhanced, text);

/** The catalogue of refusals (RFC 5321 §4.2.2 codes, RFC 3463 enhanced codes). */
export const SMTP_ERRORS = {
  encryptionRequired: e(538, "5.7.11", "Encryption required for requested authentication mechanism"),
  authFailed: e(535, "5.7.8", "Authentication credentials invalid"),
  authRequired: e(530, "5.7.0", "Authentication required"),
  tempAuthFailure: e(454, "4.7.0", "Temporary authentication failure"),
  senderNotOwned: e(553, "5.7.1", "Sender address does not belong to the authenticated box"),
  relayDenied: e(554, "5.7.1", "Relay access denied"),
  badRecipient: e(501, "5.1.3", "Bad recipient address syntax"),
  tooManyRecipients: e(452, "4.5.3", "Too many recipients"),
  tooBig: e(552, "5.3.4", "Message size exceeds fixed maximum message size"),
  tooBigForRecipients: e(552, "5.3.4", "Message size times recipients exceeds the limit"),
  rateLimited: e(451, "4.7.1", "Too many messages, try again later"),
  ordinaryRefused: e(550, "5.7.1", "This certified mailbox does not accept ordinary mail"),
  noSuchUser: e(550, "5.1.1", "No such user here"),
  virus: e(554, "5.7.1", "Message refused: a virus was found"),
  localError: e(451, "4.3.0", "Local error in processing, try again later"),
  nullSenderSubmission: e(553, "5.1.7", "A certified message needs a sender address"),
} as const;
