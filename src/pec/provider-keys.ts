// The provider's own CA and signing certificate (pec-rules.md "Trust"): a Domicilio instance signs its
// envelopes and receipts with a key certified by its own CA, whose certificate other instances import
// through the providers' index. The signing certificate names posta-certificata@<domain> in its SAN and
// allows emailProtection, as S/MIME signers must (RFC 8550 §4.4.4, RFC 5280 §4.2.1.12).
import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { domainToASCII } from "node:url";
// @peculiar/x509 resolves its ASN.1 schemas through tsyringe, which needs the Reflect metadata polyfill.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import type { ProviderEntry } from "./providers-index.js";
import type { Signer } from "./smime.js";

export interface ProviderKeys {
  caPem: string;
  signingPem: string;
  ca: X509Certificate;
  signing: X509Certificate;
  signer: Signer;
  dir: string;
}

export interface ProviderIdentityInput {
  name: string;
  domain: string;
}

const ALG = {
  name: "RSASSA-PKCS1-v1_5",
  hash: "SHA-256",
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};

/** RFC 4514 §2.4: escape what would end or split an attribute value. */
function dnValue(s: string): string {
  return s.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`).replace(/^[ #]|\s$/g, (c) => `\\${c}`);
}

function writeSecret(path: string, data: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

async function pkcs8Pem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  return `-----BEGIN PRIVATE KEY-----\n${(der.toString("base64").match(/.{1,64}/g) ?? []).join("\n")}\n-----END PRIVATE KEY-----\n`;
}

function serial(): string {
  // RFC 5280 §4.1.2.2: positive, at most 20 octets; the high bit cleared keeps it positive.
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString("hex");
}

export function keyPaths(dataDir: string) {
  const dir = join(dataDir, "keys");
  return {
    dir,
    caCert: join(dir, "ca.pem"),
    caKey: join(dir, "ca.key"),
    signingCert: join(dir, "signing.pem"),
    signingKey: join(dir, "signing.key"),
  };
}

/** Loads the keys written by ensureProviderKeys. */
export function loadProviderKeys(dataDir: string): ProviderKeys {
  const p = keyPaths(dataDir);
  const caPem = readFileSync(p.caCert, "utf8");
  const signingPem = readFileSync(p.signingCert, "utf8");
  const ca = new X509Certificate(caPem);
  const signing = new X509Certificate(signingPem);
  const key = createPrivateKey(readFileSync(p.signingKey, "utf8"));
  return {
    caPem,
    signingPem,
    ca,
    signing,
    signer: { key, certificate: signing.raw, chain: [ca.raw] },
    dir: p.dir,
  };
}

/**
 * Creates, once, DATA/keys/{ca.pem, ca.key, signing.pem, signing.key} (keys 0600) and returns them
 * loaded. Idempotent: existing files are kept; a missing signing certificate is issued by the existing CA.
 */
export async function ensureProviderKeys(
  dataDir: string,
  provider: ProviderIdentityInput,
  now: Date = new Date(),
): Promise<ProviderKeys> {
  const p = keyPaths(dataDir);
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  const crypto = webcrypto as never;
  x509.cryptoProvider.set(crypto);
  const notBefore = new Date(now.getTime() - 3600_000);
  const org = dnValue(provider.name);

  let caCert: x509.X509Certificate;
  let caKey: webcrypto.CryptoKey;
  if (existsSync(p.caCert) && existsSync(p.caKey)) {
    caCert = new x509.X509Certificate(readFileSync(p.caCert, "utf8"));
    const der = createPrivateKey(readFileSync(p.caKey, "utf8")).export({ type: "pkcs8", format: "der" });
    caKey = await webcrypto.subtle.importKey("pkcs8", der, ALG, false, ["sign"]);
  } else {
    const keys = (await webcrypto.subtle.generateKey(ALG, true, [
      "sign",
      "verify",
    ])) as webcrypto.CryptoKeyPair;
    caCert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=${org} PEC CA, O=${org}`,
      notBefore,
      notAfter: new Date(now.getTime() + 10 * 365 * 86400_000),
      keys: keys as never,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
      ],
    });
    caKey = keys.privateKey;
    writeSecret(p.caKey, await pkcs8Pem(keys.privateKey), 0o600);
    writeFileSync(p.caCert, caCert.toString("pem"));
  }

  if (!(existsSync(p.signingCert) && existsSync(p.signingKey))) {
    const keys = (await webcrypto.subtle.generateKey(ALG, true, [
      "sign",
      "verify",
    ])) as webcrypto.CryptoKeyPair;
    // rfc822Name is an IA5String (RFC 5280 §4.2.1.6): an internationalised domain goes in as punycode.
    const address = `posta-certificata@${domainToASCII(provider.domain) || provider.domain}`;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${dnValue(address)}, O=${org}`,
      issuer: caCert.subject,
      notBefore,
      notAfter: new Date(now.getTime() + 3 * 365 * 86400_000),
      publicKey: keys.publicKey as never,
      signingKey: caKey as never,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.emailProtection], false),
        new x509.SubjectAlternativeNameExtension([{ type: "email", value: address }], false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
        await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
      ],
    });
    writeSecret(p.signingKey, await pkcs8Pem(keys.privateKey), 0o600);
    writeFileSync(p.signingCert, cert.toString("pem"));
  }
  return loadProviderKeys(dataDir);
}

/** This provider's own entry in the index, as `domicilio provider export` prints it. */
export function ownProviderEntry(
  provider: { name: string; domain: string; domains?: string[] },
  keys: ProviderKeys,
): ProviderEntry {
  return {
    name: provider.name,
    domains: [...new Set([provider.domain, ...(provider.domains ?? [])].map((d) => d.toLowerCase()))],
    mailReceipt: `posta-certificata@${provider.domain}`,
    certificates: [keys.signingPem],
    ca: keys.caPem,
    certificateHashes: [],
  };
}
