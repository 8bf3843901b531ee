/**
 * Embedded MQTT broker (aedes over node:net; also over WebSockets when asked, ws-listener.ts) used when MQTT_URL is unset, so a single
 * `./dionysia up` needs no external broker. aedes speaks MQTT 3.1.1, which is why the whole
 * contract stays 3.1.1 compatible. In-memory persistence: retained messages live as long as
 * the control process; origins re-announce on reconnect and control republishes desired state.
 *
 * Security (docs/security.md, ADR 0016): every client authenticates (auth.ts) and gets only its
 * role's topics (shared mqtt-auth.ts) on publish, subscribe and delivery; a client id held by
 * another identity is refused, not taken over; packets over `maxPacketBytes` close the
 * connection before they are buffered; retained messages are budgeted per identity. Every
 * refusal is logged (throttled) and counted in `dionysia_mqtt_broker_refusals_total{reason}`.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { createServer as createTlsServer } from "node:tls";
import {
  addressKey,
  clientIdRefusal,
  FailureLimiter,
  type Logger,
  type MqttIdentity,
  mayPublish,
  mayRead,
  maySubscribe,
} from "@dionysia/shared";
import { Aedes, type AuthenticateError, type Client } from "aedes";
import { Counter, Registry } from "prom-client";
import { type AuthRefusal, type BrokerCredentials, newControlCredential, verifyCredentials } from "./auth.ts";
import { guardedConnection } from "./packet-guard.ts";
import { RetainedBudget } from "./retained-budget.ts";
import { startWsListener } from "./ws-listener.ts";

export type BrokerRefusal =
  | AuthRefusal
  | "rate_limited"
  | "client_id_reserved"
  | "client_id_taken"
  | "will_denied"
  | "publish_denied"
  | "subscribe_denied"
  | "packet_too_large"
  | "malformed"
  | "retained_budget";

export interface EmbeddedBrokerOptions {
  host?: string;
  /** 0 picks an ephemeral port. */
  port?: number;
  logger?: Logger;
  /** Who may connect besides control itself; unset roles are refused. */
  credentials?: Partial<Omit<BrokerCredentials, "control">>;
  /** Largest packet (remaining length) taken; default 256 KiB. */
  maxPacketBytes?: number;
  /** Retained budget per non-control identity; default 1000 topics, 1 MiB. */
  retained?: { maxTopics: number; maxBytes: number };
  /** Failed logins per source address and minute before its connects are refused (0 = off; default 20). */
  authFailuresPerMinute?: number;
  /** Optional TLS listener (PEM contents or file paths). */
  tls?: { cert: string | Buffer; key: string | Buffer; host?: string; port?: number } | undefined;
  /**
   * Optional MQTT over WebSockets listener (ADR 0070): same credentials, ACLs and packet guard as
   * TCP. `path` defaults to `/mqtt`.
   */
  ws?: { host?: string; port?: number; path?: string } | undefined;
  /** Where `dionysia_mqtt_broker_refusals_total` is registered (default: a private registry). */
  registry?: Registry;
}

export interface EmbeddedBroker {
  url: string;
  port: number;
  /** `mqtts://` URL of the TLS listener, when one was asked for. */
  tlsUrl?: string;
  tlsPort?: number;
  /** `ws://host:port/mqtt` of the WebSocket listener, when one was asked for. */
  wsUrl?: string;
  wsPort?: number;
  /** Control's own credential on this broker (random per process). */
  control: { username: string; password: string };
  /** Connected clients (for metrics and tests). */
  clients(): number;
  /** Refusals by reason since start (tests; the same numbers are in the Prometheus counter). */
  refusals(): Partial<Record<BrokerRefusal, number>>;
  close(): Promise<void>;
}

const CONNACK = { identifierRejected: 2, badCredentials: 4, notAuthorized: 5 } as const;

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

function pem(v: string | Buffer): string | Buffer {
  return typeof v === "string" && !v.includes("-----BEGIN") ? readFileSync(v) : v;
}

export async function startEmbeddedBroker(o: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = o.host ?? "127.0.0.1";
  const log = o.logger?.child({ component: "mqtt-broker" });
  const maxPacketBytes = o.maxPacketBytes ?? 256 * 1024;
  const credentials: BrokerCredentials = {
    nodeSecrets: o.credentials?.nodeSecrets ?? [],
    revokedNodes: o.credentials?.revokedNodes,
    routerPassword: o.credentials?.routerPassword,
    dashboardPassword: o.credentials?.dashboardPassword,
    control: newControlCredential(),
  };
  const budget = new RetainedBudget(o.retained?.maxTopics ?? 1000, o.retained?.maxBytes ?? 1024 * 1024);
  const refusalCounter = new Counter({
    name: "dionysia_mqtt_broker_refusals_total",
    help: "Connects, publishes, subscriptions and packets the embedded MQTT broker refused, by reason",
    labelNames: ["reason"],
    registers: [o.registry ?? new Registry()],
  });
  const counts: Partial<Record<BrokerRefusal, number>> = {};
  const lastWarn = new Map<BrokerRefusal, number>();
  const identities = new WeakMap<Client, MqttIdentity>();
  /** Client id → the identity holding it (refuses takeovers by another identity). */
  const holders = new Map<string, { client: Client; username: string }>();
  const wills = new WeakMap<Client, { topic: string } | undefined>();
  const remotes = new WeakMap<Duplex, { address: string; label: string }>();
  // The one failure limiter of every door (shared/src/rate-limit.ts), per source address.
  const limiter = new FailureLimiter({ limit: o.authFailuresPerMinute ?? 20, windowMs: 60_000 });

  const refuse = (reason: BrokerRefusal, detail: Record<string, unknown>) => {
    counts[reason] = (counts[reason] ?? 0) + 1;
    refusalCounter.inc({ reason });
    // Throttled per reason: a hostile client must not flood the log.
    const now = Date.now();
    if (now - (lastWarn.get(reason) ?? 0) >= 5000) {
      lastWarn.set(reason, now);
      log?.warn({ reason, ...detail }, "MQTT refused");
    } else log?.debug({ reason, ...detail }, "MQTT refused");
  };
  const who = (client: Client | null) => ({
    clientId: client?.id,
    username: client ? identities.get(client)?.username : undefined,
    remote: client ? remotes.get(client.conn as Duplex)?.label : undefined,
  });

  const aedes = await Aedes.createBroker({
    preConnect(client, packet, done) {
      wills.set(client, packet.will ? { topic: packet.will.topic } : undefined);
      done(null, true);
    },
    authenticate(client, username, password, done) {
      const remote = remotes.get(client.conn as Duplex);
      const detail = { clientId: client.id, username, remote: remote?.label };
      const now = Date.now();
      if (remote && limiter.check(addressKey(remote.address), now).blocked) {
        refuse("rate_limited", detail);
        return done(authError("too many failed logins from this address", CONNACK.notAuthorized), false);
      }
      const r = verifyCredentials(credentials, username, password);
      if (!r.ok) {
        if (remote) limiter.fail(addressKey(remote.address), now);
        refuse(r.reason, detail);
        const code = r.reason === "anonymous" ? CONNACK.notAuthorized : CONNACK.badCredentials;
        return done(authError(r.reason, code), false);
      }
      const id = r.identity;
      const idRefusal = clientIdRefusal(id, client.id);
      if (idRefusal) {
        refuse("client_id_reserved", { ...detail, detail: idRefusal });
        return done(authError(idRefusal, CONNACK.identifierRejected), false);
      }
      const held = holders.get(client.id);
      if (held && held.username !== id.username && !held.client.closed) {
        refuse("client_id_taken", { ...detail, holder: held.username });
        return done(authError("client id held by another identity", CONNACK.identifierRejected), false);
      }
      const will = wills.get(client);
      if (will && !mayPublish(id, will.topic)) {
        refuse("will_denied", { ...detail, topic: will.topic });
        return done(authError("will topic not allowed", CONNACK.notAuthorized), false);
      }
      identities.set(client, id);
      holders.set(client.id, { client, username: id.username });
      done(null, true);
    },
    authorizePublish(client, packet, done) {
      // null: aedes itself publishing the will of a client that is gone (checked at its connect).
      if (!client) return done(null);
      const id = identities.get(client);
      if (!id || !mayPublish(id, packet.topic)) {
        refuse("publish_denied", { ...who(client), topic: packet.topic });
        // MQTT 3.1.1 has no negative PUBACK: the connection is closed (MQTT-3.3.5-2).
        return done(new Error(`publish to ${packet.topic} not allowed`));
      }
      if (packet.retain) {
        const bytes = packet.payload.length;
        if (!budget.admit(id.username, packet.topic, bytes, id.role === "control")) {
          // Delivered to current subscribers, not kept: a lost retained status heals on reconnect.
          refuse("retained_budget", {
            ...who(client),
            topic: packet.topic,
            usage: budget.usage(id.username),
          });
          packet.retain = false;
        }
      }
      done(null);
    },
    authorizeSubscribe(client, sub, done) {
      const id = identities.get(client);
      if (!id || !maySubscribe(id, sub.topic)) {
        refuse("subscribe_denied", { ...who(client), topic: sub.topic });
        return done(null, null); // SUBACK 0x80 for this filter
      }
      done(null, sub);
    },
    authorizeForward(client, packet) {
      // Defence in depth: even a granted subscription only ever delivers readable topics.
      const id = identities.get(client);
      return id && mayRead(id, packet.topic) ? packet : null;
    },
  });
  aedes.on("clientDisconnect", (client) => {
    if (holders.get(client.id)?.client === client) holders.delete(client.id);
  });
  aedes.on("clientError", (client, err) =>
    log?.debug({ clientId: client?.id, err: err.message }, "client error"),
  );
  aedes.on("connectionError", (_client, err) => log?.debug({ err: err.message }, "connection error"));

  /** Every transport ends here: the packet guard first, then aedes with its hooks above. */
  const handle = (raw: Duplex, remote: { address: string; label: string }) => {
    const conn = guardedConnection(raw, maxPacketBytes, (v) =>
      refuse(v.reason, { remote: remote.label, size: v.size, max: maxPacketBytes }),
    );
    remotes.set(conn, remote);
    aedes.handle(conn);
  };
  const sockets = new Set<Socket>();
  const accept = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const address = socket.remoteAddress ?? "unknown";
    handle(socket, { address, label: `${address}:${socket.remotePort}` });
  };
  const listen = (server: Server, port: number, on: string) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, on, () => {
        server.off("error", reject);
        const addr = server.address();
        resolve(typeof addr === "object" && addr ? addr.port : port);
      });
    });
  const urlHost = (h: string) => (h.includes(":") ? `[${h}]` : h === "0.0.0.0" ? "127.0.0.1" : h);

  const server: Server = createServer(accept);
  const port = await listen(server, o.port ?? 1883, host);
  let tlsServer: Server | undefined;
  let tlsPort: number | undefined;
  if (o.tls) {
    tlsServer = createTlsServer({ cert: pem(o.tls.cert), key: pem(o.tls.key) }, accept);
    tlsPort = await listen(tlsServer, o.tls.port ?? 8883, o.tls.host ?? host);
  }
  const wsHost = o.ws?.host ?? host;
  const ws = o.ws
    ? await startWsListener({
        host: wsHost,
        port: o.ws.port ?? 1884,
        path: o.ws.path,
        // A WebSocket message carries one MQTT packet or a part of one; the guard checks the packet.
        maxMessageBytes: maxPacketBytes + 5,
        onConnection: handle,
      }).catch((err) => {
        // The TCP listeners are up already: a taken WS port must not leave them behind.
        server.close();
        tlsServer?.close();
        aedes.close();
        throw err;
      })
    : undefined;
  log?.info(
    {
      host,
      port,
      tlsPort,
      wsPort: ws?.port,
      maxPacketBytes,
      // Which roles can log in at all (docs/security.md); never the secrets themselves.
      roles: {
        node: credentials.nodeSecrets.length > 0,
        router: !!credentials.routerPassword,
        dashboard: !!credentials.dashboardPassword,
      },
    },
    "embedded MQTT broker listening",
  );

  let closed: Promise<void> | undefined;
  return {
    url: `mqtt://${urlHost(host)}:${port}`,
    port,
    ...(tlsPort !== undefined
      ? { tlsUrl: `mqtts://${urlHost(o.tls?.host ?? host)}:${tlsPort}`, tlsPort }
      : {}),
    ...(ws ? { wsUrl: `ws://${urlHost(wsHost)}:${ws.port}${ws.path}`, wsPort: ws.port } : {}),
    control: { ...credentials.control },
    clients: () => aedes.connectedClients,
    refusals: () => ({ ...counts }),
    close() {
      closed ??= new Promise<void>((resolve) => {
        let pending = tlsServer ? 2 : 1;
        const done = () => {
          if (--pending === 0) resolve();
        };
        server.close(done);
        tlsServer?.close(done);
        // Open client sockets would keep server.close() waiting forever.
        for (const s of sockets) s.destroy();
        aedes.close();
      }).then(() => ws?.close());
      return closed;
    },
  };
}
