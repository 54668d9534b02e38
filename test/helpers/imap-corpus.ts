// A deterministic mailbox for real-client tests and the benchmark: nested folders with non-ASCII names,
// plain and multipart messages, encoded-word subjects, 8-bit bodies, attachments, flags and keywords.
// (The migration branch's test/fixtures/corpus.ts was not available when this was written.)
import { mulberry32 } from "./prng.js";

export interface CorpusMessage {
  folder: string;
  bytes: Buffer;
  flags: string[];
  internalDate: Date;
}

export const CORPUS_FOLDERS = [
  "INBOX",
  "Pratiche",
  "Pratiche/Città",
  "Pratiche/Città/Più vecchie",
  "Archivio 2023",
];

const rng = mulberry32;

const WORDS =
  "pratica ricevuta consegna avviso notifica tribunale udienza fattura iscrizione albo verbale".split(" ");

export function generateCorpus(options: {
  messages: number;
  attachmentEvery?: number;
  attachmentBytes?: number;
  seed?: number;
}): CorpusMessage[] {
  const rand = rng(options.seed ?? 42);
  const out: CorpusMessage[] = [];
  const base = Date.UTC(2023, 0, 1);
  for (let i = 0; i < options.messages; i++) {
    const folder = CORPUS_FOLDERS[Math.floor(rand() * CORPUS_FOLDERS.length)]!;
    const words = Array.from(
      { length: 5 + Math.floor(rand() * 30) },
      () => WORDS[Math.floor(rand() * WORDS.length)],
    );
    const date = new Date(base + i * 3_600_000);
    const subject =
      i % 7 === 0
        ? `=?UTF-8?B?${Buffer.from(`Comunicazione n. ${i} — città`).toString("base64")}?=`
        : `Pratica ${i}: ${words.slice(0, 3).join(" ")}`;
    const head =
      `Return-Path: <mittente${i % 13}@pec.example.it>\r\n` +
      `From: "Mittente ${i % 13}" <mittente${i % 13}@pec.example.it>\r\n` +
      `To: mario.rossi@pec.example.it\r\n` +
      `Subject: ${subject}\r\n` +
      `Date: ${date.toUTCString().replace("GMT", "+0000")}\r\n` +
      `Message-ID: <corpus-${i}@pec.example.it>\r\n` +
      `MIME-Version: 1.0\r\n`;
    let body: string;
    const attach = options.attachmentEvery && i % options.attachmentEvery === 0;
    if (attach || i % 5 === 0) {
      const size = attach ? (options.attachmentBytes ?? 100_000) : 2000;
      const blob = Buffer.alloc(size);
      for (let k = 0; k < size; k++) blob[k] = Math.floor(rand() * 256);
      const b64 = blob.toString("base64").replace(/(.{76})/g, "$1\r\n");
      body =
        `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n` +
        `This is a multi-part message in MIME format.\r\n--b${i}\r\n` +
        `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n` +
        `Gentile collega, in allegato la pratica n. ${i}. Perché è così?\r\n${words.join(" ")}\r\n` +
        `--b${i}\r\nContent-Type: application/pdf; name="pratica-${i}.pdf"\r\nContent-Transfer-Encoding: base64\r\n` +
        `Content-Disposition: attachment; filename="pratica-${i}.pdf"\r\n\r\n${b64}\r\n--b${i}--\r\n`;
    } else {
      body = `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${words.join(" ")}\r\nSaluti, è tutto.\r\n`;
    }
    const flags: string[] = [];
    if (rand() < 0.6) flags.push("\\Seen");
    if (rand() < 0.1) flags.push("\\Flagged");
    if (rand() < 0.1) flags.push("\\Answered");
    if (rand() < 0.05) flags.push("$Etichetta");
    out.push({ folder, bytes: Buffer.from(head + body, "utf8"), flags, internalDate: date });
  }
  return out;
}
