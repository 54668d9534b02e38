// The local copy of the PEC providers' index (RFC 6109 §5, pec-rules.md "Trust"): who the providers are,
// the certificates they sign with, where their receipts go (mailReceipt) and which domains they manage.
// It answers the incoming point's two questions: is this domain a PEC domain (certificato vs esterno in
// daticert), and is this signing certificate a provider's (valid PEC vs busta di anomalia).
// Kept as one JSON file per provider in DATA/providers/, re-read when a file changes, so a running
// server sees `domicilio provider import` without a restart.
import { createHash, X509Certificate } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { ProvidersIndexError } from "./errors.js";
import { splitPem, TrustStore } from "./smime.js";

/** One provider, in the JSON shape of `domicilio provider export` (docs/contract.md "Providers"). */
export interface ProviderEntry {
  name: string;
  domains: string[];
  mailReceipt: string | null;
  /** signing certificates, PEM */
  certificates: string[];
  /** the CA that issues them, PEM, when the provider publishes one (Domicilio instances do) */
  ca: string | null;
  /** hashes published in AgID's index (`providerCertificateHash`), lower-case hex, algorithm-prefixed */
  certificateHashes: string[];
}

const entrySchema = z.object({
  name: z.string().min(1),
  domains: z.array(z.string().min(1)).default([]),
  mailReceipt: z.string().nullable().default(null),
  certificates: z.array(z.string()).default([]),
  ca: z.string().nullable().default(null),
  certificateHashes: z.array(z.string()).default([]),
});

export function parseProviderJson(text: string): ProviderEntry {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ProvidersIndexError("index-invalid", `not JSON: ${(err as Error).message}`);
  }
  const parsed = entrySchema.safeParse(raw);
  if (!parsed.success) {
    throw new ProvidersIndexError(
      "index-invalid",
      parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; "),
    );
  }
  const e = parsed.data;
  for (const pem of [...e.certificates, ...(e.ca ? [e.ca] : [])]) {
    try {
      new X509Certificate(pem);
    } catch {
      throw new ProvidersIndexError("certificate-invalid", `${e.name}: a certificate is not valid PEM`);
    }
  }
  return {
    ...e,
    domains: e.domains.map((d) => d.toLowerCase()),
    certificateHashes: e.certificateHashes.map(normaliseHash),
  };
}

function normaliseHash(h: string): string {
  const [alg, value] = h.includes("#") ? (h.split("#", 2) as [string, string]) : ["sha1", h];
  return `${alg.toLowerCase().replace("-", "")}#${value.replace(/[^0-9a-fA-F]/g, "").toLowerCase()}`;
}

function pemOf(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${(der.toString("base64").match(/.{1,64}/g) ?? []).join("\n")}\n-----END CERTIFICATE-----\n`;
}

/**
 * AgID's index in LDIF (RFC 2849, schema of RFC 6109 §5.2): entries with providerName, mailReceipt,
 * managedDomains, providerCertificate (DER, base64 with `::`) and providerCertificateHash. Entries of
 * the same providerName are merged.
 */
export function parseLdif(text: string): ProviderEntry[] {
  const unfolded = text.replace(/\r\n/g, "\n").replace(/\n /g, "");
  const byName = new Map<string, ProviderEntry>();
  for (const block of unfolded.split(/\n{2,}/)) {
    const attrs: [string, string, boolean][] = [];
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      const m = /^([A-Za-z][A-Za-z0-9;-]*):(:?)\s*(.*)$/.exec(line);
      if (!m) throw new ProvidersIndexError("ldif-invalid", `not an LDIF line: ${line.slice(0, 60)}`);
      attrs.push([m[1]!.toLowerCase(), m[3]!, m[2] === ":"]);
    }
    const value = (name: string) => attrs.filter((a) => a[0] === name);
    const text1 = (a: [string, string, boolean]) =>
      a[2] ? Buffer.from(a[1], "base64").toString("utf8") : a[1];
    const name = value("providername")[0];
    if (!name) continue;
    const n = text1(name).trim();
    const entry = byName.get(n) ?? {
      name: n,
      domains: [],
      mailReceipt: null,
      certificates: [],
      ca: null,
      certificateHashes: [],
    };
    for (const d of value("manageddomains")) entry.domains.push(text1(d).trim().toLowerCase());
    const mr = value("mailreceipt")[0];
    if (mr) entry.mailReceipt = text1(mr).trim();
    for (const c of value("providercertificate")) {
      const der = c[2]
        ? Buffer.from(c[1], "base64")
        : Buffer.from(c[1].replace(/-----[^-]+-----|\s/g, ""), "base64");
      try {
        new X509Certificate(der);
      } catch {
        throw new ProvidersIndexError(
          "certificate-invalid",
          `${n}: providerCertificate is not a certificate`,
        );
      }
      entry.certificates.push(pemOf(der));
    }
    for (const h of value("providercertificatehash")) entry.certificateHashes.push(normaliseHash(text1(h)));
    byName.set(n, entry);
  }
  if (byName.size === 0)
    throw new ProvidersIndexError("ldif-invalid", "no provider entry (providerName) found");
  return [...byName.values()].map((e) => ({ ...e, domains: [...new Set(e.domains)] }));
}

/** JSON (one entry, or an array) or LDIF, told apart by the first character. */
export function parseProvidersFile(text: string): ProviderEntry[] {
  const t = text.trimStart();
  if (t.startsWith("{")) return [parseProviderJson(t)];
  if (t.startsWith("[")) {
    const arr = JSON.parse(t) as unknown[];
    return arr.map((x) => parseProviderJson(JSON.stringify(x)));
  }
  return parseLdif(text);
}

export function slug(name: string): string {
  return (
    name
      .normalize("NFKD")
      .replace(/[^\w.-]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .toLowerCase() || "provider"
  );
}

function hashes(c: X509Certificate): string[] {
  return [
    `sha1#${createHash("sha1").update(c.raw).digest("hex")}`,
    `sha256#${createHash("sha256").update(c.raw).digest("hex")}`,
  ];
}

interface Loaded {
  entries: ProviderEntry[];
  certs: Map<string, ProviderEntry>;
  cas: { ca: X509Certificate; entry: ProviderEntry }[];
  domains: Map<string, ProviderEntry>;
}

function index(entries: ProviderEntry[]): Loaded {
  const certs = new Map<string, ProviderEntry>();
  const cas: Loaded["cas"] = [];
  const domains = new Map<string, ProviderEntry>();
  for (const e of entries) {
    for (const pem of e.certificates) for (const h of hashes(new X509Certificate(pem))) certs.set(h, e);
    for (const h of e.certificateHashes) certs.set(normaliseHash(h), e);
    if (e.ca) for (const pem of splitPem(e.ca)) cas.push({ ca: new X509Certificate(pem), entry: e });
    for (const d of e.domains) domains.set(d.toLowerCase(), e);
  }
  return { entries, certs, cas, domains };
}

export interface ProvidersIndexOptions {
  /** how often, at most, the folder is checked for changes (ms); 0 checks on every query */
  checkEveryMs?: number;
  /** clock for the check interval */
  now?: () => number;
}

export class ProvidersIndex {
  private loaded: Loaded;
  private signature = "";
  private lastCheck = Number.NEGATIVE_INFINITY;

  private constructor(
    private readonly dir: string | null,
    private readonly fixed: ProviderEntry[],
    private readonly options: ProvidersIndexOptions,
  ) {
    this.loaded = index(fixed);
    this.refresh(true);
  }

  /** An index over fixed entries (tests, tools). */
  static fromEntries(entries: ProviderEntry[]): ProvidersIndex {
    return new ProvidersIndex(null, entries, {});
  }

  /** The index of a data folder: DATA/providers/*.json, plus `own` (this provider, from its config and keys). */
  static open(
    dataDir: string,
    own: ProviderEntry[] = [],
    options: ProvidersIndexOptions = {},
  ): ProvidersIndex {
    return new ProvidersIndex(join(dataDir, "providers"), own, options);
  }

  /** Re-reads the folder when a file was added, removed or changed (size or mtime). */
  refresh(force = false): void {
    if (!this.dir) return;
    const now = (this.options.now ?? Date.now)();
    if (!force && now - this.lastCheck < (this.options.checkEveryMs ?? 1000)) return;
    this.lastCheck = now;
    let files: string[] = [];
    try {
      files = readdirSync(this.dir)
        .filter((f) => f.endsWith(".json"))
        .sort();
    } catch {
      files = [];
    }
    const sig = files
      .map((f) => {
        try {
          const s = statSync(join(this.dir!, f));
          return `${f}:${s.size}:${s.mtimeMs}`;
        } catch {
          return f;
        }
      })
      .join("|");
    if (!force && sig === this.signature) return;
    const entries = [...this.fixed];
    for (const f of files) {
      try {
        entries.push(parseProviderJson(readFileSync(join(this.dir, f), "utf8")));
      } catch {
        // A broken file must not take the whole index down: it is skipped until it is fixed.
      }
    }
    this.loaded = index(entries);
    this.signature = sig;
  }

  entries(): ProviderEntry[] {
    this.refresh();
    return this.loaded.entries;
  }

  providerForDomain(domain: string): ProviderEntry | null {
    this.refresh();
    return this.loaded.domains.get(domain.toLowerCase().replace(/\.$/, "")) ?? null;
  }

  isPecDomain(domain: string): boolean {
    return this.providerForDomain(domain) !== null;
  }

  /** certificato when the address's domain is managed by a provider in the index, esterno otherwise. */
  classify(address: string): "certificato" | "esterno" {
    const at = address.lastIndexOf("@");
    return at > 0 && this.isPecDomain(address.slice(at + 1)) ? "certificato" : "esterno";
  }

  mailReceiptFor(domain: string): string | null {
    return this.providerForDomain(domain)?.mailReceipt ?? null;
  }

  /** The provider that signs with `cert`: listed by certificate or hash, or issued by its CA. */
  providerForCertificate(cert: X509Certificate | Buffer | string): ProviderEntry | null {
    this.refresh();
    const x = cert instanceof X509Certificate ? cert : new X509Certificate(cert);
    for (const h of hashes(x)) {
      const e = this.loaded.certs.get(h);
      if (e) return e;
    }
    for (const { ca, entry } of this.loaded.cas) {
      try {
        if (x.checkIssued(ca) && x.verify(ca.publicKey)) return entry;
      } catch {
        // unreadable key: not this CA
      }
    }
    return null;
  }

  /** Anchors for signature checks: every provider's CA and listed certificate. */
  trustStore(extra: TrustStore | null = null): TrustStore {
    this.refresh();
    const t = new TrustStore(extra?.anchors ?? []);
    for (const e of this.loaded.entries) {
      for (const pem of e.certificates) t.add(pem);
      if (e.ca) t.addPem(e.ca);
    }
    return t;
  }
}

/** Writes (adds or replaces) entries into DATA/providers/, atomically, one file per provider. */
export function importProviders(dataDir: string, entries: ProviderEntry[]): string[] {
  const dir = join(dataDir, "providers");
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const e of entries) {
    const file = join(dir, `${slug(e.name)}.json`);
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, `${JSON.stringify(e, null, 2)}\n`);
    renameSync(tmp, file);
    written.push(file);
  }
  return written;
}
