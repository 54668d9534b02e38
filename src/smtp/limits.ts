// Every limit of the SMTP listeners in one place (architecture.md "Style" 3). The configurable ones come
// from the `smtp` section of the configuration; these are the fixed guards around them.

/** Unauthenticated commands before the submission listener closes the connection (brute force, probes). */
export const MAX_UNAUTHENTICATED_COMMANDS = 10;
/** Failed AUTH attempts on one connection before it is closed. */
export const MAX_AUTH_FAILURES = 3;
/** A client that sends nothing for this long after DATA is cut (ms): smtp-server's socket timeout covers commands. */
export const CLOSE_TIMEOUT_MS = 10_000;
/** Outbound: one SMTP conversation must finish within this time (ms). */
export const OUTBOUND_TIMEOUT_MS = 60_000;
/** Outbound: connections kept open per destination (nodemailer pool). */
export const OUTBOUND_POOL_CONNECTIONS = 4;
/** Outbound: messages sent over one pooled connection before it is renewed. */
export const OUTBOUND_POOL_MESSAGES = 1000;
