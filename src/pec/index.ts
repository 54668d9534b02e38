// The pure PEC library: build, read, sign and verify every message of the rules (RFC 6109).
export * from "./builders.js";
export * from "./daticert.js";
export * from "./errors.js";
export * from "./identificativo.js";
export * from "./incoming.js";
export * from "./non-delivery.js";
export * from "./provider-keys.js";
export * from "./providers-index.js";
export * from "./reader.js";
export * from "./rome-time.js";
export * from "./smime.js";
