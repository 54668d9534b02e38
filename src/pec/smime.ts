// S/MIME for PEC (RFC 6109 §4.1, RFC 5751, RFC 5652): we sign with RSA and SHA-256, detached, with the
// signer certificate and its chain in the CMS; we verify whatever real providers send (SHA-1 included,
// Namirial still used it in 2024). pkijs/asn1js read and write the CMS structures; node:crypto does the
// arithmetic, synchronously, on the exact bytes.
import {
  createHash,
  type KeyObject,
  sign as rsaSign,
  verify as sigVerify,
  X509Certificate,
} from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { PecParseError } from "./errors.js";
import { MAX_SIGNATURE_BYTES } from "./limits.js";

const OID_DATA = "1.2.840.113549.1.7.1";
const OID_SIGNED_DATA = "1.2.840.113549.1.7.2";
const OID_CONTENT_TYPE = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4";
const OID_SIGNING_TIME = "1.2.840.113549.1.9.5";
const OID_RSA = "1.2.840.113549.1.1.1";
const OID_SHA256 = "2.16.840.1.101.3.4.2.1";
const OID_SKI = "2.5.29.14";

const DIGESTS: Record<string, string> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.4": "sha224",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
  "1.2.840.113549.2.5": "md5",
};

/** Signature algorithms that name their digest (RFC 4055, RFC 5754); rsaEncryption takes the signer's. */
const SIGNATURE_DIGESTS: Record<string, string> = {
  "1.2.840.113549.1.1.5": "sha1",
  "1.2.840.113549.1.1.14": "sha224",
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
  "1.2.840.10045.4.1": "sha1",
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
};

/** The provider's signing identity, parsed once and reused for every message. */
export interface Signer {
  key: KeyObject;
  /** DER of the signing certificate */
  certificate: Buffer;
  /** DER of the issuing chain, signer's issuer first (the root may be included) */
  chain: Buffer[];
}

interface PreparedSigner {
  /** DER of IssuerAndSerialNumber (RFC 5652 §10.2.4) of the signing certificate */
  issuerAndSerial: Buffer;
  /** DER of every certificate, signer first, as the [0] IMPLICIT CertificateSet carries them */
  certificates: Buffer;
  /** DER of the AlgorithmIdentifiers (sha256, rsaEncryption) and of the contentType attribute */
  sha256: Buffer;
  rsa: Buffer;
  contentTypeAttr: Buffer;
}

const prepared = new WeakMap<Signer, PreparedSigner>();

/**
 * pkijs and asn1js read the certificate and write the constant parts once per signer; each signature
 * then only encodes its three signed attributes and concatenates DER, which keeps signing close to the
 * cost of the RSA operation itself (bench/pec.ts).
 */
function prepare(signer: Signer): PreparedSigner {
  let p = prepared.get(signer);
  if (!p) {
    const cert = pkijs.Certificate.fromBER(signer.certificate);
    const ias = new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber });
    const attr = new pkijs.Attribute({
      type: OID_CONTENT_TYPE,
      values: [new asn1js.ObjectIdentifier({ value: OID_DATA })],
    });
    p = {
      issuerAndSerial: Buffer.from(ias.toSchema().toBER(false)),
      certificates: Buffer.concat([signer.certificate, ...signer.chain]),
      sha256: Buffer.from(algorithm(OID_SHA256).toSchema().toBER(false)),
      rsa: Buffer.from(algorithm(OID_RSA).toSchema().toBER(false)),
      contentTypeAttr: Buffer.from(attr.toSchema().toBER(false)),
    };
    prepared.set(signer, p);
  }
  return p;
}

function algorithm(oid: string): pkijs.AlgorithmIdentifier {
  return new pkijs.AlgorithmIdentifier({ algorithmId: oid, algorithmParams: new asn1js.Null() });
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = content.length === 1 ? content[0]! : Buffer.concat(content);
  return Buffer.concat([derHeader(tag, body.length), body]);
}

const OID_SIGNED_DATA_DER = Buffer.from(new asn1js.ObjectIdentifier({ value: OID_SIGNED_DATA }).toBER(false));
const OID_DATA_DER = Buffer.from(new asn1js.ObjectIdentifier({ value: OID_DATA }).toBER(false));
const OID_SIGNING_TIME_DER = Buffer.from(
  new asn1js.ObjectIdentifier({ value: OID_SIGNING_TIME }).toBER(false),
);
const OID_MESSAGE_DIGEST_DER = Buffer.from(
  new asn1js.ObjectIdentifier({ value: OID_MESSAGE_DIGEST }).toBER(false),
);
const INTEGER_1 = Buffer.from([0x02, 0x01, 0x01]);

/** RFC 5652 §11.3: UTCTime for 1950-2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5). */
function signingTimeDer(d: Date): Buffer {
  const iso = d.toISOString();
  const y = d.getUTCFullYear();
  const rest = `${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return y >= 1950 && y < 2050
    ? tlv(0x17, Buffer.from(`${String(y % 100).padStart(2, "0")}${rest}`, "latin1"))
    : tlv(0x18, Buffer.from(`${y}${rest}`, "latin1"));
}

/**
 * Detached CMS SignedData over `content` (already canonical: CRLF line ends, RFC 5751 §3.1.1), with the
 * signed attributes contentType, signingTime and messageDigest (RFC 5652 §5.3, §11), the signer
 * certificate and its chain.
 */
export function signDetached(content: Buffer, signer: Signer, signingTime: Date): Buffer {
  const p = prepare(signer);
  const digest = createHash("sha256").update(content).digest();
  const attrs = [
    p.contentTypeAttr,
    tlv(0x30, OID_SIGNING_TIME_DER, tlv(0x31, signingTimeDer(signingTime))),
    tlv(0x30, OID_MESSAGE_DIGEST_DER, tlv(0x31, tlv(0x04, digest))),
  ];
  // RFC 5652 §5.4: the signature covers the DER of the attributes as a SET OF, whose elements DER sorts
  // by their encodings. Verifiers (OpenSSL) re-encode, so the order we send must be the sorted one.
  attrs.sort(Buffer.compare);
  const attrsBody = Buffer.concat(attrs);
  const signature = rsaSign("sha256", tlv(0x31, attrsBody), signer.key);
  const signerInfo = tlv(
    0x30,
    INTEGER_1,
    p.issuerAndSerial,
    p.sha256,
    tlv(0xa0, attrsBody), // [0] IMPLICIT SignedAttributes
    p.rsa,
    tlv(0x04, signature),
  );
  const signedData = tlv(
    0x30,
    INTEGER_1,
    tlv(0x31, p.sha256),
    tlv(0x30, OID_DATA_DER), // EncapsulatedContentInfo without eContent: detached
    tlv(0xa0, p.certificates), // [0] IMPLICIT CertificateSet
    tlv(0x31, signerInfo),
  );
  return tlv(0x30, OID_SIGNED_DATA_DER, tlv(0xa0, signedData));
}

function derHeader(tag: number, length: number): Buffer {
  if (length < 0x80) return Buffer.from([tag, length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([tag, 0x80 | bytes.length, ...bytes]);
}

export interface SignatureReport {
  present: boolean;
  /** the signature verifies over the signed bytes */
  intact: boolean;
  /** subject of the signing certificate, RFC 4514 order reversed as people read it (CN first) */
  signer: string | null;
  /** chains to an anchor of the trust store; null when no trust store was given */
  trusted: boolean | null;
  signerCertificate: X509Certificate | null;
  /** every certificate the CMS carries, DER */
  certificates: Buffer[];
  digestAlgorithm: string | null;
  signingTime: Date | null;
  /** why intact or trusted is false */
  reason: string | null;
}

export function emptyReport(present: boolean, reason: string | null): SignatureReport {
  return {
    present,
    intact: false,
    signer: null,
    trusted: null,
    signerCertificate: null,
    certificates: [],
    digestAlgorithm: null,
    signingTime: null,
    reason,
  };
}

/** Anchors: the AgID CA1 certificates, an instance's own CA, other providers' CAs from the index. */
export class TrustStore {
  readonly anchors: X509Certificate[] = [];
  private readonly fingerprints = new Set<string>();

  constructor(certs: Iterable<X509Certificate | Buffer | string> = []) {
    for (const c of certs) this.add(c);
  }

  add(cert: X509Certificate | Buffer | string): void {
    const x = cert instanceof X509Certificate ? cert : new X509Certificate(cert);
    if (this.fingerprints.has(x.fingerprint256)) return;
    this.fingerprints.add(x.fingerprint256);
    this.anchors.push(x);
  }

  /** Adds every certificate of a PEM bundle. */
  addPem(pem: string): void {
    for (const block of splitPem(pem)) this.add(block);
  }

  get size(): number {
    return this.anchors.length;
  }

  /**
   * True when `leaf` is an anchor or chains to one through `intermediates`, each link's signature
   * checked and each certificate valid at `at` (the signing time: an expired certificate still proves
   * what it signed while it was valid).
   */
  trusts(leaf: X509Certificate, intermediates: X509Certificate[], at: Date | null): boolean {
    let current = leaf;
    for (let depth = 0; depth < 10; depth++) {
      if (at && !validAt(current, at)) return false;
      if (this.fingerprints.has(current.fingerprint256)) return true;
      const anchor = this.anchors.find((a) => issued(a, current));
      if (anchor) return !at || validAt(anchor, at);
      const next = intermediates.find(
        (c) => c.fingerprint256 !== current.fingerprint256 && issued(c, current),
      );
      if (!next) return false;
      current = next;
    }
    return false;
  }
}

function validAt(c: X509Certificate, at: Date): boolean {
  return new Date(c.validFrom).getTime() <= at.getTime() && at.getTime() <= new Date(c.validTo).getTime();
}

function issued(issuer: X509Certificate, subject: X509Certificate): boolean {
  try {
    return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

export function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** The subject as people read it: CN first, then the rest from the most specific. */
export function subjectLine(c: X509Certificate): string {
  const rdns = c.subject.split("\n").filter((l) => l.length > 0);
  const cn = rdns.filter((l) => l.startsWith("CN="));
  const rest = rdns.filter((l) => !l.startsWith("CN=")).reverse();
  return [...cn, ...rest].join(", ");
}

function toBuf(ab: ArrayBuffer | ArrayBufferView): Buffer {
  return ArrayBuffer.isView(ab)
    ? Buffer.from(ab.buffer, ab.byteOffset, ab.byteLength)
    : Buffer.from(ab as ArrayBuffer);
}

/** Parses a DER/BER CMS ContentInfo holding SignedData; PecParseError("cms-invalid") otherwise. */
export function parseSignedData(p7s: Buffer): pkijs.SignedData {
  if (p7s.length > MAX_SIGNATURE_BYTES) throw new PecParseError("cms-invalid", "smime.p7s too large");
  try {
    const asn = asn1js.fromBER(new Uint8Array(p7s));
    if (asn.offset === -1) throw new Error(asn.result.error);
    const ci = new pkijs.ContentInfo({ schema: asn.result });
    if (ci.contentType !== OID_SIGNED_DATA) throw new Error("not SignedData");
    return new pkijs.SignedData({ schema: ci.content });
  } catch (err) {
    if (err instanceof PecParseError) throw err;
    throw new PecParseError("cms-invalid", `smime.p7s is not a CMS SignedData: ${(err as Error).message}`);
  }
}

function findSignerCert(sd: pkijs.SignedData, si: pkijs.SignerInfo): pkijs.Certificate | null {
  const certs = (sd.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate);
  if (si.sid instanceof pkijs.IssuerAndSerialNumber) {
    const sid = si.sid;
    return (
      certs.find((c) => c.issuer.isEqual(sid.issuer) && c.serialNumber.isEqual(sid.serialNumber)) ?? null
    );
  }
  // [0] SubjectKeyIdentifier (RFC 5652 §5.3)
  const ski = toBuf((si.sid as asn1js.OctetString).valueBlock.valueHexView);
  return (
    certs.find((c) => {
      const ext = c.extensions?.find((e) => e.extnID === OID_SKI);
      if (!ext) return false;
      const v = ext.parsedValue as asn1js.OctetString | undefined;
      return v ? toBuf(v.valueBlock.valueHexView).equals(ski) : false;
    }) ?? null
  );
}

/**
 * Verifies a detached signature over `contents`, tried in order (the canonical CRLF form first, then the
 * bytes as they sit in the file): the signature is intact when one of them verifies.
 */
export function verifyDetached(contents: Buffer[], p7s: Buffer, trust: TrustStore | null): SignatureReport {
  const sd = parseSignedData(p7s);
  const report = emptyReport(true, null);
  const certs = (sd.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate);
  const x509s: X509Certificate[] = [];
  for (const c of certs) {
    const der = Buffer.from(c.toSchema().toBER(false));
    report.certificates.push(der);
    try {
      x509s.push(new X509Certificate(der));
    } catch {
      // a certificate node:crypto cannot read is useless for chains, not fatal
    }
  }
  const si = sd.signerInfos[0];
  if (!si) return { ...report, reason: "no signer" };
  const signerCert = findSignerCert(sd, si);
  if (!signerCert) return { ...report, reason: "the signing certificate is not in the message" };
  let x: X509Certificate;
  try {
    x = new X509Certificate(Buffer.from(signerCert.toSchema().toBER(false)));
  } catch {
    return { ...report, reason: "unreadable signing certificate" };
  }
  report.signerCertificate = x;
  report.signer = subjectLine(x);
  const hash = DIGESTS[si.digestAlgorithm.algorithmId];
  if (!hash) return { ...report, reason: `unsupported digest ${si.digestAlgorithm.algorithmId}` };
  report.digestAlgorithm = hash;
  const sigOid = si.signatureAlgorithm.algorithmId;
  const sigHash = SIGNATURE_DIGESTS[sigOid] ?? hash;
  if (sigOid === "1.2.840.113549.1.1.10") return { ...report, reason: "RSASSA-PSS is not supported" };
  const signature = toBuf(si.signature.valueBlock.valueHexView);

  let intact = false;
  try {
    if (si.signedAttrs) {
      const md = si.signedAttrs.attributes.find((a) => a.type === OID_MESSAGE_DIGEST)?.values[0];
      const st = si.signedAttrs.attributes.find((a) => a.type === OID_SIGNING_TIME)?.values[0];
      if (st instanceof asn1js.UTCTime || st instanceof asn1js.GeneralizedTime)
        report.signingTime = st.toDate();
      const expected = md instanceof asn1js.OctetString ? toBuf(md.valueBlock.valueHexView) : null;
      const attrsDer = toBuf(si.signedAttrs.encodedValue);
      // RFC 5652 §5.4: the digest of the content must equal messageDigest, and the signature covers the
      // attributes.
      if (expected && sigVerify(sigHash, attrsDer, x.publicKey, signature)) {
        intact = contents.some((c) => createHash(hash).update(c).digest().equals(expected));
        if (!intact) report.reason = "the signed content was modified (digest mismatch)";
      } else {
        report.reason = "the signature does not verify";
      }
    } else {
      intact = contents.some((c) => sigVerify(sigHash, c, x.publicKey, signature));
      if (!intact) report.reason = "the signature does not verify";
    }
  } catch (err) {
    report.reason = `verification error: ${(err as Error).message}`;
  }
  report.intact = intact;
  if (trust) {
    report.trusted = intact && trust.trusts(x, x509s, report.signingTime);
    if (intact && !report.trusted) report.reason = "the signer does not chain to a trusted certificate";
  }
  return report;
}
