/**
 * Issue 9 item 5: control's own stall must not mark every node offline. A node in another process
 * sends telemetry every 100 ms through control's embedded broker (the default, and the case seen:
 * after a stall the broker in control's process forwards the queued beats a few loop turns after
 * the sweep timer fires); control's event loop is then blocked for 1.5 s (five
 * silence timeouts). No silence verdict follows; the detector still catches the node once it
 * really stops.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createLogger, topics } from "@dionysia/shared";
import { waitFor } from "@dionysia/shared/testkit";
import { startEmbeddedBroker } from "../src/mqtt/broker.ts";
import { ControlBus } from "../src/mqtt/bus.ts";
import { sampleTelemetry } from "./helpers/mqttFixtures.ts";

const procs: { kill(): void }[] = [];
afterAll(() => {
  for (const p of procs) p.kill();
});

describe("silence detector under control's own stall", () => {
  test("a 1.5 s stall of control's loop marks no node offline; a real silence still does", async () => {
    const broker = await startEmbeddedBroker({ port: 0 });
    // Where the embedded broker authenticates (issue 9 item 1), control's own credential is used
    // for the bus and the test node alike; without it (anonymous broker) both connect as before.
    const auth = (broker as unknown as { control?: { username?: string; password?: string } }).control ?? {};
    const states: { nodeId: string; state: string; source: string }[] = [];
    const bus = new ControlBus({
      url: broker.url,
      ...auth,
      logger: createLogger({ service: "test", level: "silent" }),
      telemetryIntervalMs: 100,
      reconnectPeriodMs: 200,
      handler: {
        onAnnounce: () => undefined,
        onTelemetry: () => undefined,
        onStreamStatus: () => undefined,
        onState: (nodeId, s, source) => void states.push({ nodeId, state: s.state, source }),
      },
    });
    try {
      await bus.start();
      const node = Bun.spawn(
        [
          "bun",
          "-e",
          `import mqtt from "mqtt";
           const c = mqtt.connect(${JSON.stringify(broker.url)}, { protocolVersion: 4, ...${JSON.stringify(auth)} });
           const t = ${JSON.stringify(sampleTelemetry())};
           c.on("connect", () => setInterval(() => c.publish(${JSON.stringify(topics.nodeTelemetry("n-stall"))}, JSON.stringify({ ...t, ts: Date.now() })), 100));`,
        ],
        { cwd: join(import.meta.dir, ".."), stdout: "ignore", stderr: "inherit" },
      );
      procs.push(node);
      await waitFor("telemetry flowing", () => bus.counts.received >= 5, 10_000);
      // Control's loop is held: no timer, no socket read, for five silence timeouts.
      const until = Date.now() + 1500;
      while (Date.now() < until) {
        /* busy: a pathological request, a GC pause, a starved host */
      }
      const received = bus.counts.received;
      await waitFor("telemetry read again", () => bus.counts.received >= received + 5, 5000);
      await new Promise((r) => setTimeout(r, 500));
      expect(states.filter((s) => s.source === "silence")).toEqual([]);
      expect(bus.silence.stalledTotalMs).toBeGreaterThanOrEqual(1000);
      // The node really stops: it is declared offline after its timeout of heard silence.
      node.kill("SIGKILL");
      await waitFor(
        "silence",
        () => states.some((s) => s.nodeId === "n-stall" && s.source === "silence"),
        5000,
      );
    } finally {
      await bus.close();
      await broker.close();
    }
  }, 60_000);
});
