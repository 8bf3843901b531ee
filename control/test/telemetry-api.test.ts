/**
 * GET /v1/telemetry/mqtt (ADR 0070): a signed-in console gets the read-only MQTT over WebSockets
 * credential and, with it, reads a node's telemetry straight from control's embedded broker.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { loadConfig, nodeClientId, nodePassword, topics } from "@dionysia/shared";
import { waitFor } from "@dionysia/shared/testkit";
import mqtt, { type MqttClient } from "mqtt";
import { controlConfigSpec } from "../src/config.ts";
import { dashboardCredential } from "../src/telemetry/service.ts";
import { startControl, type TestControl } from "./helpers/control.ts";
import { sampleTelemetry } from "./helpers/mqttFixtures.ts";

const DASHBOARD_PASSWORD = "dashboard-password-for-tests-0123";
const NODE_SECRET = "node-secret-for-telemetry-tests-0123";
const FILTERS = [
  "dionysia/v1/nodes/+/telemetry",
  "dionysia/v1/nodes/+/state",
  "dionysia/v1/nodes/+/announce",
  "dionysia/v1/nodes/+/streams/+/status",
  "dionysia/v1/events/+",
];
const clients: MqttClient[] = [];

function connect(url: string, o: mqtt.IClientOptions): Promise<MqttClient> {
  const c = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...o });
  clients.push(c);
  return new Promise((resolve, reject) => {
    c.once("connect", () => resolve(c));
    c.once("error", reject);
  });
}

afterAll(() => {
  for (const c of clients) c.end(true);
});

describe("GET /v1/telemetry/mqtt with a WebSocket listener and a dashboard password", () => {
  let c: TestControl;
  beforeAll(async () => {
    c = await startControl({
      env: {
        MQTT_EMBEDDED_WS_PORT: "0",
        MQTT_DASHBOARD_PASSWORD: DASHBOARD_PASSWORD,
        MQTT_NODE_SECRET: NODE_SECRET,
      },
    });
  });
  afterAll(() => c.stop());

  test("any API key gets the URL, the read-only user and its filters; no key gets 401", async () => {
    expect((await c.api("GET", "/v1/telemetry/mqtt", { key: null })).status).toBe(401);
    const user = await c.api("POST", "/v1/api-keys", { body: { name: "console", role: "user" } });
    expect(user.status).toBe(201);
    const r = await c.api("GET", "/v1/telemetry/mqtt", { key: user.body.key });
    expect(r.status).toBe(200);
    const wsPort = c.control.network?.broker?.wsPort;
    expect(wsPort).toBeGreaterThan(0);
    expect(r.body).toEqual({
      url: `ws://127.0.0.1:${wsPort}/mqtt`,
      username: "dionysia.dashboard",
      password: DASHBOARD_PASSWORD,
      topics: FILTERS,
    });
    const raw = await fetch(`${c.url}/v1/telemetry/mqtt`, {
      headers: { authorization: `Bearer ${user.body.key}` },
    });
    expect(raw.headers.get("cache-control")).toBe("no-store");
    expect(c.logs()).not.toContain(DASHBOARD_PASSWORD);
  });

  test("with that credential mqtt.js over WebSockets reads a node's telemetry, and nothing more", async () => {
    const cred = (await c.api("GET", "/v1/telemetry/mqtt")).body;
    const dash = await connect(cred.url, { username: cred.username, password: cred.password });
    const seen: string[] = [];
    dash.on("message", (topic) => seen.push(topic));
    for (const f of cred.topics) expect((await dash.subscribeAsync(f, { qos: 1 }))[0]?.qos).toBe(1);
    const refused = await dash.subscribeAsync("dionysia/v1/nodes/+/desired", { qos: 1 }).then(
      (g) => g[0]?.qos,
      () => 128,
    );
    expect(refused).toBe(128);
    const broker = c.control.network?.broker;
    const node = await connect(broker?.url as string, {
      username: "edge-t",
      password: nodePassword(NODE_SECRET, "edge-t"),
      clientId: nodeClientId("edge-t"),
    });
    await node.publishAsync(topics.nodeTelemetry("edge-t"), JSON.stringify(sampleTelemetry()), { qos: 1 });
    await waitFor("telemetry over ws", () => seen.includes(topics.nodeTelemetry("edge-t")), 5000);
    // Read-only: a publish closes its connection, and is logged and counted as publish_denied.
    let closed = false;
    dash.on("close", () => {
      closed = true;
    });
    dash.publish(topics.nodeState("edge-t"), '{"state":"offline"}', { qos: 1 });
    await waitFor("the dashboard's publish closes it", () => closed, 5000);
    expect(broker?.refusals().publish_denied).toBe(1);
    const refusal = c
      .logs()
      .split("\n")
      .find((l) => l.includes('"reason":"publish_denied"'));
    expect(refusal).toContain('"username":"dionysia.dashboard"');
    expect(refusal).toContain(topics.nodeState("edge-t"));
  });

  test("the dashboard reads each platform event live on dionysia/v1/events/{type}, once (ADR 0097)", async () => {
    const cred = (await c.api("GET", "/v1/telemetry/mqtt")).body;
    const dash = await connect(cred.url, { username: cred.username, password: cred.password });
    const got: { topic: string; body: { id: string; type: string; data: { id?: string } } }[] = [];
    dash.on("message", (topic, payload) => got.push({ topic, body: JSON.parse(payload.toString()) }));
    expect((await dash.subscribeAsync("dionysia/v1/events/+", { qos: 1 }))[0]?.qos).toBe(1);
    const created = await c.api("POST", "/v1/streams", { body: { name: "feed" } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await waitFor("stream.created on MQTT", () => got.some((g) => g.body.data.id === id), 5000);
    const deleted = await c.api("DELETE", `/v1/streams/${id}`);
    expect(deleted.status).toBe(204);
    await waitFor(
      "stream.deleted on MQTT",
      () => got.some((g) => g.body.type === "stream.deleted" && g.body.data.id === id),
      5000,
    );
    const mine = got.filter((g) => g.body.data.id === id);
    expect(mine.map((g) => g.topic)).toEqual([
      "dionysia/v1/events/stream.created",
      "dionysia/v1/events/stream.deleted",
    ]);
    // The same events, with the same ids, as GET /v1/events lists them.
    const listed = (await c.api("GET", `/v1/events?streamId=${id}`)).body.items as { id: string }[];
    expect(mine.map((g) => g.body.id).sort()).toEqual(listed.map((e) => e.id).sort());
    // Not retained: a subscriber arriving now gets nothing of them.
    const late = await connect(cred.url, { username: cred.username, password: cred.password });
    let lateSeen = 0;
    late.on("message", () => lateSeen++);
    await late.subscribeAsync("dionysia/v1/events/+", { qos: 1 });
    const probe = await c.api("POST", "/v1/streams", { body: { name: "probe" } });
    await waitFor("the probe's event", () => got.some((g) => g.body.data.id === probe.body.id), 5000);
    await waitFor("the late subscriber gets only the probe's event", () => lateSeen === 1, 5000);
  });

  test("documented in the OpenAPI document", async () => {
    const doc = (await (await fetch(`${c.url}/swagger/json`)).json()) as {
      paths: Record<string, { get?: { responses?: Record<string, unknown> } }>;
    };
    const op = doc.paths["/v1/telemetry/mqtt"]?.get;
    expect(op).toBeDefined();
    expect(Object.keys(op?.responses ?? {})).toEqual(expect.arrayContaining(["200", "401", "404"]));
  });
});

describe("GET /v1/telemetry/mqtt without what it needs", () => {
  test("no dashboard password, or no WebSocket listener: 404 saying which variable to set", async () => {
    const none = await startControl();
    try {
      const r = await none.api("GET", "/v1/telemetry/mqtt");
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe("mqtt_dashboard_unavailable");
      expect(r.body.error.message).toContain("MQTT_DASHBOARD_PASSWORD");
    } finally {
      await none.stop();
    }
    const noWs = await startControl({ env: { MQTT_DASHBOARD_PASSWORD: DASHBOARD_PASSWORD } });
    try {
      const r = await noWs.api("GET", "/v1/telemetry/mqtt");
      expect(r.status).toBe(404);
      expect(r.body.error.message).toContain("MQTT_EMBEDDED_WS_PORT");
      expect(r.text).not.toContain(DASHBOARD_PASSWORD);
    } finally {
      await noWs.stop();
    }
  });

  test("MQTT_WS_PUBLIC_URL wins; a listener on every interface is named by the host the browser used", () => {
    const config = { dashboardPassword: DASHBOARD_PASSWORD, embeddedHost: "0.0.0.0", wsPublicUrl: undefined };
    const ws = { port: 1884, path: "/mqtt" };
    expect(dashboardCredential(config, ws, "edge.example").url).toBe("ws://edge.example:1884/mqtt");
    expect(dashboardCredential({ ...config, embeddedHost: "::1" }, ws, "x").url).toBe("ws://[::1]:1884/mqtt");
    const proxied = { ...config, wsPublicUrl: "wss://mqtt.example/mqtt" };
    expect(dashboardCredential(proxied, undefined, "x").url).toBe("wss://mqtt.example/mqtt");
  });

  test("the variables are validated at start", () => {
    expect(() => loadConfig(controlConfigSpec, { MQTT_WS_PUBLIC_URL: "http://x/mqtt" })).toThrow(
      /MQTT_WS_PUBLIC_URL must use one of: ws, wss/,
    );
    expect(() => loadConfig(controlConfigSpec, { MQTT_DASHBOARD_PASSWORD: "short" })).toThrow(
      /MQTT_DASHBOARD_PASSWORD must be at least 16 characters \(got <redacted>\)/,
    );
    expect(() => loadConfig(controlConfigSpec, { MQTT_EMBEDDED_WS_PORT: "70000" })).toThrow(
      /MQTT_EMBEDDED_WS_PORT/,
    );
  });
});
