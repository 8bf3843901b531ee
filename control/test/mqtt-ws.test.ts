/**
 * MQTT over WebSockets (ADR 0070) on the embedded aedes broker and on a real mosquitto configured
 * by the generated files: mqtt.js over ws:// gets exactly what it gets over TCP. The dashboard
 * credential reads telemetry, state, announce and stream status, nothing else, and publishes
 * nothing; a node over WebSockets is held to its own tree; anonymous and oversized are refused.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { nodeClientId, topics } from "@dionysia/shared";
import { requireMosquitto, waitFor } from "@dionysia/shared/testkit";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { startEmbeddedBroker } from "../src/mqtt/broker.ts";
import { sampleAnnounce, sampleTelemetry } from "./helpers/mqttFixtures.ts";
import {
  type Cred,
  type SecureBroker,
  startSecureAedes,
  startSecureMosquitto,
} from "./helpers/secureBrokers.ts";

const NODE = "edge-ws";
const MAX_PACKET = 64 * 1024;
const open: MqttClient[] = [];

interface Conn {
  c: MqttClient;
  seen: { topic: string; payload: string }[];
  closed: boolean;
}

function attempt(url: string, cred: Cred | undefined, opts: IClientOptions = {}): Promise<Conn | string> {
  const c = mqtt.connect(url, {
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...cred,
    ...opts,
  });
  open.push(c);
  const conn: Conn = { c, seen: [], closed: false };
  c.on("message", (topic, payload) => conn.seen.push({ topic, payload: String(payload) }));
  c.on("close", () => {
    conn.closed = true;
  });
  return new Promise((resolve) => {
    c.once("connect", () => resolve(conn));
    c.once("error", (err) => {
      c.end(true);
      resolve(err.message);
    });
    c.once("close", () => resolve("closed before CONNACK"));
  });
}

async function connect(url: string, cred: Cred, opts: IClientOptions = {}): Promise<Conn> {
  const r = await attempt(url, cred, opts);
  if (typeof r === "string") throw new Error(`${cred.username} could not connect over ${url}: ${r}`);
  return r;
}

/** QoS 1 publish: "acked", or "closed" (aedes closes on a denied publish; mqtt.js never rejects it). */
function publish(conn: Conn, topic: string, payload: string): Promise<"acked" | "closed"> {
  if (conn.closed) return Promise.resolve("closed");
  return new Promise((resolve) => {
    conn.c.once("close", () => resolve("closed"));
    conn.c.publishAsync(topic, payload, { qos: 1 }).then(
      () => resolve("acked"),
      () => resolve("closed"),
    );
  });
}

async function subscribe(conn: Conn, filter: string): Promise<number> {
  try {
    return (await conn.c.subscribeAsync(filter, { qos: 1 }))[0]?.qos ?? 128;
  } catch {
    return 128;
  }
}

afterAll(() => {
  for (const c of open) c.end(true);
});

const brokers: [string, () => Promise<SecureBroker>][] = [
  ["embedded aedes", () => startSecureAedes({ ws: true, maxPacketBytes: MAX_PACKET })],
];
if (requireMosquitto("control/test/mqtt-ws.test.ts (mosquitto's generated WebSocket listener)"))
  brokers.push(["mosquitto", () => startSecureMosquitto([NODE], { ws: true, maxPacketBytes: MAX_PACKET })]);

for (const [name, start] of brokers) {
  describe(`MQTT over WebSockets: ${name}`, () => {
    let broker: SecureBroker;
    let wsUrl: string;
    beforeAll(async () => {
      broker = await start();
      wsUrl = broker.wsUrl as string;
      expect(wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/);
    });
    afterAll(() => broker.stop());

    test("a node over ws publishes its own tree; the dashboard over ws reads it, read-only", async () => {
      const node = await connect(wsUrl, broker.node(NODE), { clientId: nodeClientId(NODE) });
      const dash = await connect(wsUrl, broker.dashboard, { clientId: "dash-ws-1" });
      for (const f of [
        "dionysia/v1/nodes/+/telemetry",
        "dionysia/v1/nodes/+/state",
        "dionysia/v1/nodes/+/announce",
        "dionysia/v1/nodes/+/streams/+/status",
        "dionysia/v1/events/+",
      ])
        expect(await subscribe(dash, f)).toBe(1);
      if (name === "embedded aedes") {
        // Only aedes answers a refused filter with 0x80; mosquitto grants it and delivers nothing.
        expect(await subscribe(dash, "#")).toBe(128);
        expect(await subscribe(dash, "dionysia/v1/nodes/+/desired")).toBe(128);
        expect(await subscribe(dash, "dionysia/v1/routes/+")).toBe(128);
      } else {
        await subscribe(dash, "#");
        await subscribe(dash, "dionysia/v1/routes/+");
      }
      const control = await connect(broker.url, broker.control);
      await control.c.publishAsync(topics.route("s1"), JSON.stringify({ id: "s1" }), {
        qos: 1,
        retain: true,
      });
      await control.c.publishAsync(topics.nodeDesired(NODE), "{}", { qos: 1, retain: true });
      await node.c.publishAsync(topics.nodeAnnounce(NODE), JSON.stringify(sampleAnnounce(NODE)), {
        qos: 1,
        retain: true,
      });
      await node.c.publishAsync(topics.nodeTelemetry(NODE), JSON.stringify(sampleTelemetry()), { qos: 1 });
      await node.c.publishAsync(topics.streamStatus(NODE, "s1"), '{"status":"live"}', { qos: 1 });
      await waitFor(
        "dashboard sees telemetry, announce and status over ws",
        () =>
          [topics.nodeTelemetry(NODE), topics.nodeAnnounce(NODE), topics.streamStatus(NODE, "s1")].every(
            (t) => dash.seen.some((s) => s.topic === t),
          ),
        5000,
      );
      // A node over ws cannot write another node's tree (aedes closes it, mosquitto drops it).
      const watcher = await connect(broker.url, broker.controlAs("watch"), { clientId: "watch-ws" });
      await watcher.c.subscribeAsync("dionysia/v1/nodes/other/#", { qos: 1 });
      const nodeTry = await publish(node, topics.nodeState("other"), '{"state":"online"}');
      // The dashboard's publishes change nothing either.
      const dashTry = await publish(dash, topics.nodeState("other"), '{"state":"offline"}');
      if (name === "embedded aedes") expect([nodeTry, dashTry]).toEqual(["closed", "closed"]);
      await control.c.publishAsync("dionysia/v1/nodes/other/marker", "m", { qos: 1 });
      await waitFor("marker", () => watcher.seen.some((s) => s.topic.endsWith("/marker")), 5000);
      expect(watcher.seen.map((s) => s.topic)).toEqual(["dionysia/v1/nodes/other/marker"]);
      const seenKinds = new Set(dash.seen.map((s) => s.topic.split("/").at(-1)));
      expect(seenKinds.has("desired")).toBe(false);
      expect(dash.seen.some((s) => s.topic.startsWith("dionysia/v1/routes/"))).toBe(false);
      if (broker.refusals) {
        const r = broker.refusals();
        expect(r.publish_denied).toBeGreaterThanOrEqual(2);
        expect(r.subscribe_denied).toBeGreaterThanOrEqual(3);
      }
      for (const c of [node, dash, control, watcher]) c.c.end(true);
    });

    test("anonymous and wrong passwords are refused over ws", async () => {
      expect(typeof (await attempt(wsUrl, undefined, { clientId: "anon-ws" }))).toBe("string");
      const bad = await attempt(wsUrl, { ...broker.dashboard, password: "not-the-password-0000" });
      expect(typeof bad).toBe("string");
    });

    // Our packet guard on the WebSocket path; mosquitto 2.0.11's WebSocket listener does not cut
    // the connection (its max_packet_size drops the packet), so only aedes is asserted here.
    test.skipIf(name !== "embedded aedes")(
      "a packet over the size limit closes the ws connection",
      async () => {
        const dash = await connect(wsUrl, broker.dashboard, { clientId: "dash-ws-big" });
        dash.c.publish(topics.nodeTelemetry(NODE), Buffer.alloc(MAX_PACKET * 2), { qos: 0 });
        await waitFor("oversized packet closes the connection", () => dash.closed, 5000);
        if (broker.refusals) expect(broker.refusals().packet_too_large).toBeGreaterThanOrEqual(1);
      },
    );
  });
}

describe("embedded WebSocket listener", () => {
  test("only /mqtt upgrades; a plain GET is told to upgrade; a foreign subprotocol is refused", async () => {
    const b = await startEmbeddedBroker({ port: 0, ws: { port: 0 } });
    try {
      const base = `http://127.0.0.1:${b.wsPort}`;
      expect((await fetch(`${base}/`)).status).toBe(404);
      expect((await fetch(`${base}/mqtt`)).status).toBe(426);
      const foreign = await fetch(`${base}/mqtt`, {
        headers: {
          upgrade: "websocket",
          connection: "Upgrade",
          "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
          "sec-websocket-version": "13",
          "sec-websocket-protocol": "chat",
        },
      });
      expect(foreign.status).toBe(400);
      // Browsers fail a handshake that does not echo their subprotocol: it must be "mqtt".
      const ws = new WebSocket(b.wsUrl as string, ["mqtt"]);
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      expect(ws.protocol).toBe("mqtt");
      ws.close();
    } finally {
      await b.close();
    }
  });

  test("a taken WebSocket port fails the start and leaves no TCP listener behind", async () => {
    const first = await startEmbeddedBroker({ port: 0, ws: { port: 0 } });
    try {
      await expect(startEmbeddedBroker({ port: 0, ws: { port: first.wsPort as number } })).rejects.toThrow();
    } finally {
      await first.close();
    }
  });
});
