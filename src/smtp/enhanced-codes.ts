// smtp-server derives the enhanced status code (RFC 3463, RFC 2034) of an error reply from its reply
// code alone (550 → 5.1.1 whatever the cause). Our errors know theirs: SmtpReplyError writes it in front
// of the text, and this wrapper of SMTPConnection.send moves it into place, once per process.
import { SMTPConnection } from "smtp-server/lib/smtp-connection.js";

const ENHANCED = /^([245]\.\d{1,3}\.\d{1,3}) (.*)$/s;
let installed = false;

interface Patchable {
  send(code: number, data: unknown, context?: unknown): unknown;
  _getEnhancedStatusCode(code: number, context?: unknown): string;
  _useEnhancedStatusCodes(): boolean;
  __enhanced?: string | undefined;
}

export function installEnhancedCodes(): void {
  if (installed) return;
  installed = true;
  const proto = (SMTPConnection as unknown as { prototype: Patchable }).prototype;
  const send = proto.send;
  const get = proto._getEnhancedStatusCode;
  proto.send = function (this: Patchable, code, data, context) {
    const m = typeof data === "string" ? ENHANCED.exec(data) : null;
    if (!m) return send.call(this, code, data, context);
    this.__enhanced = m[1];
    try {
      return send.call(this, code, this._useEnhancedStatusCodes() ? m[2] : data, context);
    } finally {
      this.__enhanced = undefined;
    }
  };
  proto._getEnhancedStatusCode = function (this: Patchable, code, context) {
    if (this.__enhanced && context !== false && this._useEnhancedStatusCodes()) return this.__enhanced;
    return get.call(this, code, context);
  };
}
