// IMAP BODY and BODYSTRUCTURE (RFC 9051 §7.5.2) from the MIME tree, with exact octet and line counts.
// Follows Dovecot where the RFC leaves room: defaults "text" "plain" ("charset" "us-ascii") and "7bit",
// lines counted as line feeds in the body.
import { envelope, type Sexp } from "./envelope.js";
import { headerValue, type MimePart, parseParams, stripComments } from "./mime-tree.js";

export function bodyStructure(buf: Buffer, part: MimePart, extended: boolean): Sexp[] {
  const ct = part.contentType;
  const type = ct.type.toLowerCase();
  if (type === "multipart") {
    // body-type-mpart = 1*body SP media-subtype: the parts are written back to back (RFC 9051 §9).
    const out: Sexp[] = [
      {
        joined: part.children.length
          ? part.children.map((c) => bodyStructure(buf, c, extended))
          : // At least one part is required; an empty multipart shows an empty text part.
            [["text", "plain", ["charset", "us-ascii"], null, null, "7bit", 0, 0]],
      },
    ];
    out.push(ct.subtype);
    if (extended) {
      out.push(params(ct.params), disposition(part), language(part), location(part));
    }
    return out;
  }
  const h = (k: string) => headerValue(part.headers, k);
  const encoding = h("content-transfer-encoding");
  const size = part.end - part.bodyStart;
  const typeParams = mergeRfc2231(ct.params);
  // Dovecot names the default charset of text parts explicitly.
  if (type === "text" && !typeParams.some(([k]) => k.toLowerCase() === "charset"))
    typeParams.push(["charset", "us-ascii"]);
  const out: Sexp[] = [
    ct.type,
    ct.subtype,
    params(typeParams),
    trimmed(h("content-id")),
    trimmed(h("content-description")),
    encoding ? stripComments(encoding.toString("latin1")).trim() || "7bit" : "7bit",
    size,
  ];
  const subtype = ct.subtype.toLowerCase();
  if (part.message && type === "message" && (subtype === "rfc822" || subtype === "global")) {
    out.push(envelope(part.message.headers), bodyStructure(buf, part.message, extended), lines(buf, part));
  } else if (type === "text") {
    out.push(lines(buf, part));
  }
  if (extended) out.push(trimmed(h("content-md5")), disposition(part), language(part), location(part));
  return out;
}

function lines(buf: Buffer, part: MimePart): number {
  let n = 0;
  let i = part.bodyStart;
  for (;;) {
    const lf = buf.indexOf(0x0a, i);
    if (lf < 0 || lf >= part.end) break;
    n++;
    i = lf + 1;
  }
  return n;
}

function params(p: [string, string][]): Sexp {
  if (p.length === 0) return null;
  return p.flatMap(([k, v]) => [Buffer.from(k, "latin1"), Buffer.from(v, "latin1")]);
}

function trimmed(v: Buffer | null): Buffer | null {
  if (!v) return null;
  const s = v.toString("latin1").trim();
  return s ? Buffer.from(s, "latin1") : null;
}

function disposition(part: MimePart): Sexp {
  const v = headerValue(part.headers, "content-disposition");
  if (!v) return null;
  const s = stripComments(v.toString("latin1"));
  const m = /^\s*([^\s;]+)\s*(.*)$/s.exec(s);
  if (!m) return null;
  return [Buffer.from(m[1]!, "latin1"), params(mergeRfc2231(parseParams(m[2] ?? "")))];
}

function language(part: MimePart): Sexp {
  const v = headerValue(part.headers, "content-language");
  if (!v) return null;
  const langs = stripComments(v.toString("latin1"))
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
  return langs.length ? langs.map((l) => Buffer.from(l, "latin1")) : null;
}

function location(part: MimePart): Sexp {
  return trimmed(headerValue(part.headers, "content-location"));
}

/**
 * RFC 2231 parameter continuations joined as Dovecot shows them: plain parameters first in their order,
 * then each continued or extended one once ("name" or, when any piece is extended, "name*"), with the
 * pieces' raw values concatenated in order.
 */
export function mergeRfc2231(p: [string, string][]): [string, string][] {
  const plain: [string, string][] = [];
  const groups = new Map<string, { extended: boolean; pieces: [number, string][] }>();
  for (const [k, v] of p) {
    const m = /^([^*]+)\*(?:(\d+)\*?)?$/.exec(k);
    if (!m) {
      plain.push([k, v]);
      continue;
    }
    const base = m[1]!;
    const g = groups.get(base.toLowerCase()) ?? { extended: false, pieces: [] };
    g.extended ||= k.endsWith("*");
    g.pieces.push([m[2] === undefined ? 0 : Number(m[2]), v]);
    if (!groups.has(base.toLowerCase())) groups.set(base.toLowerCase(), g);
    (g as { name?: string }).name ??= base;
  }
  for (const g of groups.values()) {
    const name = (g as { name?: string }).name!;
    const value = g.pieces
      .sort((a, b) => a[0] - b[0])
      .map((x) => x[1])
      .join("");
    plain.push([g.extended ? `${name}*` : name, value]);
  }
  return plain;
}
