// IMAP BODY and BODYSTRUCTURE (RFC 9051 §7.5.2) from the MIME tree, with exact octet and line counts.
// Follows Dovecot where the RFC leaves room: defaults "text" "plain" ("charset" "us-ascii") and "7bit",
// lines counted as line feeds in the body.
import { envelope, type Sexp } from "./envelope.js";
import { headerValue, type MimePart, parseParams, stripComments } from "./mime-tree.js";

export function bodyStructure(buf: Buffer, part: MimePart, extended: boolean): Sexp[] {
  const ct = part.contentType;
  const type = ct.type.toLowerCase();
  if (type === "multipart") {
    const out: Sexp[] = part.children.length
      ? part.children.map((c) => bodyStructure(buf, c, extended))
      : // RFC 9051 §7.5.2 needs at least one part; an empty multipart is shown with an empty text part.
        [["text", "plain", ["charset", "us-ascii"], null, null, "7bit", 0, 0]];
    out.push(ct.subtype);
    if (extended) {
      out.push(params(ct.params), disposition(part), language(part), location(part));
    }
    return out;
  }
  const h = (k: string) => headerValue(part.headers, k);
  const encoding = h("content-transfer-encoding");
  const size = part.end - part.bodyStart;
  const out: Sexp[] = [
    ct.type,
    ct.subtype,
    params(ct.params),
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
  return [Buffer.from(m[1]!, "latin1"), params(parseParams(m[2] ?? ""))];
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
