// The old providers our members come from, in one table: the web form pre-fills "Server IMAP" from the
// address's domain, the CLI accepts a preset name instead of a URL, and the folder mapping learns each
// provider's folder names from here. Hosts and ports are the providers' published IMAP settings.
export interface ProviderPreset {
  id: string;
  name: string;
  host: string;
  port: number;
  /** true: implicit TLS (port 993); false: STARTTLS. */
  secure: boolean;
  /** Mail domains whose boxes live at this provider (matched on the address's domain or its suffix). */
  domains: string[];
  /** Folder names this provider uses for special folders, as listed (before our mapping). */
  folders?: Partial<Record<"sent" | "drafts" | "trash" | "junk", string>>;
  /** Hint shown when the login fails (two-factor, app passwords…). */
  loginHint?: string;
}

export const PROVIDER_PRESETS: readonly ProviderPreset[] = [
  {
    id: "aruba",
    name: "Aruba PEC",
    host: "imaps.pec.aruba.it",
    port: 993,
    secure: true,
    domains: ["pec.it", "arubapec.it", "pec.aruba.it", "legalmail-aruba.it"],
    // Aruba keeps every folder under "INBOX." with "." as separator.
    folders: { sent: "INBOX.Inviata", drafts: "INBOX.Bozze", trash: "INBOX.Cestino", junk: "INBOX.Spam" },
    loginHint:
      "Se sulla casella Aruba è attiva la verifica in due passaggi, crea una password per le app dal pannello " +
      "Aruba PEC e usa quella.",
  },
  {
    id: "namirial",
    name: "Namirial (SicurezzaPostale)",
    host: "imaps.sicurezzapostale.it",
    port: 993,
    secure: true,
    domains: ["sicurezzapostale.it", "pec.sicurezzapostale.it"],
  },
  {
    id: "legalmail",
    name: "Legalmail (InfoCert)",
    host: "mbox.cert.legalmail.it",
    port: 993,
    secure: true,
    domains: ["legalmail.it", "pec.legalmail.it"],
    folders: { sent: "INBOX/Spedite" },
  },
  {
    id: "poste",
    name: "Poste Italiane (PostaCertificata)",
    host: "imap.postecert.it",
    port: 993,
    secure: true,
    domains: ["postecert.it", "pec.postecert.it"],
  },
  {
    id: "register",
    name: "Register.it PEC",
    host: "imap.pec.register.it",
    port: 993,
    secure: true,
    domains: ["pec.register.it", "registerpec.it"],
  },
];

export function presetById(id: string): ProviderPreset | undefined {
  return PROVIDER_PRESETS.find((p) => p.id === id.toLowerCase());
}

/** The preset for an address (`mario.rossi@pec.it` → Aruba), or undefined. */
export function presetForAddress(address: string): ProviderPreset | undefined {
  const domain = address.trim().toLowerCase().split("@")[1];
  if (!domain) return undefined;
  return PROVIDER_PRESETS.find((p) => p.domains.some((d) => domain === d || domain.endsWith(`.${d}`)));
}

/** The preset whose IMAP host this is, or undefined. */
export function presetForHost(host: string): ProviderPreset | undefined {
  return PROVIDER_PRESETS.find((p) => p.host === host.trim().toLowerCase());
}
