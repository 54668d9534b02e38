// Every limit the IMAP and POP3 servers enforce, in one place (architecture.md, style 3). Values follow
// what Dovecot and mox ship with, so clients that work there work here.

export const IMAP_LIMITS = {
  /** Longest command line outside literals. RFC 7162 §4 asks servers to accept at least 8192 octets. */
  maxLineBytes: 64 * 1024,
  /** Largest literal in a command other than APPEND (search strings, login, mailbox names). */
  maxLiteralBytes: 64 * 1024,
  /** Largest message APPEND accepts; advertised as APPENDLIMIT (RFC 7889). */
  maxAppendBytes: 64 * 1024 * 1024,
  /** Largest whole command (all lines and literals) outside APPEND. */
  maxCommandBytes: 256 * 1024,
  /** Consecutive BAD answers before we say BYE (Dovecot: 20, mox: 20 total). */
  maxBadCommands: 20,
  /** Failed LOGIN/AUTHENTICATE attempts on one connection before BYE. */
  maxAuthFailures: 3,
  /** Delay before answering a failed login, in ms; doubled for each failure on the connection. */
  authFailureDelayMs: 500,
  /** Idle timeout before authentication (RFC 9051 §5.4 asks for at least 30 minutes once logged in). */
  idleTimeoutNotAuthMs: 60 * 1000,
  /** Idle timeout after login, IDLE included (RFC 2177 asks clients to re-IDLE every 29 minutes). */
  idleTimeoutAuthMs: 30 * 60 * 1000 + 60 * 1000,
  /** Simultaneous connections from one IP address. */
  maxConnectionsPerIp: 50,
  /** Simultaneous logged-in connections of one box (Dovecot mail_max_userip_connections: 10). */
  maxConnectionsPerUser: 20,
  /** Bytes a client may send ahead of the command being run before we stop reading its socket. */
  maxReadAheadBytes: 1024 * 1024,
  /** Bytes queued to a slow reader before we stop reading its next command. */
  writeHighWaterBytes: 1024 * 1024,
  /** Messages fetched from the store per batch while answering FETCH. */
  fetchBatch: 200,
};

export const POP3_LIMITS = {
  maxLineBytes: 512,
  maxBadCommands: 10,
  maxAuthFailures: 3,
  authFailureDelayMs: 500,
  /** RFC 1939 §3: at least 10 minutes. */
  idleTimeoutMs: 10 * 60 * 1000,
  maxConnectionsPerIp: 50,
};
