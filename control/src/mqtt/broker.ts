/**
 * Embedded MQTT broker (aedes over node:net) used when MQTT_URL is unset, so a single
 * `./dionysia up` needs no external broker. aedes speaks MQTT 3.1.1, which is why the whole
 * contract stays 3.1.1 compatible. In-memory persistence: retained messages live as long as
 * the control process; origins re-announce on reconnect and control republishes desired state.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "@dionysia/shared";
import { Aedes } from "aedes";

export interface EmbeddedBrokerOptions {
  host?: string;
  /** 0 picks an ephemeral port. */
  port?: number;
  logger?: Logger;
}

export interface EmbeddedBroker {
  url: string;
  port: number;
  /** Connected clients (for metrics and tests). */
  clients(): number;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(o: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = o.host ?? "127.0.0.1";
  const log = o.logger?.child({ component: "mqtt-broker" });
  const aedes = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    aedes.handle(socket);
  });
  aedes.on("clientError", (client, err) =>
    log?.debug({ clientId: client?.id, err: err.message }, "client error"),
  );
  aedes.on("connectionError", (_client, err) => log?.debug({ err: err.message }, "connection error"));

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 1883, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : (o.port ?? 1883);
  const urlHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  log?.info({ host, port }, "embedded MQTT broker listening");

  let closed: Promise<void> | undefined;
  return {
    url: `mqtt://${urlHost}:${port}`,
    port,
    clients: () => aedes.connectedClients,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Open client sockets would keep server.close() waiting forever.
        for (const s of sockets) s.destroy();
        aedes.close();
      });
      return closed;
    },
  };
}
