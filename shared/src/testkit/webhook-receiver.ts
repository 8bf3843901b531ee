/**
 * A real webhook receiver for tests: an HTTP server on 127.0.0.1 and an ephemeral port that keeps
 * every request (headers and the exact body) and answers with the next status of a script
 * (`answer`), then `fallback`; `hang` holds requests unanswered until closed.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedHook {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedHook[];
  /** Statuses for the next requests, in order; then `fallback` (default 200). */
  answer(statuses: number[], fallback?: number): void;
  /** While true, requests get no answer at all. */
  hang(on: boolean): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(path = "/hook"): Promise<WebhookReceiver> {
  const received: ReceivedHook[] = [];
  let script: number[] = [];
  let fallback = 200;
  let hanging = false;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() });
      if (hanging) return;
      const status = script.shift() ?? fallback;
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(status < 300 ? "ok" : `receiver says ${status}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    received,
    answer(statuses, fb = 200) {
      script = [...statuses];
      fallback = fb;
    },
    hang(on) {
      hanging = on;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
