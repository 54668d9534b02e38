// Causes of non-delivery, worded as AgID's integrative note 12 (2015) asks: an enhanced SMTP-style status
// code (RFC 3463), the provider's name and a short Italian reason, the same words in `errore-esteso` and
// in the text. The format "5.1.1 - <gestore> - indirizzo non valido" is what real providers write
// (../pec-samples/anonymised/errore-consegna-no-dest.eml). The table was written from the note as we
// know it; check the wording against the published note before relying on it in court.
import type { DaticertErrore } from "./daticert.js";

export const NON_DELIVERY_CAUSES = {
  "user-unknown": { code: "5.1.1", errore: "no-dest", text: "indirizzo non valido" },
  "domain-unknown": { code: "5.1.2", errore: "no-dominio", text: "dominio non valido" },
  "box-disabled": { code: "5.2.1", errore: "altro", text: "casella disabilitata" },
  "box-full": { code: "5.2.2", errore: "altro", text: "casella piena" },
  "message-too-big": { code: "5.3.4", errore: "altro", text: "messaggio troppo grande" },
  virus: { code: "5.7.1", errore: "virus", text: "virus rilevato nel messaggio" },
  timeout: { code: "4.4.7", errore: "altro", text: "tempo massimo di consegna superato" },
  other: { code: "5.0.0", errore: "altro", text: "errore nella consegna" },
} as const satisfies Record<string, { code: string; errore: DaticertErrore; text: string }>;

export type NonDeliveryCause = keyof typeof NON_DELIVERY_CAUSES;

export function erroreEsteso(cause: NonDeliveryCause, gestore: string, detail?: string): string {
  const c = NON_DELIVERY_CAUSES[cause];
  return `${c.code} - ${gestore} - ${c.text}${detail ? ` (${detail})` : ""}`;
}
