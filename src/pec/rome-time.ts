// Dates of daticert.xml and of the Italian texts: local time in Europe/Rome with its UTC offset
// (RFC 6109 §4.2: `data zona="+0100"`, `giorno` dd/mm/yyyy, `ora` hh:mm:ss). Intl knows the daylight
// saving rules, so the offset is +0100 in winter and +0200 in summer without a table of our own.

export interface RomeDate {
  /** dd/mm/yyyy */
  giorno: string;
  /** hh:mm:ss, 24 h */
  ora: string;
  /** +0100 or +0200 */
  zona: string;
}

const formatter = new Intl.DateTimeFormat("en-GB", {
  timeZone: "Europe/Rome",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
  timeZoneName: "longOffset",
});

// One message asks for the same instant several times (texts, daticert, Date header), and a busy
// provider builds many messages a second; Intl is slow. The result has a resolution of one second.
let last: { t: number; r: RomeDate } | null = null;

export function romeDate(date: Date): RomeDate {
  const t = Math.floor(date.getTime() / 1000);
  if (last && last.t === t) return { ...last.r };
  const r = computeRomeDate(date);
  last = { t, r };
  return { ...r };
}

function computeRomeDate(date: Date): RomeDate {
  const parts: Record<string, string> = {};
  for (const p of formatter.formatToParts(date)) parts[p.type] = p.value;
  // longOffset reads "GMT+01:00" (or "GMT" at offset zero, never the case in Rome).
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(parts["timeZoneName"] ?? "");
  const zona = m ? `${m[1]}${m[2]}${m[3]}` : "+0000";
  return {
    giorno: `${parts["day"]}/${parts["month"]}/${parts["year"]}`,
    ora: `${parts["hour"]}:${parts["minute"]}:${parts["second"]}`,
    zona,
  };
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** RFC 5322 §3.3 date in Rome local time, as Italian providers write their `Date:` header. */
export function rfc5322Date(date: Date): string {
  const r = romeDate(date);
  const [d, mo, y] = r.giorno.split("/");
  // The weekday of the local date: shift by the offset and read the UTC weekday.
  const sign = r.zona.startsWith("-") ? -1 : 1;
  const offsetMin = sign * (Number(r.zona.slice(1, 3)) * 60 + Number(r.zona.slice(3, 5)));
  const local = new Date(date.getTime() + offsetMin * 60_000);
  return `${DAYS[local.getUTCDay()]}, ${d} ${MONTHS[Number(mo) - 1]} ${y} ${r.ora} ${r.zona}`;
}

/** yyyymmddhhmmss in Rome local time, the stamp inside identificativi. */
export function compactStamp(date: Date): string {
  const r = romeDate(date);
  const [d, mo, y] = r.giorno.split("/");
  return `${y}${mo}${d}${r.ora.replaceAll(":", "")}`;
}
