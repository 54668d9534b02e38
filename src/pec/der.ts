// A bounded reader of BER/DER (ITU-T X.690) for the few CMS fields verification needs. asn1js builds a
// full object tree and costs milliseconds per signature; the incoming point verifies every message, so
// here we only slice the bytes: tag, length (definite or indefinite, §8.1.3.6) and content offsets.
import { PecParseError } from "./errors.js";

export interface Tlv {
  /** the identifier octet (class, constructed bit, tag number < 31) */
  tag: number;
  /** first byte of the TLV */
  start: number;
  /** first content byte */
  contentStart: number;
  /** after the last content byte (before end-of-contents octets when indefinite) */
  contentEnd: number;
  /** after the whole TLV */
  end: number;
}

const MAX_DEPTH = 32;

function fail(msg: string): never {
  throw new PecParseError("cms-invalid", msg);
}

export function readTlv(buf: Uint8Array, at: number, limit = buf.length, depth = 0): Tlv {
  if (depth > MAX_DEPTH) fail("ASN.1 nested too deep");
  if (at + 2 > limit) fail("ASN.1 truncated");
  const tag = buf[at]!;
  if ((tag & 0x1f) === 0x1f) fail("ASN.1 high tag numbers are not used by CMS");
  let p = at + 1;
  const first = buf[p++]!;
  if (first === 0x80) {
    // Indefinite length: only for constructed encodings; content ends at the 00 00 of its own level.
    if ((tag & 0x20) === 0) fail("indefinite length on a primitive");
    let q = p;
    for (;;) {
      if (q + 2 > limit) fail("ASN.1 indefinite length without end-of-contents");
      if (buf[q] === 0 && buf[q + 1] === 0)
        return { tag, start: at, contentStart: p, contentEnd: q, end: q + 2 };
      q = readTlv(buf, q, limit, depth + 1).end;
    }
  }
  let len = first;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n > 4) fail("ASN.1 length too large");
    len = 0;
    for (let i = 0; i < n; i++) {
      if (p >= limit) fail("ASN.1 truncated");
      len = len * 256 + buf[p++]!;
    }
  }
  if (p + len > limit) fail("ASN.1 content runs past its container");
  return { tag, start: at, contentStart: p, contentEnd: p + len, end: p + len };
}

export function children(buf: Uint8Array, t: Tlv, depth = 0): Tlv[] {
  const out: Tlv[] = [];
  for (let p = t.contentStart; p < t.contentEnd; ) {
    const c = readTlv(buf, p, t.contentEnd, depth + 1);
    out.push(c);
    p = c.end;
  }
  return out;
}

export function content(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.contentStart, t.contentEnd);
}

/** The content of an OCTET STRING, joining the segments of a constructed (BER) one. */
export function octets(buf: Buffer, t: Tlv): Buffer {
  if (t.tag === 0x04) return content(buf, t);
  if (t.tag === 0x24) return Buffer.concat(children(buf, t).map((c) => octets(buf, c)));
  return fail("expected an OCTET STRING");
}

export function oid(buf: Buffer, t: Tlv): string {
  if (t.tag !== 0x06) fail("expected an OBJECT IDENTIFIER");
  const b = content(buf, t);
  const parts: number[] = [];
  let v = 0;
  for (const byte of b) {
    v = v * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

/** UTCTime or GeneralizedTime (X.690 §11.7, §11.8; RFC 5280 §4.1.2.5 for the century of UTCTime). */
export function time(buf: Buffer, t: Tlv): Date | null {
  const s = content(buf, t).toString("latin1");
  const m =
    t.tag === 0x17
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(s)
      : t.tag === 0x18
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.\d+)?Z$/.exec(s)
        : null;
  if (!m) return null;
  let y = Number(m[1]);
  if (t.tag === 0x17) y += y < 50 ? 2000 : 1900;
  const d = new Date(
    Date.UTC(y, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)),
  );
  return Number.isNaN(d.getTime()) ? null : d;
}
