// S/MIME for PEC (RFC 6109 §4.1, RFC 5751, RFC 5652): we sign with RSA and SHA-256, detached, with the
// signer certificate and its chain in the CMS; we verify whatever real providers send (SHA-1 included,
// Namirial still used it in 2024). pkijs/asn1js read and write the CMS structures; node:crypto does the
// arithmetic on the exact bytes: verification synchronously, signing on worker threads (sign-pool.ts).

import { createHash, type KeyObject, verify as sigVerify, X509Certificate } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import * as der from "./der.js";
import { PecParseError } from "./errors.js";
import { MAX_SIGNATURE_BYTES } from "./limits.js";
import { SignPool } from "./sign-pool.js";

const OID_DATA = "1.2.840.113549.1.7.1";
const OID_SIGNED_DATA = "1.2.840.113549.1.7.2";
const OID_CONTENT_TYPE = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4";
const OID_SIGNING_TIME = "1.2.840.113549.1.9.5";
const OID_RSA = "1.2.840.113549.1.1.1";
const OID_SHA256 = "2.16.840.1.101.3.4.2.1";

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
  /**
   * Signs here and now (RSASSA-PKCS1-v1_5, SHA-256) on the calling thread: for a thread that exists to
   * build messages (build-thread.ts). Absent, the RSA operation goes to the signing threads
   * (sign-pool.ts) so that it never holds up an event loop.
   */
  signHere?: (data: Buffer) => Buffer;
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
/** The RSA operations of every signature this process makes: batched onto worker threads (sign-pool.ts). */
const signing = new SignPool();

export async function signDetached(content: Buffer, signer: Signer, signingTime: Date): Promise<Buffer> {
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
  const signedAttrs = tlv(0x31, attrsBody);
  const signature = signer.signHere
    ? signer.signHere(signedAttrs)
    : await signing.sign(signedAttrs, signer.key);
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

interface ParsedSignedData {
  /** raw DER of every certificate carried */
  certificates: Buffer[];
  signer: {
    /** IssuerAndSerialNumber: raw issuer Name and serial INTEGER content; or a SubjectKeyIdentifier */
    issuer: Buffer | null;
    serial: Buffer | null;
    ski: Buffer | null;
    digestOid: string;
    /** signed attributes re-tagged as SET OF (RFC 5652 §5.4), null when absent */
    signedAttrs: Buffer | null;
    messageDigest: Buffer | null;
    signingTime: Date | null;
    signatureOid: string;
    signature: Buffer;
  } | null;
}

/**
 * Reads a CMS ContentInfo holding SignedData (RFC 5652 §5.1) down to what verification needs; any
 * structural problem is PecParseError("cms-invalid").
 */
export function parseSignedData(p7s: Buffer): ParsedSignedData {
  if (p7s.length > MAX_SIGNATURE_BYTES) throw new PecParseError("cms-invalid", "smime.p7s too large");
  const ci = der.readTlv(p7s, 0);
  const [ct, explicit] = der.children(p7s, ci);
  if (ci.tag !== 0x30 || !ct || !explicit || explicit.tag !== 0xa0) {
    throw new PecParseError("cms-invalid", "not a ContentInfo");
  }
  if (der.oid(p7s, ct) !== OID_SIGNED_DATA) throw new PecParseError("cms-invalid", "not SignedData");
  const sd = der.children(p7s, explicit)[0];
  if (sd?.tag !== 0x30) throw new PecParseError("cms-invalid", "SignedData is not a SEQUENCE");
  const fields = der.children(p7s, sd);
  const certificates: Buffer[] = [];
  const certSet = fields.find((f) => f.tag === 0xa0);
  // [0] IMPLICIT CertificateSet: plain certificates are SEQUENCEs; other choices are skipped.
  if (certSet)
    for (const c of der.children(p7s, certSet))
      if (c.tag === 0x30) certificates.push(p7s.subarray(c.start, c.end));
  const signerInfos = fields[fields.length - 1];
  if (signerInfos?.tag !== 0x31) throw new PecParseError("cms-invalid", "no SignerInfos");
  const si = der.children(p7s, signerInfos)[0];
  if (!si) return { certificates, signer: null };
  const f = der.children(p7s, si);
  // SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm, [0] signedAttrs OPTIONAL, signatureAlgorithm,
  //   signature, [1] unsignedAttrs OPTIONAL }
  const [, sid, digestAlg, ...rest] = f;
  if (!sid || !digestAlg) throw new PecParseError("cms-invalid", "short SignerInfo");
  const attrsTlv = rest[0]?.tag === 0xa0 ? rest.shift()! : null;
  const [sigAlg, sig] = rest;
  if (!sigAlg || !sig) throw new PecParseError("cms-invalid", "SignerInfo without signature");
  let issuer: Buffer | null = null;
  let serial: Buffer | null = null;
  let ski: Buffer | null = null;
  if (sid.tag === 0x30) {
    const [name, serialTlv] = der.children(p7s, sid);
    if (!name || !serialTlv) throw new PecParseError("cms-invalid", "bad IssuerAndSerialNumber");
    issuer = p7s.subarray(name.start, name.end);
    serial = der.content(p7s, serialTlv);
  } else if (sid.tag === 0x80 || sid.tag === 0xa0) {
    ski = sid.tag === 0x80 ? der.content(p7s, sid) : der.octets(p7s, der.children(p7s, sid)[0]!);
  }
  let signedAttrs: Buffer | null = null;
  let messageDigest: Buffer | null = null;
  let signingTime: Date | null = null;
  if (attrsTlv) {
    signedAttrs = Buffer.from(p7s.subarray(attrsTlv.start, attrsTlv.end));
    signedAttrs[0] = 0x31;
    for (const a of der.children(p7s, attrsTlv)) {
      const [type, values] = der.children(p7s, a);
      if (!type || !values) continue;
      const first = der.children(p7s, values)[0];
      if (!first) continue;
      const t = der.oid(p7s, type);
      if (t === OID_MESSAGE_DIGEST) messageDigest = der.octets(p7s, first);
      else if (t === OID_SIGNING_TIME) signingTime = der.time(p7s, first);
    }
  }
  const algOid = (t: der.Tlv) => {
    const o = der.children(p7s, t)[0];
    if (!o) throw new PecParseError("cms-invalid", "empty AlgorithmIdentifier");
    return der.oid(p7s, o);
  };
  return {
    certificates,
    signer: {
      issuer,
      serial,
      ski,
      digestOid: algOid(digestAlg),
      signedAttrs,
      messageDigest,
      signingTime,
      signatureOid: algOid(sigAlg),
      signature: der.octets(p7s, sig),
    },
  };
}

/** issuer Name and serial INTEGER of a certificate, raw (RFC 5280 §4.1). */
function issuerAndSerial(cert: Buffer): { issuer: Buffer; serial: Buffer } | null {
  try {
    const tbs = der.children(cert, der.readTlv(cert, 0))[0]!;
    const f = der.children(cert, tbs);
    const i = f[0]?.tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version
    return { serial: der.content(cert, f[i]!), issuer: cert.subarray(f[i + 2]!.start, f[i + 2]!.end) };
  } catch {
    return null;
  }
}

/**
 * Parsed certificates by their DER: the same few (ours, our peers') come with every message, and parsing
 * one was a few per cent of the PEC service's CPU (bench/pec-service.ts). X509Certificate is immutable.
 */
const certificateCache = new Map<string, X509Certificate>();
function parsedCertificate(der: Buffer): X509Certificate {
  const key = der.toString("base64");
  let x = certificateCache.get(key);
  if (!x) {
    x = new X509Certificate(der);
    if (certificateCache.size >= 256) certificateCache.clear();
    certificateCache.set(key, x);
  }
  return x;
}

/**
 * Verifies a detached signature over `contents`, tried in order (the canonical CRLF form first, then the
 * bytes as they sit in the file): the signature is intact when one of them verifies.
 */
export function verifyDetached(contents: Buffer[], p7s: Buffer, trust: TrustStore | null): SignatureReport {
  const sd = parseSignedData(p7s);
  const report = emptyReport(true, null);
  report.certificates = sd.certificates;
  const x509s: { der: Buffer; x: X509Certificate }[] = [];
  for (const c of sd.certificates) {
    try {
      x509s.push({ der: c, x: parsedCertificate(c) });
    } catch {
      // a certificate node:crypto cannot read is useless for chains, not fatal
    }
  }
  const si = sd.signer;
  if (!si) return { ...report, reason: "no signer" };
  // RFC 5652 §5.3: the signer is named by issuer and serial number (or by key identifier: then the
  // certificate whose key verifies the signature is the one).
  const candidates = si.issuer
    ? x509s.filter((c) => {
        const is = issuerAndSerial(c.der);
        return is?.issuer.equals(si.issuer!) && is.serial.equals(si.serial!);
      })
    : x509s;
  if (candidates.length === 0) return { ...report, reason: "the signing certificate is not in the message" };
  const hash = DIGESTS[si.digestOid];
  if (!hash) return { ...report, reason: `unsupported digest ${si.digestOid}` };
  report.digestAlgorithm = hash;
  report.signingTime = si.signingTime;
  if (si.signatureOid === "1.2.840.113549.1.1.10")
    return { ...report, reason: "RSASSA-PSS is not supported" };
  const sigHash = SIGNATURE_DIGESTS[si.signatureOid] ?? hash;

  let signer = candidates[0]!.x;
  let intact = false;
  report.reason = "the signature does not verify";
  for (const { x } of candidates) {
    try {
      if (si.signedAttrs) {
        // RFC 5652 §5.4: the signature covers the attributes, and messageDigest must equal the digest
        // of the content.
        if (!si.messageDigest || !sigVerify(sigHash, si.signedAttrs, x.publicKey, si.signature)) continue;
        signer = x;
        intact = contents.some((c) => createHash(hash).update(c).digest().equals(si.messageDigest!));
        if (!intact) report.reason = "the signed content was modified (digest mismatch)";
        break;
      }
      if (contents.some((c) => sigVerify(sigHash, c, x.publicKey, si.signature))) {
        signer = x;
        intact = true;
        break;
      }
    } catch (err) {
      report.reason = `verification error: ${(err as Error).message}`;
    }
  }
  report.signerCertificate = signer;
  report.signer = subjectLine(signer);
  report.intact = intact;
  if (intact) report.reason = null;
  if (trust) {
    report.trusted =
      intact &&
      trust.trusts(
        signer,
        x509s.map((c) => c.x),
        report.signingTime,
      );
    if (intact && !report.trusted) report.reason = "the signer does not chain to a trusted certificate";
  }
  return report;
}
