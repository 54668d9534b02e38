// The Italian texts of envelopes, receipts and notices (plain and HTML), worded as the market writes
// them (Aruba, Namirial, Sogei samples in ../pec-samples) and as RFC 6109 §3 describes each one. The
// subject prefixes are those PEC client software matches on (pec-rules.md, "Message types").
import type { Destinatario } from "./daticert.js";
import type { RomeDate } from "./rome-time.js";

export const SUBJECT_PREFIX = {
  "posta-certificata": "POSTA CERTIFICATA: ",
  errore: "ANOMALIA MESSAGGIO: ",
  accettazione: "ACCETTAZIONE: ",
  "non-accettazione": "AVVISO DI NON ACCETTAZIONE: ",
  "non-accettazione-virus": "AVVISO DI NON ACCETTAZIONE PER VIRUS: ",
  "presa-in-carico": "PRESA IN CARICO: ",
  "avvenuta-consegna": "CONSEGNA: ",
  "errore-consegna": "AVVISO DI MANCATA CONSEGNA: ",
  "errore-consegna-virus": "AVVISO DI MANCATA CONSEGNA PER VIRUS: ",
  "preavviso-errore-consegna": "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: ",
  "rilevazione-virus": "PROBLEMA DI SICUREZZA: ",
} as const;

export interface Text {
  title: string;
  lines: string[];
}

export interface TextFacts {
  data: RomeDate;
  oggetto: string;
  mittente: string;
  destinatari: Destinatario[];
  identificativo: string;
  gestore: string;
}

function when(d: RomeDate): string {
  return `Il giorno ${d.giorno} alle ore ${d.ora} (${d.zona})`;
}

function recipientLines(ds: Destinatario[]): string[] {
  return ds.map(
    (d) => `${d.indirizzo} ("${d.tipo === "certificato" ? "posta certificata" : "posta ordinaria"}")`,
  );
}

export function textBusta(f: TextFacts): Text {
  return {
    title: "Messaggio di posta certificata",
    lines: [
      `${when(f.data)} il messaggio`,
      `"${f.oggetto}" è stato inviato da "${f.mittente}"`,
      "indirizzato a:",
      ...f.destinatari.map((d) => d.indirizzo),
      "",
      'Il messaggio originale è incluso in allegato, nel file "postacert.eml".',
      `Identificativo messaggio: ${f.identificativo}`,
    ],
  };
}

export function textAnomalia(f: TextFacts): Text {
  return {
    title: "Anomalia nel messaggio",
    lines: [
      `${when(f.data)} è stato ricevuto il messaggio`,
      `"${f.oggetto}" proveniente da "${f.mittente}"`,
      "indirizzato a:",
      ...f.destinatari.map((d) => d.indirizzo),
      "",
      "Il messaggio non è un messaggio di posta certificata valido: non ne sono garantite",
      "né la provenienza né l'integrità. Il messaggio originale è incluso in allegato.",
      `Identificativo messaggio: ${f.identificativo}`,
    ],
  };
}

export function textAccettazione(f: TextFacts): Text {
  return {
    title: "Ricevuta di accettazione",
    lines: [
      `${when(f.data)} il messaggio con Oggetto`,
      `"${f.oggetto}" inviato da "${f.mittente}"`,
      "ed indirizzato a:",
      ...recipientLines(f.destinatari),
      "è stato accettato dal sistema ed inoltrato.",
      `Identificativo del messaggio: ${f.identificativo}`,
      "L'allegato daticert.xml contiene informazioni di servizio sulla trasmissione",
    ],
  };
}

export function textNonAccettazione(f: TextFacts, reason: string, virus: boolean): Text {
  return {
    title: virus ? "Avviso di non accettazione per virus" : "Avviso di non accettazione",
    lines: [
      `${when(f.data)} nel messaggio con Oggetto`,
      `"${f.oggetto}" inviato da "${f.mittente}"`,
      virus ? "è stato rilevato un virus:" : "è stato rilevato un problema che ne impedisce l'accettazione:",
      reason,
      "Il messaggio non è stato accettato dal sistema e non è stato inoltrato.",
      `Identificativo del messaggio: ${f.identificativo}`,
    ],
  };
}

export function textPresaInCarico(f: TextFacts): Text {
  return {
    title: "Ricevuta di presa in carico",
    lines: [
      `${when(f.data)} il messaggio con Oggetto`,
      `"${f.oggetto}" inviato da "${f.mittente}"`,
      "ed indirizzato a:",
      ...f.destinatari.map((d) => d.indirizzo),
      `è stato accettato dal sistema di "${f.gestore}" ed è in corso di consegna.`,
      `Identificativo del messaggio: ${f.identificativo}`,
    ],
  };
}

export function textAvvenutaConsegna(f: TextFacts, consegna: string, kind: string): Text {
  const allegato =
    kind === "completa"
      ? 'Il messaggio originale è incluso in allegato, nel file "postacert.eml".'
      : kind === "breve"
        ? 'Il messaggio originale è incluso in allegato, nel file "postacert.eml", con gli allegati sostituiti dai rispettivi hash.'
        : "Ricevuta sintetica: il messaggio originale non è allegato.";
  return {
    title: "Ricevuta di avvenuta consegna",
    lines: [
      `${when(f.data)} il messaggio con Oggetto`,
      `"${f.oggetto}" inviato da "${f.mittente}"`,
      `ed indirizzato a "${consegna}"`,
      "è stato correttamente consegnato al destinatario.",
      `Identificativo del messaggio: ${f.identificativo}`,
      allegato,
      "L'allegato daticert.xml contiene informazioni di servizio sulla trasmissione",
    ],
  };
}

export function textMancataConsegna(f: TextFacts, consegna: string, erroreEsteso: string): Text {
  return {
    title: "Avviso di mancata consegna del messaggio",
    lines: [
      `${when(f.data)} nel messaggio con Oggetto`,
      `"${f.oggetto}" inviato da "${f.mittente}"`,
      "e destinato all'utente",
      `"${consegna}"`,
      "è stato rilevato il seguente errore:",
      erroreEsteso,
      "Il messaggio è stato rifiutato dal sistema.",
      `Identificativo del messaggio: ${f.identificativo}`,
    ],
  };
}

export function textPreavviso(f: TextFacts, pending: string[]): Text {
  return {
    title: "Avviso di mancata consegna per superamento dei tempi massimi",
    lines: [
      `${when(f.data)} il messaggio con Oggetto`,
      `"${f.oggetto}" inviato da "${f.mittente}"`,
      "e destinato a:",
      ...pending,
      "non è stato ancora consegnato entro le prime 12 ore dall'invio.",
      "Il sistema continua a tentare la consegna: se non avverrà entro 24 ore dall'invio",
      "riceverà un avviso di mancata consegna.",
      `Identificativo del messaggio: ${f.identificativo}`,
    ],
  };
}

export function textRilevazioneVirus(f: TextFacts, detail: string): Text {
  return {
    title: "Rilevazione virus",
    lines: [
      `${when(f.data)} nel messaggio con Oggetto`,
      `"${f.oggetto}" inviato da "${f.mittente}"`,
      "è stato rilevato un virus:",
      detail,
      "Il messaggio non sarà consegnato ed è conservato dal gestore per 30 mesi.",
      `Identificativo del messaggio: ${f.identificativo}`,
    ],
  };
}

export function plainText(t: Text): string {
  return `-- ${t.title} --\r\n\r\n${t.lines.join("\r\n")}\r\n`;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function htmlText(t: Text): string {
  const body = t.lines.map((l) => (l === "" ? "<br>" : `${esc(l)}<br>`)).join("\r\n");
  return (
    `<html>\r\n<head><meta charset="utf-8"><title>${esc(t.title)}</title></head>\r\n<body>\r\n` +
    `<h3>${esc(t.title)}</h3>\r\n<hr><br>\r\n${body}\r\n</body>\r\n</html>\r\n`
  );
}
