// Modified UTF-7 for mailbox names (RFC 3501 §5.1.3): printable ASCII stands for itself except "&",
// which is "&-"; other characters are UTF-16 in modified base64 ("," for "/") between "&" and "-".
// A pure helper shared by the IMAP server (names on the wire) and the migration's own connections to an
// old box, hence here rather than under imap/ (architecture.md: domain code never imports protocol code).

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

export function encodeMutf7(s: string): string {
  let out = "";
  let pending: number[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const bytes: number[] = [];
    for (const u of pending) bytes.push(u >> 8, u & 0xff);
    let bits = 0;
    let acc = 0;
    let enc = "";
    for (const b of bytes) {
      acc = (acc << 8) | b;
      bits += 8;
      while (bits >= 6) {
        bits -= 6;
        enc += B64[(acc >> bits) & 0x3f];
      }
    }
    if (bits > 0) enc += B64[(acc << (6 - bits)) & 0x3f];
    out += `&${enc}-`;
    pending = [];
  };
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e) {
      flush();
      out += c === 0x26 ? "&-" : s[i];
    } else pending.push(c);
  }
  flush();
  return out;
}

/** Decodes a wire name; throws on malformed input (RFC 3501 §5.1.3 forbids non-canonical forms). */
export function decodeMutf7(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const code = ch.charCodeAt(0);
    if (code < 0x20 || code > 0x7e) throw new Error("mailbox name must be 7-bit (modified UTF-7)");
    if (ch !== "&") {
      out += ch;
      continue;
    }
    const end = s.indexOf("-", i + 1);
    if (end < 0) throw new Error("unterminated modified UTF-7 sequence");
    const enc = s.slice(i + 1, end);
    i = end;
    if (enc === "") {
      out += "&";
      continue;
    }
    let acc = 0;
    let bits = 0;
    const units: number[] = [];
    let byteHi = -1;
    for (const e of enc) {
      const v = B64.indexOf(e);
      if (v < 0) throw new Error("bad modified base64");
      acc = ((acc << 6) | v) & 0xffffff;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        const b = (acc >> bits) & 0xff;
        if (byteHi < 0) byteHi = b;
        else {
          units.push((byteHi << 8) | b);
          byteHi = -1;
        }
      }
    }
    if (byteHi >= 0 || (acc & ((1 << bits) - 1)) !== 0) throw new Error("bad modified base64 padding");
    const text = String.fromCharCode(...units);
    if (/[\x20-\x7e]/.test(text)) throw new Error("printable ASCII must not be base64-encoded");
    out += text;
  }
  return out;
}
