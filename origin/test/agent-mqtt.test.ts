import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createLogger, type NodeDesired, topics } from "@dionysia/shared";
import { type Mosquitto, requireMosquitto, startMosquitto, waitFor } from "@dionysia/shared/testkit";
import mqtt, { type MqttClient } from "mqtt";
import {
  sampleAnnounce,
  sampleDesiredStream,
  sampleTelemetry,
} from "../../control/test/helpers/mqttFixtures.ts";
import { OriginAgent } from "../src/agent/agent.ts";

const logger = createLogger({ service: "test", level: "silent" });
const hasMosquitto = requireMosquitto("origin/test/agent-mqtt.test.ts (OriginAgent over mosquitto)");

interface Seen {
  topic: string;
  payload: string;
  retain: boolean;
  at: number;
}

describe.skipIf(!hasMosquitto)("OriginAgent over mosquitto", () => {
  let broker: Mosquitto;
  const closers: (() => unknown)[] = [];
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    await broker.stop();
  });

  async function watcher(filter: string | string[]): Promise<{ c: MqttClient; seen: Seen[] }> {
    const c = mqtt.connect(broker.url, { protocolVersion: 4, reconnectPeriod: 200 });
    closers.push(() => c.endAsync(true));
    const seen: Seen[] = [];
    c.on("message", (topic, payload, packet) =>
      seen.push({ topic, payload: String(payload), retain: packet.retain, at: Date.now() }),
    );
    c.on("connect", () => void c.subscribe(filter, { qos: 1 }));
    await new Promise((r) => c.once("connect", r));
    await c.subscribeAsync(filter, { qos: 1 });
    return { c, seen };
  }

  function agent(nodeId: string, o: { intervalMs?: number; onDesired?: (d: NodeDesired) => void } = {}) {
    const a = new OriginAgent({
      mqttUrl: broker.url,
      nodeId,
      announce: () => sampleAnnounce(nodeId, { ts: Date.now() }),
      telemetry: () => sampleTelemetry(),
      onDesired: o.onDesired ?? (() => undefined),
      logger,
      intervalMs: o.intervalMs ?? 2000,
      reconnectPeriodMs: 200,
    });
    closers.push(() => a.stop());
    return a;
  }

  test("announce and state are retained (late subscriber sees them); telemetry every ~2 s", async () => {
    const a = agent("agent-a");
    await a.start();
    expect(a.connected).toBe(true);
    // Once a first subscriber has received the announce, the broker holds it: a subscriber that
    // comes later must get it as a retained message.
    const early = await watcher("dionysia/v1/nodes/agent-a/#");
    await waitFor(
      "announce reached the broker",
      () => early.seen.some((s) => s.topic === topics.nodeAnnounce("agent-a")),
      10_000,
    );
    const { seen } = await watcher("dionysia/v1/nodes/agent-a/#");
    await waitFor(
      "3 telemetry",
      () => seen.filter((s) => s.topic.endsWith("/telemetry")).length >= 3,
      10_000,
    );
    const announce = seen.find((s) => s.topic === topics.nodeAnnounce("agent-a"));
    expect(announce?.retain).toBe(true);
    expect(JSON.parse(announce?.payload ?? "{}")).toMatchObject({
      id: "agent-a",
      region: "eu",
      capacity: { loadUnits: 100 },
    });
    const state = seen.find((s) => s.topic === topics.nodeState("agent-a"));
    expect(state?.retain).toBe(true);
    expect(JSON.parse(state?.payload ?? "{}").state).toBe("online");
    const tel = seen.filter((s) => s.topic.endsWith("/telemetry"));
    const gaps = tel.slice(1).map((t, i) => t.at - (tel[i] as Seen).at);
    // ~2 s apart; the bounds leave room for a loaded CI machine's timer jitter.
    for (const g of gaps.slice(-1)) {
      expect(g).toBeGreaterThan(1200);
      expect(g).toBeLessThan(3500);
    }
    expect(tel.every((t) => !t.retain)).toBe(true);
    expect(JSON.parse(tel[0]?.payload ?? "{}").loadCapacity).toBe(100);
    // A clean stop says offline itself.
    await a.stop();
    await waitFor(
      "the offline state",
      () => seen.some((s) => s.topic.endsWith("/state") && s.payload.includes("offline")),
      5000,
    );
  });

  test("an origin process killed with SIGKILL is reported offline by its last will", async () => {
    const { seen } = await watcher(topics.nodeState("agent-k"));
    const agentPath = join(import.meta.dir, "../src/agent/agent.ts");
    const fixtures = join(import.meta.dir, "../../control/test/helpers/mqttFixtures.ts");
    const code = `
      import { OriginAgent } from ${JSON.stringify(agentPath)};
      import { sampleAnnounce, sampleTelemetry } from ${JSON.stringify(fixtures)};
      const a = new OriginAgent({ mqttUrl: ${JSON.stringify(broker.url)}, nodeId: "agent-k",
        announce: () => sampleAnnounce("agent-k"), telemetry: () => sampleTelemetry(), onDesired: () => {} });
      await a.start();
      console.log("ready");
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ["-e", code], {
      cwd: join(import.meta.dir, ".."),
      stdio: ["ignore", "pipe", "inherit"],
    });
    closers.push(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    await waitFor("child online", () => seen.some((s) => s.payload.includes("online")), 15_000);
    const killedAt = Date.now();
    child.kill("SIGKILL");
    const off = await waitFor("LWT offline", () => seen.find((s) => s.payload.includes("offline")), 10_000);
    expect(JSON.parse(off.payload)).toEqual({ state: "offline" });
    expect(off.at - killedAt).toBeLessThan(3000);
    // Retained: a subscriber arriving later still learns the node is offline.
    const late = await watcher(topics.nodeState("agent-k"));
    await waitFor("retained state", () => late.seen.length > 0, 5000);
    expect(late.seen[0]).toMatchObject({ retain: true, payload: '{"state":"offline"}' });
  });

  test("garbage, truncated, oversized, wrong-node and stale desired payloads are dropped; the agent keeps working", async () => {
    const applied: NodeDesired[] = [];
    const a = agent("agent-g", { onDesired: (d) => void applied.push(d) });
    await a.start();
    const { c } = await watcher("none");
    const topic = topics.nodeDesired("agent-g");
    const v5: NodeDesired = { version: 5, nodeId: "agent-g", streams: [sampleDesiredStream("s1")] };
    await c.publishAsync(topic, JSON.stringify(v5), { qos: 1 });
    await waitFor("v5 applied", () => applied.length === 1, 5000);
    const good = JSON.stringify({ ...v5, version: 6 });
    const bad: (string | Buffer)[] = [
      "garbage",
      good.slice(0, 40),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.alloc(9 * 1024 * 1024, 0x41),
      JSON.stringify({ ...v5, version: 9, nodeId: "someone-else" }),
      JSON.stringify({ ...v5, version: 4 }),
      JSON.stringify({ version: 10, nodeId: "agent-g", streams: [{ id: "x" }] }),
    ];
    for (const p of bad) await c.publishAsync(topic, p, { qos: 1 });
    await waitFor("all dropped", () => a.counts.desiredDropped === bad.length, 10_000);
    expect(applied.map((d) => d.version)).toEqual([5]);
    expect(a.desired?.version).toBe(5);
    await c.publishAsync(topic, good, { qos: 1 });
    await waitFor("v6 applied", () => applied.length === 2, 5000);
    expect(applied[1]?.version).toBe(6);
    expect(a.connected).toBe(true);
  });

  test("a version that ran ahead cannot lock control out: the broker's retained copy wins at the next subscribe", async () => {
    const applied: NodeDesired[] = [];
    const a = agent("agent-v", { onDesired: (d) => void applied.push(d) });
    await a.start();
    const { c } = await watcher("none");
    const topic = topics.nodeDesired("agent-v");
    // Far ahead but plausible (2^53-1 is refused outright as implausible: desired-guard.test.ts).
    const ahead: NodeDesired = { version: 500_000, nodeId: "agent-v", streams: [] };
    await c.publishAsync(topic, JSON.stringify(ahead), { qos: 1 });
    await waitFor("version far ahead applied", () => applied.length === 1, 5000);
    // Control's real state, retained: live it is older than the one in force, so it waits...
    const real: NodeDesired = { version: 16, nodeId: "agent-v", streams: [sampleDesiredStream("s16")] };
    await c.publishAsync(topic, JSON.stringify(real), { qos: 1, retain: true });
    await waitFor("live older version dropped as stale", () => a.counts.desiredDropped === 1, 5000);
    // ...until the next (re)subscribe, when the broker's retained copy is authoritative.
    (a.client as unknown as { stream: { destroy(): void } }).stream.destroy();
    await waitFor("retained desired applied after reconnect", () => applied.length === 2, 10_000);
    expect(applied[1]?.version).toBe(16);
    expect(a.desired?.streams.map((x) => x.id)).toEqual(["s16"]);
    await c.publishAsync(topic, "", { qos: 1, retain: true });
  });

  test("survives a broker restart: reconnects, re-announces, re-publishes statuses and still receives desired", async () => {
    const applied: NodeDesired[] = [];
    const a = agent("agent-r", { intervalMs: 500, onDesired: (d) => void applied.push(d) });
    await a.start();
    await a.publishStreamStatus({ id: "s7", nodeId: "agent-r", status: "live", ts: Date.now() });
    const ctl = await watcher("none");
    await ctl.c.publishAsync(
      topics.nodeDesired("agent-r"),
      JSON.stringify({ version: 1, nodeId: "agent-r", streams: [sampleDesiredStream("s7")] }),
      { qos: 1, retain: true },
    );
    await waitFor("v1", () => applied.length === 1, 5000);

    await broker.kill();
    await waitFor("agent notices the broker is gone", () => !a.connected, 5000);
    // Local state is kept while disconnected.
    expect(a.desired?.version).toBe(1);
    await broker.restart();
    await waitFor("agent reconnects", () => a.connected && a.counts.connects >= 2, 15_000);

    // The restarted broker had no retained messages (persistence off): the agent re-announced.
    // `late` may subscribe before or after the agent re-publishes (a race on a loaded machine):
    // before, it gets them live (retain flag 0); after, retained. Either proves the re-publish...
    const filter = ["dionysia/v1/nodes/agent-r/+", topics.streamStatus("agent-r", "s7")];
    const republished = (seen: Seen[], retained: boolean) => {
      const ok = (s: Seen) => !retained || s.retain;
      return (
        seen.some((s) => s.topic.endsWith("/announce") && ok(s)) &&
        seen.some((s) => s.topic.endsWith("/state") && ok(s) && s.payload.includes("online")) &&
        seen.some((s) => s.topic === topics.streamStatus("agent-r", "s7") && ok(s))
      );
    };
    const late = await watcher(filter);
    await waitFor("re-announce, state and status after restart", () => republished(late.seen, false), 10_000);
    // ...and once seen they are retained: a subscriber arriving now gets all three from the broker.
    const fresh = await watcher(filter);
    await waitFor("re-announce, state and status retained", () => republished(fresh.seen, true), 10_000);
    await waitFor(
      "telemetry after restart",
      () => late.seen.some((s) => s.topic.endsWith("/telemetry")),
      5000,
    );
    // Re-subscribed: a new desired version arrives.
    await late.c.publishAsync(
      topics.nodeDesired("agent-r"),
      JSON.stringify({ version: 2, nodeId: "agent-r", streams: [] }),
      { qos: 1, retain: true },
    );
    await waitFor("v2 after restart", () => applied.length === 2, 5000);
    expect(applied.map((d) => d.version)).toEqual([1, 2]);
    await late.c.publishAsync(topics.nodeDesired("agent-r"), "", { qos: 1, retain: true });
  });
});
