// Every limit the PEC reader applies to untrusted input, in one place. They bound memory and time on
// hostile messages (see test/pec/fuzz.test.ts); each is far above what any real provider sends.

/** Whole message. The law's minimum is 30 MB for a message times its recipients (DM 2/11/2005 art. 10). */
export const MAX_MESSAGE_BYTES = 100 * 1024 * 1024;
/** One header block (all fields of one entity, folded lines included). */
export const MAX_HEADER_BLOCK_BYTES = 512 * 1024;
/** Header fields in one entity. */
export const MAX_HEADER_FIELDS = 2000;
/** multipart nesting below the root: real PEC is 3 deep, a list wrapper adds 1. */
export const MAX_MIME_DEPTH = 24;
/** Entities in one message, counted across every level the reader walks. */
export const MAX_MIME_PARTS = 5000;
/** daticert.xml after transfer decoding: a few KB in practice, one line per recipient. */
export const MAX_DATICERT_BYTES = 4 * 1024 * 1024;
/** Recipients listed in one daticert. */
export const MAX_DATICERT_RECIPIENTS = 50_000;
/** smime.p7s after decoding: signer certificate, chain and signature. */
export const MAX_SIGNATURE_BYTES = 1024 * 1024;
