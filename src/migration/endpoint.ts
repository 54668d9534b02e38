// `--from` / `--to` as people type them: `imaps://USER@HOST:PORT` (USER may itself be an address with
// "@": the last "@" ends it), `imap://…` (STARTTLS when offered), or a bare PEC address whose provider
// has a preset (`mario.rossi@pec.it` → Aruba's imaps.pec.aruba.it:993). Spaces around are forgiven.
import { MigrationError } from "./errors.js";
import { presetForAddress } from "./presets.js";

export interface ParsedEndpoint {
  host: string;
  port: number;
  secure: boolean;
  user: string;
}

export function parseImapUrl(input: string): ParsedEndpoint {
  const s = input.trim();
  const m = /^(imaps?):\/\/(.+)$/i.exec(s);
  if (!m) {
    if (/^[^@\s/]+@[^@\s/]+$/.test(s)) {
      const preset = presetForAddress(s);
      if (preset) return { host: preset.host, port: preset.port, secure: preset.secure, user: s };
      throw new MigrationError(
        "INVALID_SOURCE",
        `Non conosco il server IMAP di ${s.split("@")[1]}: indicalo come imaps://${s}@server:993`,
      );
    }
    throw new MigrationError("INVALID_SOURCE", `"${input}" non è un indirizzo imap://… o imaps://…`);
  }
  const secure = m[1]!.toLowerCase() === "imaps";
  let rest = m[2]!.replace(/\/+$/, "");
  const at = rest.lastIndexOf("@");
  if (at <= 0)
    throw new MigrationError("INVALID_SOURCE", `manca l'utente in "${input}" (imaps://UTENTE@SERVER:PORTA)`);
  const user = decodeURIComponent(rest.slice(0, at)).trim();
  rest = rest.slice(at + 1);
  const hp = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(rest);
  if (!hp) throw new MigrationError("INVALID_SOURCE", `server non valido in "${input}"`);
  const host = hp[1]!.replace(/^\[|\]$/g, "").toLowerCase();
  const port = hp[2] ? Number(hp[2]) : secure ? 993 : 143;
  if (!user || !host || port <= 0 || port > 65535) {
    throw new MigrationError("INVALID_SOURCE", `"${input}" non è un indirizzo imap valido`);
  }
  return { host, port, secure, user };
}
