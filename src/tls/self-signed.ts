// A self-signed certificate for the IMAP/POP3 listeners when none is configured, kept under DATA/tls/ so
// it survives restarts (clients pin it once). Made with the openssl command (a listed system dependency):
// @peculiar/x509 needs a reflect-metadata polyfill that is not among our dependencies.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSecureContext, type SecureContext } from "node:tls";

export interface KeyPair {
  key: string;
  cert: string;
}

export async function createSelfSigned(hostname: string): Promise<KeyPair> {
  const dir = mkdtempSync(join(tmpdir(), "domicilio-cert-"));
  try {
    const keyPath = join(dir, "key.pem");
    const certPath = join(dir, "cert.pem");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        keyPath,
        "-out",
        certPath,
        "-days",
        "1825",
        "-subj",
        `/CN=${hostname.replace(/[^A-Za-z0-9.-]/g, "")}`,
        "-addext",
        `subjectAltName=DNS:${hostname.replace(/[^A-Za-z0-9.-]/g, "")},IP:127.0.0.1`,
      ],
      { stdio: "ignore" },
    );
    return { key: readFileSync(keyPath, "utf8"), cert: readFileSync(certPath, "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** DATA/tls/server.{key,crt}, created on first use. */
export async function loadOrCreateServerCert(dataDir: string, hostname: string): Promise<KeyPair> {
  const dir = join(dataDir, "tls");
  const keyPath = join(dir, "server.key");
  const certPath = join(dir, "server.crt");
  if (existsSync(keyPath) && existsSync(certPath))
    return { key: readFileSync(keyPath, "utf8"), cert: readFileSync(certPath, "utf8") };
  const pair = await createSelfSigned(hostname);
  mkdirSync(dir, { recursive: true });
  writeFileSync(keyPath, pair.key, { mode: 0o600 });
  writeFileSync(certPath, pair.cert);
  return pair;
}

export function secureContextOf(pair: KeyPair): SecureContext {
  return createSecureContext({ key: pair.key, cert: pair.cert });
}
