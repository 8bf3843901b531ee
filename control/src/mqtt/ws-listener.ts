/**
 * MQTT over WebSockets for the embedded broker (ADR 0070): browsers (the console, Grafana's MQTT
 * data source) cannot open raw TCP. Bun's own server does the HTTP upgrade and the framing; each
 * connection becomes a node:stream Duplex of MQTT bytes that the broker hands to the same packet
 * guard and the same aedes hooks as a TCP socket, so authentication, ACLs, client-id binding and
 * size limits are one code path for every transport.
 */
import { Duplex } from "node:stream";
import type { Server, ServerWebSocket } from "bun";

/** The path browsers connect to (documented in docs/telemetry.md; mosquitto takes any path). */
export const MQTT_WS_PATH = "/mqtt";

/** Subprotocols of MQTT over WebSockets (3.1.1 and 3.1); a browser fails a handshake that echoes none. */
const SUBPROTOCOLS = ["mqtt", "mqttv3.1"];

export interface WsListenerOptions {
  host: string;
  /** 0 picks an ephemeral port. */
  port: number;
  /** The one path that upgrades (default `/mqtt`); anything else is 404. */
  path?: string;
  /** Largest WebSocket message taken (a frame over it closes the connection with 1009). */
  maxMessageBytes: number;
  /** A new connection: MQTT bytes in and out, and where it came from. */
  onConnection(conn: Duplex, remote: { address: string; label: string }): void;
}

export interface WsListener {
  port: number;
  path: string;
  close(): Promise<void>;
}

interface WsData {
  address: string;
  label: string;
  conn?: Duplex;
  /** The write waiting for `drain` (Bun queued it past its backpressure mark). */
  drained?: () => void;
}

/** The MQTT byte stream of one WebSocket: binary messages in, binary messages out. */
function wsStream(ws: ServerWebSocket<WsData>): Duplex {
  let paused = false;
  const send = (chunk: Buffer, cb: (err?: Error | null) => void) => {
    const status = ws.sendBinary(chunk);
    // -1: queued under backpressure (sent later, wait for drain); 0: the socket is gone.
    if (status === -1) ws.data.drained = () => cb();
    else if (status === 0) cb(new Error("websocket closed"));
    else cb();
  };
  return new Duplex({
    read() {
      if (!paused) return;
      paused = false;
      ws.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      send(chunk, cb);
    },
    writev(chunks, cb) {
      send(Buffer.concat(chunks.map((c) => c.chunk as Buffer)), cb);
    },
    final(cb) {
      ws.close(1000);
      cb();
    },
    destroy(err, cb) {
      // Closing an already closed socket is a no-op in Bun.
      ws.close(1000);
      cb(err);
    },
  }).on("pause-source", () => {
    paused = true;
    ws.pause();
  });
}

export async function startWsListener(o: WsListenerOptions): Promise<WsListener> {
  const path = o.path ?? MQTT_WS_PATH;
  const server: Server<WsData> = Bun.serve<WsData>({
    hostname: o.host,
    port: o.port,
    fetch(req, srv) {
      const url = new URL(req.url);
      if (url.pathname !== path) return new Response("not found\n", { status: 404 });
      if (req.headers.get("upgrade")?.toLowerCase() !== "websocket")
        return new Response(`MQTT over WebSockets: connect with ws://host:port${path}\n`, {
          status: 426,
          headers: { upgrade: "websocket" },
        });
      const offered = (req.headers.get("sec-websocket-protocol") ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      const chosen = offered.find((p) => SUBPROTOCOLS.includes(p));
      if (offered.length > 0 && !chosen)
        return new Response(`unsupported subprotocol; use one of ${SUBPROTOCOLS.join(", ")}\n`, {
          status: 400,
        });
      const ip = srv.requestIP(req);
      const address = ip?.address ?? "unknown";
      const upgraded = srv.upgrade(req, {
        data: { address, label: `ws:${address}:${ip?.port ?? "?"}` },
        ...(chosen ? { headers: { "sec-websocket-protocol": chosen } } : {}),
      });
      return upgraded ? undefined : new Response("upgrade failed\n", { status: 400 });
    },
    websocket: {
      maxPayloadLength: o.maxMessageBytes,
      // aedes enforces MQTT keep-alive itself; a client that sends no PINGREQ is cut by it.
      idleTimeout: 0,
      sendPings: false,
      open(ws) {
        const conn = wsStream(ws);
        ws.data.conn = conn;
        o.onConnection(conn, { address: ws.data.address, label: ws.data.label });
      },
      message(ws, message) {
        const conn = ws.data.conn;
        if (!conn) return;
        // MQTT over WebSockets is binary only (MQTT 3.1.1, 6.0).
        if (typeof message === "string") {
          ws.close(1003, "MQTT needs binary frames");
          return;
        }
        if (!conn.push(message)) conn.emit("pause-source");
      },
      drain(ws) {
        const next = ws.data.drained;
        ws.data.drained = undefined;
        next?.();
      },
      close(ws) {
        const conn = ws.data.conn;
        if (!conn) return;
        conn.push(null);
        conn.destroy();
      },
    },
  });
  return {
    port: server.port ?? o.port,
    path,
    async close() {
      // true: open connections are closed too (otherwise stop waits for them).
      await server.stop(true);
    },
  };
}
