// Virus scanning (pec-rules.md: refused at the access point, rilevazione virus at the incoming point,
// kept apart 30 months). A scanner interface, and ClamAV's clamd over its INSTREAM command (clamd.conf(5),
// "INSTREAM": chunks prefixed by their 4-byte network-order length, a zero length ends the stream).
import { connect, type Socket } from "node:net";

export interface ScanResult {
  infected: boolean;
  /** signature name when infected */
  virus: string | null;
}

export interface Scanner {
  scan(bytes: Buffer): Promise<ScanResult>;
}

const CHUNK = 64 * 1024;
const TIMEOUT_MS = 60_000;

export class ClamdScanner implements Scanner {
  constructor(private readonly address: string) {}

  private socket(): Socket {
    const m = /^(?:tcp:\/\/)?([^/:]+):(\d+)$/.exec(this.address);
    return m ? connect(Number(m[2]), m[1]!) : connect(this.address);
  }

  scan(bytes: Buffer): Promise<ScanResult> {
    return new Promise((resolve, reject) => {
      const sock = this.socket();
      let reply = "";
      sock.setTimeout(TIMEOUT_MS, () => sock.destroy(new Error("clamd did not answer in time")));
      sock.on("error", reject);
      sock.on("data", (d) => {
        reply += d.toString("utf8");
      });
      sock.on("close", () => {
        // "stream: OK", "stream: Eicar-Test-Signature FOUND", "… ERROR"
        const line = reply.replace(/\0/g, "").trim();
        const found = /^stream: (.+) FOUND$/.exec(line);
        if (found) resolve({ infected: true, virus: found[1]! });
        else if (/^stream: OK$/.test(line)) resolve({ infected: false, virus: null });
        else reject(new Error(`clamd: ${line || "no answer"}`));
      });
      sock.on("connect", () => {
        sock.write("zINSTREAM\0");
        for (let i = 0; i < bytes.length; i += CHUNK) {
          const part = bytes.subarray(i, i + CHUNK);
          const len = Buffer.alloc(4);
          len.writeUInt32BE(part.length);
          sock.write(len);
          sock.write(part);
        }
        sock.write(Buffer.alloc(4));
      });
    });
  }
}
