/**
 * The contract end to end over a real mosquitto: origin agents at different locations announce
 * to control's ControlBus; placement picks the nearest node and its agent receives the desired
 * state; an agent that dies abruptly is reported offline by its last will and planFailover
 * moves its pull stream to the next nearest node, whose agent receives it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createLogger, type NodeAnnounce, type NodeDesired, type NodeTelemetry } from "@dionysia/shared";
import { type Mosquitto, requireMosquitto, startMosquitto, waitFor } from "@dionysia/shared/testkit";
import { ControlBus } from "../../control/src/mqtt/bus.ts";
import { buildDesired } from "../../control/src/mqtt/messages.ts";
import type { NodeView } from "../../control/src/scheduler/placement.ts";
import { placeStream } from "../../control/src/scheduler/placement.ts";
import { planFailover } from "../../control/src/scheduler/plans.ts";
import {
  sampleAnnounce,
  sampleDesiredStream,
  sampleTelemetry,
} from "../../control/test/helpers/mqttFixtures.ts";
import { OriginAgent } from "../src/agent/agent.ts";

const logger = createLogger({ service: "test", level: "silent" });
const hasMosquitto = requireMosquitto("origin/test/agent-bus.test.ts (origin agents + control bus)");

describe.skipIf(!hasMosquitto)("origin agents + control bus + placement", () => {
  let broker: Mosquitto;
  let bus: ControlBus;
  const agents = new Map<string, OriginAgent>();
  const received = new Map<string, NodeDesired[]>();
  const registry = new Map<string, NodeView>();

  beforeAll(async () => {
    broker = await startMosquitto();
    bus = new ControlBus({
      url: broker.url,
      logger,
      telemetryIntervalMs: 300,
      handler: {
        onAnnounce(a: NodeAnnounce) {
          const prev = registry.get(a.id);
          registry.set(a.id, {
            id: a.id,
            lat: a.lat,
            lon: a.lon,
            region: a.region,
            online: prev?.online ?? true,
            cordoned: false,
            draining: false,
            capacity: a.capacity.loadUnits,
            used: prev?.used ?? 0,
            relayUrl: a.ingest.relay ?? null,
          });
        },
        onState(nodeId, s) {
          const n = registry.get(nodeId);
          if (n) n.online = s.state === "online";
        },
        onTelemetry(nodeId: string, t: NodeTelemetry) {
          const n = registry.get(nodeId);
          if (n) n.used = t.loadUsed;
        },
        onStreamStatus() {},
      },
    });
    await bus.start();
    const sites: [string, number, number, number][] = [
      ["paris", 48.85, 2.35, 5], // nearly full: 5 units left
      ["london", 51.5, -0.12, 100],
      ["berlin", 52.52, 13.4, 100],
    ];
    for (const [id, lat, lon, capacity] of sites) {
      received.set(id, []);
      const a = new OriginAgent({
        mqttUrl: broker.url,
        nodeId: id,
        announce: () => sampleAnnounce(id, { lat, lon, capacity: { loadUnits: capacity } }),
        telemetry: () => sampleTelemetry({ loadUsed: 0, loadCapacity: capacity, streams: [] }),
        onDesired: (d) => void received.get(id)?.push(d),
        logger,
        intervalMs: 300,
        reconnectPeriodMs: 200,
      });
      agents.set(id, a);
      await a.start();
    }
    await waitFor("three announces", () => registry.size === 3, 10_000);
  });

  afterAll(async () => {
    for (const a of agents.values()) await a.stop();
    await bus.close();
    await broker.stop();
  });

  test("a stream lands on the nearest node with headroom; after SIGKILL-like death it moves within 5 s", async () => {
    const nodes = () => [...registry.values()].map((n) => ({ ...n }));
    // Near Paris, but Paris has 5 units left and the stream costs 10: the next nearest is London.
    const stream = { id: "pull1", cost: 10, location: { lat: 48.9, lon: 2.3 } };
    const full = placeStream(stream, nodes());
    expect(full).toEqual({ nodeId: "london" });
    // A small stream fits Paris.
    expect(placeStream({ ...stream, cost: 2 }, nodes())).toEqual({ nodeId: "paris" });

    let version = 1;
    await bus.publishDesired(
      "london",
      buildDesired("london", version++, [sampleDesiredStream("pull1", { source: "rtsp://cam/1" })]),
    );
    await waitFor("london receives desired", () => received.get("london")?.length === 1, 5000);
    expect(received.get("london")?.[0]?.streams.map((s) => s.id)).toEqual(["pull1"]);

    // Abrupt death of london: the socket vanishes without DISCONNECT (like SIGKILL) and stays gone.
    const london = agents.get("london") as OriginAgent;
    london.client.options.reconnectPeriod = 0;
    const killedAt = Date.now();
    (london.client as unknown as { stream: { destroy(): void } }).stream.destroy();
    await waitFor("london offline via LWT", () => registry.get("london")?.online === false, 5000);

    const plan = planFailover(
      "london",
      [{ id: "pull1", cost: 10, nodeId: "london", role: "origin", pull: true, location: stream.location }],
      nodes(),
    );
    expect(plan).toEqual([
      { streamId: "pull1", action: "move", from: "london", to: "berlin", role: "origin" },
    ]);
    await bus.publishDesired(
      "berlin",
      buildDesired("berlin", version++, [sampleDesiredStream("pull1", { source: "rtsp://cam/1" })]),
    );
    await waitFor("berlin receives desired", () => received.get("berlin")?.length === 1, 5000);
    expect(Date.now() - killedAt).toBeLessThan(5000);
    expect(received.get("berlin")?.[0]?.streams[0]?.id).toBe("pull1");
  });
});
