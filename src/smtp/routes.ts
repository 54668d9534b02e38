// DOMICILIO_ROUTES (contract.md "Providers"): `domain=host:port,…` sends mail for those domains to those
// SMTP addresses instead of looking up MX records. Pure parsing, tested byte for byte.
export interface Route {
  host: string;
  port: number;
}

export function parseRoutes(value: string | undefined): Map<string, Route> {
  const out = new Map<string, Route>();
  for (const item of (value ?? "").split(",")) {
    const t = item.trim();
    if (!t) continue;
    const m = /^([^=\s]+)=(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(t);
    if (!m || Number(m[3]) > 65535)
      throw new Error(`DOMICILIO_ROUTES: cannot read "${t}" (domain=host:port)`);
    out.set(m[1]!.toLowerCase(), { host: m[2]!.replace(/^\[|\]$/g, ""), port: Number(m[3]) });
  }
  return out;
}
