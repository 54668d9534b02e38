// Writes the MIME of provider messages in the layout real providers use (pec-rules.md "MIME layout"):
// multipart/signed over multipart/mixed { multipart/alternative { text, html }, daticert.xml,
// postacert.eml? }. Every line ends in CRLF, the canonical form S/MIME signs (RFC 5751 §3.1.1), so the
// stored bytes are the signed bytes.
import libmime from "libmime";
import * as qp from "nodemailer/lib/qp";
import { canonicalCrlf } from "./mime-raw.js";
import { type Signer, signDetached } from "./smime.js";
import { htmlText, plainText, type Text } from "./texts.js";

export type Random = (bytes: number) => Buffer;

const CRLF = "\r\n";

/** One header field, CR/LF removed from the value (no header injection), RFC 2047 words when needed. */
export function headerLine(name: string, value: string, encode = false): string {
  const clean = value.replace(/[\r\n]+/g, " ");
  const v = encode && /[^\x00-\x7f]/.test(clean) ? libmime.encodeWords(clean, "Q", 52) : clean;
  return `${libmime.foldLines(`${name}: ${v}`, 76)}${CRLF}`;
}

export function boundary(random: Random): string {
  return `----=_Domicilio_${random(12).toString("hex")}`;
}

function base64Lines(data: Buffer): string {
  return (data.toString("base64").match(/.{1,76}/g) ?? []).join(CRLF);
}

function qpBody(text: string): string {
  return qp.wrap(qp.encode(Buffer.from(text, "utf8")), 76).replace(/\r?\n/g, CRLF);
}

export interface Attachment {
  headers: string;
  body: Buffer;
}

export function textAlternative(text: Text, random: Random): Buffer {
  const b = boundary(random);
  return Buffer.from(
    `Content-Type: multipart/alternative; boundary="${b}"${CRLF}${CRLF}` +
      `--${b}${CRLF}Content-Type: text/plain; charset="utf-8"${CRLF}Content-Disposition: inline${CRLF}` +
      `Content-Transfer-Encoding: quoted-printable${CRLF}${CRLF}${qpBody(plainText(text))}${CRLF}` +
      `--${b}${CRLF}Content-Type: text/html; charset="utf-8"${CRLF}Content-Disposition: inline${CRLF}` +
      `Content-Transfer-Encoding: quoted-printable${CRLF}${CRLF}${qpBody(htmlText(text))}${CRLF}` +
      `--${b}--${CRLF}`,
    "utf8",
  );
}

export function daticertPart(xml: string): Buffer {
  return Buffer.from(
    `Content-Type: application/xml; name="daticert.xml"${CRLF}` +
      `Content-Disposition: inline; filename="daticert.xml"${CRLF}` +
      `Content-Transfer-Encoding: base64${CRLF}${CRLF}${base64Lines(Buffer.from(xml, "utf8"))}${CRLF}`,
    "latin1",
  );
}

/** The enclosed message, CRLF-canonical, declared 7bit, 8bit or binary as its bytes require (RFC 2045 §2). */
export function postacertPart(message: Buffer): Buffer {
  const body = canonicalCrlf(message);
  // One pass over the bytes (a regular expression over the decoded text was a few per cent of the PEC
  // service's CPU): NUL or a line of 999 or more octets without CR/LF → binary; any octet above 127 → 8bit.
  let eight = false;
  let binary = false;
  let run = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === 0x0d || c === 0x0a) {
      run = 0;
      continue;
    }
    if (c === 0) binary = true;
    else if (c > 0x7f) eight = true;
    if (++run >= 999) binary = true;
  }
  const cte = binary ? "binary" : eight ? "8bit" : "7bit";
  return Buffer.concat([
    Buffer.from(
      `Content-Type: message/rfc822; name="postacert.eml"${CRLF}` +
        `Content-Disposition: inline; filename="postacert.eml"${CRLF}` +
        `Content-Transfer-Encoding: ${cte}${CRLF}${CRLF}`,
      "latin1",
    ),
    body,
    body.length > 0 && body[body.length - 1] !== 0x0a ? Buffer.from(CRLF) : Buffer.alloc(0),
  ]);
}

export function mixed(parts: Buffer[], random: Random): Buffer {
  const b = boundary(random);
  const chunks: Buffer[] = [
    Buffer.from(`Content-Type: multipart/mixed; boundary="${b}"${CRLF}MIME-Version: 1.0${CRLF}${CRLF}`),
  ];
  for (const p of parts) {
    chunks.push(Buffer.from(`--${b}${CRLF}`), p);
    if (p[p.length - 1] !== 0x0a) chunks.push(Buffer.from(CRLF));
  }
  chunks.push(Buffer.from(`--${b}--${CRLF}`));
  return Buffer.concat(chunks);
}

/**
 * Wraps `inner` (a complete MIME entity) in multipart/signed with a detached SHA-256 signature
 * (RFC 5751 §3.5.3). `headers` are the top-level fields, already formatted.
 */
export async function signedMessage(
  headers: string,
  inner: Buffer,
  signer: Signer,
  now: Date,
  random: Random,
): Promise<Buffer> {
  const b = boundary(random);
  const p7s = await signDetached(inner, signer, now);
  return Buffer.concat([
    Buffer.from(
      `${headers}MIME-Version: 1.0${CRLF}` +
        `Content-Type: multipart/signed; protocol="application/x-pkcs7-signature"; micalg="sha-256";${CRLF}` +
        ` boundary="${b}"${CRLF}${CRLF}This is an S/MIME signed message${CRLF}${CRLF}--${b}${CRLF}`,
      "utf8",
    ),
    inner,
    Buffer.from(
      `${CRLF}--${b}${CRLF}Content-Type: application/x-pkcs7-signature; name="smime.p7s"${CRLF}` +
        `Content-Transfer-Encoding: base64${CRLF}Content-Disposition: attachment; filename="smime.p7s"${CRLF}${CRLF}` +
        `${base64Lines(p7s)}${CRLF}${CRLF}--${b}--${CRLF}`,
      "latin1",
    ),
  ]);
}
