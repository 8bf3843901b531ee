/**
 * One routes rule (issue 8): the retained MQTT route and GET /v1/routes agree at every step of a
 * failover (both "no origins": routers answer 503, never 404); DELETE /v1/nodes/{id} clears the
 * node's retained topics on an external broker.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Route, topics } from "@dionysia/shared";
import { hasMosquitto, startMosquitto, waitFor } from "@dionysia/shared/testkit";
import mqtt from "mqtt";
import { setNodeState, upsertNodeFromAnnounce } from "../src/nodes/service.ts";
import { announce, NODE_KEY, ROUTER_KEY, startControl, type TestControl } from "./helpers/control.ts";

const strip = (r: Route | null | undefined) => (r ? { ...r, ts: 0 } : r);

describe("routes during a failover", () => {
  let c: TestControl;
  let client: mqtt.MqttClient;
  const mqttRoutes = new Map<string, Route | null>();

  beforeAll(async () => {
    c = await startControl({ env: { RECONCILE_INTERVAL_MS: "200", RECONNECT_GRACE_MS: "0" } });
    client = mqtt.connect(c.control.network?.mqttUrl as string, {
      protocolVersion: 4,
      // The embedded broker takes only known identities: these clients speak as control.
      username: c.control.network?.broker?.control.username,
      password: c.control.network?.broker?.control.password,
    });
    client.on("message", (topic, p) => {
      mqttRoutes.set(topic.split("/").pop() as string, p.length ? (JSON.parse(p.toString()) as Route) : null);
    });
    await new Promise<void>((r) => client.on("connect", () => r()));
    await client.subscribeAsync("dionysia/v1/routes/+", { qos: 1 });
  });
  afterAll(async () => {
    await client?.endAsync();
    await c?.stop();
  });

  /** Waits until MQTT and GET /v1/routes both give `origins` (node ids; undefined = no route). */
  async function bothSay(id: string, origins: string[] | undefined, what: string) {
    await waitFor(
      `${what}: MQTT and GET /v1/routes both ${JSON.stringify(origins)}`,
      async () => {
        const http = ((await c.api("GET", "/v1/routes", { key: ROUTER_KEY })).body.routes as Route[]).find(
          (r) => r.id === id,
        );
        const viaMqtt = mqttRoutes.get(id) ?? undefined;
        const ids = (r: Route | undefined) => r?.origins.map((o) => o.nodeId);
        if (JSON.stringify(ids(http)) !== JSON.stringify(origins)) return false;
        if (JSON.stringify(ids(viaMqtt)) !== JSON.stringify(origins)) return false;
        // Not just the same origins: the same route.
        expect(strip(viaMqtt)).toEqual(strip(http));
        return true;
      },
      10_000,
    );
  }

  const report = (id: string, nodeId: string, status: string) =>
    client.publishAsync(
      topics.streamStatus(nodeId, id),
      JSON.stringify({ id, nodeId, status, ts: Date.now() }),
      {
        qos: 1,
      },
    );

  test("live -> its node dies -> reclaimed elsewhere -> live again", async () => {
    await upsertNodeFromAnnounce(c.control.db, announce("old"));
    await upsertNodeFromAnnounce(c.control.db, announce("new", { lat: 50, lon: 3 }));
    const s = (await c.api("POST", "/v1/streams", { body: { name: "fo", profileId: "builtin-360p" } })).body;
    await bothSay(s.id, undefined, "never published");
    const claim = (nodeId: string) =>
      c.api("POST", "/v1/ingest/authorize", {
        key: NODE_KEY,
        body: { streamKey: s.streamKey, nodeId, protocol: "rtmp" },
      });
    expect((await claim("old")).status).toBe(200);
    await bothSay(s.id, [], "starting");
    await report(s.id, "old", "live");
    await bothSay(s.id, ["old"], "live on old");
    // The node dies: the push stream is unassigned, waiting for its streamer.
    await setNodeState(c.control.db, "old", "offline", c.control.events);
    await bothSay(s.id, [], "failing over");
    await waitFor(
      "unassigned",
      async () => (await c.api("GET", `/v1/streams/${s.id}`)).body.nodeId === null,
      10_000,
    );
    await bothSay(s.id, [], "unassigned after its node died");
    expect((await claim("new")).status).toBe(200);
    await bothSay(s.id, [], "starting on new");
    await report(s.id, "new", "live");
    await bothSay(s.id, ["new"], "live on new");
    // Stopped on a healthy node (grace 0 here): not routed any more.
    await report(s.id, "new", "idle");
    await bothSay(s.id, undefined, "stopped");
  }, 60_000);
});

describe.skipIf(!hasMosquitto)("DELETE /v1/nodes/{id} on an external broker", () => {
  test("clears the node's retained announce, state and desired state", async () => {
    const broker = await startMosquitto();
    const c = await startControl({ env: { MQTT_URL: broker.url, RECONCILE_INTERVAL_MS: "200" } });
    const node = mqtt.connect(broker.url, { protocolVersion: 4 });
    try {
      await new Promise<void>((r) => node.on("connect", () => r()));
      await node.publishAsync(topics.nodeAnnounce("gone"), JSON.stringify(announce("gone")), {
        qos: 1,
        retain: true,
      });
      await node.publishAsync(topics.nodeState("gone"), JSON.stringify({ state: "online", ts: Date.now() }), {
        qos: 1,
        retain: true,
      });
      await waitFor("node known", async () => (await c.api("GET", "/v1/nodes/gone")).status === 200, 10_000);
      const retained = async () => {
        const probe = mqtt.connect(broker.url, { protocolVersion: 4 });
        const got: string[] = [];
        let marker = false;
        probe.on("message", (t, p) => {
          if (t === "test/marker") marker = true;
          else if (p.length > 0) got.push(t);
        });
        await new Promise<void>((r) => probe.on("connect", () => r()));
        await probe.publishAsync("test/marker", "x", { qos: 1, retain: true });
        // Retained messages come in subscription order: once the marker is in, so are the node's.
        await probe.subscribeAsync(["dionysia/v1/nodes/gone/+", "test/marker"], { qos: 1 });
        await waitFor("marker", () => marker, 5000);
        await probe.endAsync();
        return got.sort();
      };
      await waitFor(
        "announce, state and desired retained",
        async () => (await retained()).length === 3,
        10_000,
      );
      expect((await c.api("DELETE", "/v1/nodes/gone")).status).toBe(204);
      await waitFor("retained topics cleared", async () => (await retained()).length === 0, 10_000);
      // A control that starts afresh does not bring the node back.
      const dir = c.dir;
      await c.stop({ keepDir: true });
      const again = await startControl({ dir, env: { MQTT_URL: broker.url } });
      try {
        expect((await retained()).length).toBe(0);
        expect((await again.api("GET", "/v1/nodes/gone")).status).toBe(404);
      } finally {
        await again.stop();
      }
    } finally {
      await node.endAsync();
      await broker.stop();
    }
  }, 60_000);
});
