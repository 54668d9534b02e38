// Opens a TCP or implicit-TLS listener for a line protocol (IMAP, POP3) and resolves with the port it got
// (port 0 asks the system for a free one). A failed TLS handshake is the client's problem, not an error
// of the listener.
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";

export interface ListenOptions {
  port: number;
  host: string;
  /** Implicit TLS (993, 995) when given; plain TCP otherwise. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  onSocket: (socket: Socket) => void;
}

export async function listenSockets(options: ListenOptions): Promise<{ server: Server; port: number }> {
  const server = options.tls
    ? createTlsServer({ key: options.tls.key, cert: options.tls.cert }, options.onSocket)
    : createServer(options.onSocket);
  if (options.tls) server.on("tlsClientError", () => {});
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  return { server, port: typeof addr === "object" && addr ? addr.port : options.port };
}
