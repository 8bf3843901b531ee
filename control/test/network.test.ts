/**
 * Control's network layer over a real mosquitto with simulated origins running the real MQTT
 * agent in child processes: registry, nearest placement, full nodes skipped, failover on SIGKILL,
 * overflow transcoding, routes following, deletes, malformed messages, and the scheduler lease
 * moving between two control processes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { type NodeDesired, type Route, topics } from "@dionysia/shared";
import { type Mosquitto, requireMosquitto, startMosquitto, waitFor } from "@dionysia/shared/testkit";
import mqtt from "mqtt";
import { ADMIN_KEY, NODE_KEY, startControl, type TestControl } from "./helpers/control.ts";

const SIM = join(import.meta.dir, "fixtures/sim-node.ts");

interface SimNode {
  id: string;
  proc: ReturnType<typeof Bun.spawn>;
  desired: NodeDesired[];
  last(): NodeDesired | undefined;
}

async function startSim(
  mqttUrl: string,
  id: string,
  lat: number,
  lon: number,
  capacity = 200,
): Promise<SimNode> {
  const proc = Bun.spawn(["bun", SIM], {
    env: {
      ...process.env,
      MQTT_URL: mqttUrl,
      NODE_ID: id,
      NODE_LAT: String(lat),
      NODE_LON: String(lon),
      NODE_CAPACITY: String(capacity),
      TELEMETRY_INTERVAL_MS: "400",
    },
    stdout: "pipe",
    stderr: "inherit",
  });
  const node: SimNode = { id, proc, desired: [], last: () => node.desired.at(-1) };
  let ready = false;
  void (async () => {
    let buf = "";
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
      buf += new TextDecoder().decode(chunk);
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        const msg = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (msg.ready) ready = true;
        if (msg.desired) node.desired.push(msg.desired);
        nl = buf.indexOf("\n");
      }
    }
  })();
  await waitFor(`sim node ${id} ready`, () => ready, 15_000);
  return node;
}

const PROFILE = "builtin-360p"; // cost ≈ 7.2 load units

const hasMosquitto = requireMosquitto("control/test/network.test.ts (control network over mosquitto)");

describe.skipIf(!hasMosquitto)("control network over mosquitto", () => {
  let broker: Mosquitto;
  let c: TestControl;
  const sims = new Map<string, SimNode>();
  const routes = new Map<string, Route | null>();
  let watcher: mqtt.MqttClient;

  beforeAll(async () => {
    broker = await startMosquitto();
    c = await startControl({
      env: { MQTT_URL: broker.url, TELEMETRY_INTERVAL_MS: "400", RECONCILE_INTERVAL_MS: "500" },
    });
    watcher = mqtt.connect(broker.url, { protocolVersion: 4 });
    watcher.on("message", (topic, payload) => {
      const id = topic.split("/").pop() as string;
      routes.set(id, payload.length ? (JSON.parse(payload.toString()) as Route) : null);
    });
    await new Promise<void>((r) =>
      watcher.on("connect", () => watcher.subscribe("dionysia/v1/routes/+", () => r())),
    );
    sims.set("paris", await startSim(broker.url, "paris", 48.8566, 2.3522));
    sims.set("paris-full", await startSim(broker.url, "paris-full", 48.857, 2.353, 1));
    sims.set("london", await startSim(broker.url, "london", 51.5074, -0.1278));
    sims.set("berlin-small", await startSim(broker.url, "berlin-small", 52.52, 13.405, 2));
  }, 60_000);

  afterAll(async () => {
    for (const s of sims.values()) s.proc.kill("SIGKILL");
    await Promise.all([...sims.values()].map((s) => s.proc.exited));
    watcher?.end(true);
    await c?.stop();
    await broker?.stop();
  });

  test("GET /v1/nodes shows every origin online with location, capacity and live load", async () => {
    const body = await waitFor(
      "4 nodes online",
      async () => {
        const r = await c.api("GET", "/v1/nodes");
        const items = (r.body.items ?? r.body) as { id: string; state: string; load: { streams: number } }[];
        return items.length === 4 && items.every((n) => n.state === "online") ? items : undefined;
      },
      10_000,
    );
    const paris = body.find((n) => n.id === "paris") as unknown as {
      lat: number;
      lon: number;
      capacity: { loadUnits: number };
      region: string;
    };
    expect(paris.lat).toBeCloseTo(48.8566, 3);
    expect(paris.lon).toBeCloseTo(2.3522, 3);
    expect(paris.capacity.loadUnits).toBe(200);
  });

  let pullId = "";
  test("a pull stream lands on the nearest node with headroom (the full one is skipped)", async () => {
    const r = await c.api("POST", "/v1/streams", {
      body: {
        name: "camera",
        profileId: PROFILE,
        source: "rtsp://camera.test/stream",
        location: { lat: 48.86, lon: 2.35 },
      },
    });
    expect(r.status).toBe(201);
    pullId = r.body.id;
    const paris = sims.get("paris") as SimNode;
    await waitFor(
      "paris desired has the stream",
      () => paris.last()?.streams.some((s) => s.id === pullId),
      5000,
    );
    const entry = paris.last()?.streams.find((s) => s.id === pullId);
    expect(entry?.role).toBe("origin");
    expect(entry?.source).toBe("rtsp://camera.test/stream");
    expect(
      sims
        .get("paris-full")
        ?.last()
        ?.streams.some((s) => s.id === pullId) ?? false,
    ).toBe(false);
    await waitFor("route to paris", () => routes.get(pullId)?.origins[0]?.nodeId === "paris", 5000);
    const s = await c.api("GET", `/v1/streams/${pullId}`);
    expect(s.body.nodeId).toBe("paris");
  });

  test("SIGKILL of the node moves its pull stream to the next nearest within 5 s; the route follows", async () => {
    const paris = sims.get("paris") as SimNode;
    const started = Date.now();
    paris.proc.kill("SIGKILL");
    await paris.proc.exited;
    sims.delete("paris");
    const london = sims.get("london") as SimNode;
    await waitFor(
      "london desired has the stream",
      () => london.last()?.streams.some((s) => s.id === pullId),
      5000,
    );
    await waitFor("route to london", () => routes.get(pullId)?.origins[0]?.nodeId === "london", 5000);
    expect(Date.now() - started).toBeLessThan(5000);
    const n = await c.api("GET", "/v1/nodes/paris");
    expect(n.body.state).toBe("offline");
  });

  test("stream status from the carrying node shows in the API; a stale node's report is ignored", async () => {
    const pub = mqtt.connect(broker.url, { protocolVersion: 4 });
    await new Promise<void>((r) => pub.on("connect", () => r()));
    const report = (nodeId: string, status: string, extra = {}) =>
      pub.publishAsync(
        topics.streamStatus(nodeId, pullId),
        JSON.stringify({ id: pullId, nodeId, status, ts: Date.now(), ...extra }),
        { qos: 1, retain: true },
      );
    await report("london", "live", { bitrateKbps: 1234, fps: 29.97, speed: 1.01 });
    const s = await waitFor(
      "status live with the report's stats",
      async () => {
        const r = await c.api("GET", `/v1/streams/${pullId}`);
        return r.body.status === "live" && r.body.stats?.bitrateKbps === 1234 ? r.body : undefined;
      },
      5000,
    );
    expect(s.stats).toMatchObject({ bitrateKbps: 1234, fps: 29.97, speed: 1.01 });
    // The dead node's late report must not overwrite the live one.
    await report("paris", "idle");
    await report("london", "live", { bitrateKbps: 1300 });
    await waitFor(
      "second london report",
      async () => (await c.api("GET", `/v1/streams/${pullId}`)).body.stats?.bitrateKbps === 1300,
      5000,
    );
    expect((await c.api("GET", `/v1/streams/${pullId}`)).body.status).toBe("live");
    await pub.endAsync();
  });

  test("overflow: a node without transcode headroom ingests, a neighbour transcodes", async () => {
    const r = await c.api("POST", "/v1/streams", { body: { name: "push", profileId: PROFILE } });
    const id = r.body.id as string;
    const auth = await c.api("POST", "/v1/ingest/authorize", {
      key: NODE_KEY,
      body: { streamKey: r.body.streamKey, nodeId: "berlin-small", protocol: "rtmp" },
    });
    expect(auth.status).toBe(200);
    const berlin = sims.get("berlin-small") as SimNode;
    await waitFor(
      "berlin ingests",
      () => berlin.last()?.streams.find((s) => s.id === id)?.role === "ingest",
      5000,
    );
    const london = sims.get("london") as SimNode;
    await waitFor(
      "london transcodes",
      () => london.last()?.streams.find((s) => s.id === id)?.role === "transcode",
      5000,
    );
    const t = london.last()?.streams.find((s) => s.id === id);
    expect(t?.pullFrom).toBe(`rtmp://berlin-small.test:1935/relay/${id}`);
    await waitFor(
      "route to london",
      () =>
        routes
          .get(id)
          ?.origins.map((o) => o.nodeId)
          .join() === "london",
      5000,
    );
  });

  test("deleting a stream clears its desired entry and its route", async () => {
    const d = await c.api("DELETE", `/v1/streams/${pullId}`);
    expect(d.status).toBe(204);
    const london = sims.get("london") as SimNode;
    await waitFor("desired entry gone", () => !london.last()?.streams.some((s) => s.id === pullId), 5000);
    await waitFor("route deleted", () => routes.get(pullId) === null, 5000);
  });

  test("garbage, truncated and oversized messages crash nothing", async () => {
    const pub = mqtt.connect(broker.url, { protocolVersion: 4 });
    await new Promise<void>((r) => pub.on("connect", () => r()));
    const bad = ["", "{", "null", JSON.stringify({ id: "x" }), "x".repeat(9 * 1024 * 1024), "\xff\xfe"];
    for (const p of bad) {
      await pub.publishAsync(topics.nodeAnnounce("evil"), p);
      await pub.publishAsync(topics.nodeTelemetry("london"), p);
      await pub.publishAsync(topics.streamStatus("london", "abc"), p);
    }
    await pub.endAsync();
    const h = await fetch(`${c.url}/health`);
    expect(h.status).toBe(200);
    const nodes = await c.api("GET", "/v1/nodes");
    expect((nodes.body.items ?? nodes.body).some((n: { id: string }) => n.id === "evil")).toBe(false);
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(metrics).toMatch(/dionysia_mqtt_messages_dropped_total\{reason="(invalid|not_json)"\} [1-9]/);
  });
});

describe.skipIf(!hasMosquitto)("scheduler lease across two control processes", () => {
  test("killing the lease holder lets the other schedule within a few seconds", async () => {
    const broker = await startMosquitto();
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "dionysia-lease-"));
    const ports: number[] = [];
    const spawnControl = async () => {
      const proc = Bun.spawn(["bun", join(import.meta.dir, "../src/main.ts")], {
        env: {
          ...process.env,
          CONTROL_HOST: "127.0.0.1",
          CONTROL_PORT: "0",
          DATABASE_URL: `file:${join(dir, "control.db")}`,
          DIONYSIA_ADMIN_KEY: ADMIN_KEY,
          MQTT_URL: broker.url,
          SCHEDULER_LEASE_TTL_MS: "1500",
          RECONCILE_INTERVAL_MS: "300",
          LOG_LEVEL: "info",
        },
        stdout: "pipe",
        stderr: "inherit",
      });
      const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
      let out = "";
      const port = await waitFor(
        "control port",
        async () => {
          const { value } = await reader.read();
          out += new TextDecoder().decode(value);
          const m = /"port":(\d+)/.exec(out);
          return m ? Number(m[1]) : undefined;
        },
        20_000,
      );
      // Keep draining stdout so the child never blocks on a full pipe.
      void (async () => {
        while (!(await reader.read()).done) {}
      })();
      ports.push(port);
      return { proc, port };
    };
    const leaderGauge = async (port: number) => {
      const m = /^dionysia_control_scheduler_leader (\d)$/m.exec(
        await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
      );
      return m ? Number(m[1]) : -1;
    };
    const a = await spawnControl();
    await waitFor("A leads", async () => (await leaderGauge(a.port)) === 1, 10_000);
    const b = await spawnControl();
    try {
      await waitFor("B follows", async () => (await leaderGauge(b.port)) === 0, 10_000);
      const sim = await startSim(broker.url, "solo", 10, 10);
      a.proc.kill("SIGKILL");
      await a.proc.exited;
      const killedAt = Date.now();
      await waitFor("B takes the lease", async () => (await leaderGauge(b.port)) === 1, 10_000);
      expect(Date.now() - killedAt).toBeLessThan(5000);
      const r = await fetch(`http://127.0.0.1:${b.port}/v1/streams`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "cam", profileId: PROFILE, source: "srt://cam.test:9000" }),
      });
      const id = ((await r.json()) as { id: string }).id;
      await waitFor("B placed the stream", () => sim.last()?.streams.some((s) => s.id === id), 5000);
      sim.proc.kill("SIGKILL");
      await sim.proc.exited;
    } finally {
      a.proc.kill("SIGKILL");
      b.proc.kill("SIGTERM");
      await b.proc.exited;
      await broker.stop();
    }
  }, 60_000);
});
