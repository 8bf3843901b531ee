import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import {
  createLogger,
  type NodeAnnounce,
  type NodeState,
  type NodeTelemetry,
  type StreamStatusMessage,
  topics,
} from "@dionysia/shared";
import { type Mosquitto, requireMosquitto, startMosquitto, waitFor } from "@dionysia/shared/testkit";
import mqtt, { type MqttClient } from "mqtt";
import { startEmbeddedBroker } from "../src/mqtt/broker.ts";
import { ControlBus, type StateSource } from "../src/mqtt/bus.ts";
import { buildDesired } from "../src/mqtt/messages.ts";
import { routeFor } from "../src/scheduler/routes.ts";
import {
  sampleAnnounce,
  sampleDesiredStream,
  sampleStatus,
  sampleTelemetry,
} from "./helpers/mqttFixtures.ts";

const logger = createLogger({ service: "test", level: "silent" });

class Recorder {
  announces: NodeAnnounce[] = [];
  states: { nodeId: string; s: NodeState; source: StateSource }[] = [];
  telemetry: { nodeId: string; t: NodeTelemetry }[] = [];
  statuses: StreamStatusMessage[] = [];
  throwOnAnnounce = false;
  onAnnounce(a: NodeAnnounce) {
    if (this.throwOnAnnounce) throw new Error("handler bug");
    this.announces.push(a);
  }
  onState(nodeId: string, s: NodeState, source: StateSource) {
    this.states.push({ nodeId, s, source });
  }
  onTelemetry(nodeId: string, t: NodeTelemetry) {
    this.telemetry.push({ nodeId, t });
  }
  onStreamStatus(s: StreamStatusMessage) {
    this.statuses.push(s);
  }
}

async function client(url: string, auth: Credential = {}): Promise<MqttClient> {
  const c = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 200, ...auth });
  await new Promise((r) => c.once("connect", r));
  return c;
}

type Credential = { username?: string; password?: string };

interface BrokerUnderTest {
  url: string;
  /** The embedded broker refuses anonymous clients: tests connect as control. */
  auth?: Credential;
  stop(): Promise<void>;
  mosquitto?: Mosquitto;
}

const hasMosquitto = requireMosquitto("control/test/mqtt-bus.test.ts (ControlBus over mosquitto)");

const brokers: [string, () => Promise<BrokerUnderTest>, boolean][] = [
  [
    "mosquitto",
    async () => {
      const m = await startMosquitto();
      return { url: m.url, stop: () => m.stop(), mosquitto: m };
    },
    !hasMosquitto,
  ],
  [
    "embedded aedes",
    async () => {
      // Packets up to 16 MiB, so the bus's own size check (8 MiB) is what these tests exercise.
      const b = await startEmbeddedBroker({ port: 0, maxPacketBytes: 16 * 1024 * 1024 });
      return { url: b.url, stop: () => b.close(), auth: b.control };
    },
    false,
  ],
];

for (const [name, start, skip] of brokers) {
  describe.skipIf(skip)(`ControlBus over ${name}`, () => {
    let broker: BrokerUnderTest;
    const closers: (() => unknown)[] = [];
    beforeAll(async () => {
      broker = await start();
    });
    afterEach(async () => {
      for (const c of closers.splice(0).reverse()) await c();
    });
    afterAll(async () => {
      await broker.stop();
    });

    async function bus(rec: Recorder, telemetryIntervalMs = 2000) {
      const b = new ControlBus({
        url: broker.url,
        ...broker.auth,
        handler: rec,
        logger,
        telemetryIntervalMs,
        reconnectPeriodMs: 200,
      });
      closers.push(() => b.close());
      await b.start();
      return b;
    }
    async function pub() {
      const c = await client(broker.url, broker.auth);
      closers.push(() => c.endAsync(true));
      return c;
    }

    test("delivers valid announce, state, telemetry and stream status to the handler", async () => {
      const rec = new Recorder();
      const p = await pub();
      // Retained announce published before control connects is still seen.
      await p.publishAsync(topics.nodeAnnounce("n1"), JSON.stringify(sampleAnnounce("n1")), {
        qos: 1,
        retain: true,
      });
      await bus(rec);
      await p.publishAsync(topics.nodeState("n1"), JSON.stringify({ state: "online" }), {
        qos: 1,
        retain: true,
      });
      await p.publishAsync(topics.nodeTelemetry("n1"), JSON.stringify(sampleTelemetry({ loadUsed: 42 })), {
        qos: 1,
      });
      await p.publishAsync(topics.streamStatus("n1", "s1"), JSON.stringify(sampleStatus("s1", "n1")), {
        qos: 1,
      });
      await waitFor(
        "status, telemetry and state received",
        () => rec.statuses.length === 1 && rec.telemetry.length === 1 && rec.states.length === 1,
        5000,
      );
      await waitFor("the announce", () => rec.announces.length === 1, 5000);
      expect(rec.announces[0]?.id).toBe("n1");
      expect(rec.states[0]).toMatchObject({ nodeId: "n1", s: { state: "online" }, source: "message" });
      expect(rec.telemetry[0]).toMatchObject({ nodeId: "n1", t: { loadUsed: 42 } });
      expect(rec.statuses[0]).toMatchObject({ id: "s1", nodeId: "n1", status: "live" });
      await p.publishAsync(topics.nodeAnnounce("n1"), "", { qos: 1, retain: true });
      await p.publishAsync(topics.nodeState("n1"), "", { qos: 1, retain: true });
    });

    test("garbage, truncated, non-UTF-8, oversized and mismatched payloads are dropped, never crash", async () => {
      const rec = new Recorder();
      const b = await bus(rec);
      const p = await pub();
      const tel = topics.nodeTelemetry("n2");
      const good = JSON.stringify(sampleTelemetry());
      const bad: [string, string | Buffer][] = [
        [tel, "not json at all"],
        [tel, good.slice(0, good.length / 2)],
        [tel, Buffer.from([0xff, 0xfe, 0x7b, 0x7d])],
        [tel, JSON.stringify({ ...sampleTelemetry(), cpu: -1 })],
        [tel, JSON.stringify({ hello: "world" })],
        [tel, "null"],
        [tel, "[]"],
        [tel, Buffer.alloc(9 * 1024 * 1024, 0x20)],
        [topics.nodeAnnounce("n2"), JSON.stringify(sampleAnnounce("someone-else"))],
        [topics.streamStatus("n2", "s9"), JSON.stringify(sampleStatus("s8", "n2"))],
        // A status naming another node than the topic's (the sender's own tree) is not trusted.
        [topics.streamStatus("n2", "s9"), JSON.stringify(sampleStatus("s9", "n3"))],
        [topics.nodeState("n2"), JSON.stringify({ state: "exploded" })],
        ["dionysia/v1/nodes/bad.id/telemetry", good],
      ];
      for (const [t, payload] of bad) await p.publishAsync(t, payload, { qos: 1 });
      rec.throwOnAnnounce = true;
      await p.publishAsync(topics.nodeAnnounce("n2"), JSON.stringify(sampleAnnounce("n2")), { qos: 1 });
      await waitFor("all drops counted", () => b.counts.dropped >= bad.length + 1, 10_000);
      rec.throwOnAnnounce = false;
      // Still working afterwards.
      await p.publishAsync(tel, good, { qos: 1 });
      await waitFor("valid telemetry after garbage", () => rec.telemetry.length === 1, 5000);
      expect(rec.announces).toEqual([]);
      expect(rec.statuses).toEqual([]);
      expect(rec.states).toEqual([]);
      expect(b.counts.dropped).toBe(bad.length + 1);
      const metrics = await b.registry.metrics();
      expect(metrics).toMatch(/dionysia_mqtt_messages_dropped_total\{reason="too_large"\} 1/);
      expect(metrics).toMatch(/dionysia_mqtt_messages_dropped_total\{reason="not_json"\} 3/);
      expect(metrics).toMatch(/dionysia_mqtt_messages_dropped_total\{reason="id_mismatch"\} 3/);
      expect(metrics).toMatch(/dionysia_mqtt_messages_dropped_total\{reason="handler_error"\} 1/);
      expect(metrics).toMatch(/dionysia_mqtt_connected 1/);
    });

    test("a node whose telemetry stops for 3 intervals is marked offline, and online when it resumes", async () => {
      const rec = new Recorder();
      await bus(rec, 150);
      const p = await pub();
      const t0 = Date.now();
      await p.publishAsync(topics.nodeTelemetry("n3"), JSON.stringify(sampleTelemetry()), { qos: 1 });
      await waitFor(
        "silence",
        () => rec.states.find((s) => s.nodeId === "n3" && s.source === "silence"),
        5000,
      );
      const silentAfter = Date.now() - t0;
      expect(silentAfter).toBeGreaterThanOrEqual(450);
      expect(silentAfter).toBeLessThan(2000);
      expect(rec.states.at(-1)?.s.state).toBe("offline");
      await p.publishAsync(topics.nodeTelemetry("n3"), JSON.stringify(sampleTelemetry()), { qos: 1 });
      await waitFor("back online", () => rec.states.at(-1)?.source === "telemetry", 5000);
      expect(rec.states.at(-1)?.s.state).toBe("online");
      // A node that said goodbye (LWT offline) is not reported again by the detector.
      await p.publishAsync(topics.nodeState("n3"), JSON.stringify({ state: "offline" }), { qos: 1 });
      await waitFor("the state message", () => rec.states.at(-1)?.source === "message", 5000);
      const n = rec.states.length;
      await new Promise((r) => setTimeout(r, 700));
      expect(rec.states.length).toBe(n);
    });

    test("desired state and routes are retained QoS 1; deleting clears them", async () => {
      const rec = new Recorder();
      const b = await bus(rec);
      const desired = buildDesired("n4", 3, [sampleDesiredStream("s1")]);
      await b.publishDesired("n4", desired);
      const route = routeFor(
        {
          id: "s1",
          playbackPolicy: "public",
          status: "live",
          nodeId: "n4",
          transcodeNodeId: null,
          liveNodeId: "n4",
          reservedUntil: null,
        },
        new Map([
          ["n4", { id: "n4", publicUrl: "http://n4:8090", region: "eu", lat: 1, lon: 1, online: true }],
        ]),
      );
      if (!route) throw new Error("route expected");
      await b.publishRoute(route);
      const late = await pub();
      const got = new Map<string, { payload: string; retain: boolean; qos: number }>();
      late.on("message", (t, payload, packet) =>
        got.set(t, { payload: String(payload), retain: packet.retain, qos: packet.qos }),
      );
      await late.subscribeAsync([topics.nodeDesired("n4"), topics.route("s1")], { qos: 1 });
      await waitFor("retained desired + route", () => got.size === 2, 5000);
      expect(JSON.parse(got.get(topics.nodeDesired("n4"))?.payload ?? "")).toEqual(desired);
      expect(JSON.parse(got.get(topics.route("s1"))?.payload ?? "")).toEqual(route);
      expect(got.get(topics.route("s1"))).toMatchObject({ retain: true, qos: 1 });
      await expect(b.publishDesired("other", desired)).rejects.toThrow();
      await b.deleteRoute("s1");
      await b.clearDesired("n4");
      const later = await pub();
      const after: string[] = [];
      later.on("message", (t) => after.push(t));
      await later.subscribeAsync([topics.nodeDesired("n4"), topics.route("s1")], { qos: 1 });
      await later.publishAsync("marker", "x", { qos: 1 });
      await new Promise((r) => setTimeout(r, 300));
      expect(after).toEqual([]);
    });

    // Only mosquitto can be killed and restarted on the same port here (aedes runs in-process).
    if (name === "mosquitto")
      test("republishes retained desired state and routes after a broker restart", async () => {
        const m = broker.mosquitto as Mosquitto;
        const rec = new Recorder();
        const b = await bus(rec);
        await b.publishDesired("n5", buildDesired("n5", 1, [sampleDesiredStream("s5")]));
        await m.kill();
        await waitFor("bus to notice", () => !b.connected, 5000);
        await m.restart();
        await waitFor("bus to reconnect", () => b.connected, 10_000);
        const late = await pub();
        const got: string[] = [];
        late.on("message", (_t, payload) => got.push(String(payload)));
        await late.subscribeAsync(topics.nodeDesired("n5"), { qos: 1 });
        await waitFor("desired republished", () => got.length > 0, 5000);
        expect(JSON.parse(got[0] as string).version).toBe(1);
        // And it still consumes after the restart.
        await late.publishAsync(topics.nodeTelemetry("n5"), JSON.stringify(sampleTelemetry()), { qos: 1 });
        await waitFor("telemetry after restart", () => rec.telemetry.length === 1, 5000);
      });
  });
}
