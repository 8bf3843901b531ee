/**
 * Telemetry benchmark: control's ControlBus consuming telemetry from N simulated nodes at
 * 0.5 Hz through a real mosquitto. Publisher child processes (one MQTT connection each) send
 * each node's telemetry every 2 s, spread evenly; this process runs only the ControlBus with a
 * handler that keeps a node registry in memory (what control does before batching DB writes),
 * and reports its own CPU time over the measurement window as a share of one core.
 *
 *   bun bench/telemetry.ts [--nodes 5000] [--seconds 20] [--publishers 2] [--streams 3] [--broker mosquitto|aedes]
 *
 * `--broker aedes` runs the embedded broker inside this process (control's default without
 * MQTT_URL), so the CPU share then includes the broker's work.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startEmbeddedBroker } from "../control/src/mqtt/broker.ts";
import { ControlBus, type ControlBusHandler } from "../control/src/mqtt/bus.ts";
import type { NodeTelemetry } from "../shared/src/index.ts";
import { startMosquitto, waitFor } from "../shared/src/testkit/index.ts";

const { values: args } = parseArgs({
  options: {
    nodes: { type: "string", default: "5000" },
    seconds: { type: "string", default: "20" },
    publishers: { type: "string", default: "2" },
    streams: { type: "string", default: "3" },
    broker: { type: "string", default: "mosquitto" },
  },
});
const NODES = Number(args.nodes);
const SECONDS = Number(args.seconds);
const PUBLISHERS = Number(args.publishers);
const STREAMS = Number(args.streams);
const PERIOD_MS = 2000;

const EMBEDDED = args.broker === "aedes";
// The embedded broker refuses anonymous clients: the bus and the publishers (each standing in for
// many nodes) connect with control's credential there.
const broker: { url: string; stop(): Promise<void>; auth?: { username: string; password: string } } = EMBEDDED
  ? await startEmbeddedBroker({ port: 0 }).then((b) => ({
      url: b.url,
      stop: () => b.close(),
      auth: b.control,
    }))
  : await startMosquitto();
const registry = new Map<string, { lastSeen: number; load: number; cpu: number; streams: number }>();
let telemetry = 0;
const handler: ControlBusHandler = {
  onAnnounce() {},
  onState() {},
  onTelemetry(nodeId: string, t: NodeTelemetry) {
    telemetry++;
    const r = registry.get(nodeId);
    if (r) {
      r.lastSeen = t.ts;
      r.load = t.loadUsed;
      r.cpu = t.cpu;
      r.streams = t.streams.length;
    } else registry.set(nodeId, { lastSeen: t.ts, load: t.loadUsed, cpu: t.cpu, streams: t.streams.length });
  },
  onStreamStatus() {},
};
const bus = new ControlBus({ url: broker.url, ...broker.auth, handler, telemetryIntervalMs: PERIOD_MS });
await bus.start();

const mqttPath = join(import.meta.dir, "../control/node_modules/mqtt/build/index.js");
const publisherCode = (from: number, to: number) => `
  const mqtt = (await import(${JSON.stringify(mqttPath)})).default;
  const c = mqtt.connect(${JSON.stringify(broker.url)}, { protocolVersion: 4, ...${JSON.stringify(broker.auth ?? {})} });
  await new Promise((r) => c.once("connect", r));
  const n = ${to - from}, from = ${from}, period = ${PERIOD_MS}, tick = 20;
  const rate = n / period; // messages per ms, paced by the clock so timer drift does not lower it
  const streams = Array.from({ length: ${STREAMS} }, (_, i) => ({ id: "s" + i, status: "live", bitrateKbps: 3000, fps: 30, speed: 1.01, load: 9.2 }));
  let next = 0, budget = 0, last = performance.now();
  setInterval(() => {
    const now = performance.now();
    budget += (now - last) * rate;
    last = now;
    while (budget >= 1) {
      budget--;
      const id = "sim-" + (from + next);
      next = (next + 1) % n;
      const t = { ts: Date.now(), cpu: 0.42, memory: { usedBytes: 2e9, totalBytes: 8e9 }, loadUsed: 27.6,
        loadCapacity: 80, ingressBps: 6e6, egressBps: 4e7, streams };
      c.publish("dionysia/v1/nodes/" + id + "/telemetry", JSON.stringify(t), { qos: 0 });
    }
  }, tick);
  console.log("publishing");
`;
const children: ChildProcess[] = [];
const per = Math.ceil(NODES / PUBLISHERS);
for (let p = 0; p < PUBLISHERS; p++) {
  const from = p * per;
  const to = Math.min(NODES, from + per);
  children.push(
    spawn(process.execPath, ["-e", publisherCode(from, to)], { stdio: ["ignore", "ignore", "inherit"] }),
  );
}

try {
  // Warm-up: every node has reported at least once.
  await waitFor("all nodes seen", () => registry.size >= NODES, 30_000, 100);
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  const m0 = telemetry;
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const cpu = process.cpuUsage(c0);
  const wallS = (performance.now() - w0) / 1000;
  const msgs = telemetry - m0;
  const share = (cpu.user + cpu.system) / 1e6 / wallS;
  console.log(
    `telemetry: ${NODES} nodes at ${1000 / PERIOD_MS} Hz through ${EMBEDDED ? "embedded aedes (in this process)" : "mosquitto"}, ${PUBLISHERS} publisher processes`,
  );
  console.log(
    `  window ${wallS.toFixed(1)} s: ${msgs} messages (${(msgs / wallS).toFixed(0)}/s, expected ${(NODES * 1000) / PERIOD_MS}/s)`,
  );
  console.log(
    `  ControlBus process CPU: ${(share * 100).toFixed(1)} % of one core (user ${(cpu.user / 1e6).toFixed(2)} s, system ${(cpu.system / 1e6).toFixed(2)} s)`,
  );
  console.log(`  dropped: ${bus.counts.dropped}, nodes in registry: ${registry.size}`);
  console.log(`  target: <= 25 % of one core: ${share <= 0.25 ? "PASS" : "FAIL"}`);
} finally {
  for (const c of children) c.kill("SIGKILL");
  await bus.close();
  await broker.stop();
}
