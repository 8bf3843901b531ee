/**
 * The node registry behind the embedded broker: only an authenticated node registers, a node
 * cannot rewrite another's row or state, implausible announces are refused, and a changed public
 * URL is logged. Each attack checks the API's view of the node rows afterwards.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { nodeClientId, nodePassword, topics } from "@dionysia/shared";
import { waitFor } from "@dionysia/shared/testkit";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { controlConfigSpec } from "../src/config.ts";
import { announce, startControl, type TestControl } from "./helpers/control.ts";

const SECRET = "control-test-node-secret-0123456789";
let c: TestControl;
let url: string;
const clients: MqttClient[] = [];

function connect(nodeId: string | undefined, o: IClientOptions = {}): Promise<MqttClient | Error> {
  const cl = mqtt.connect(url, {
    protocolVersion: 4,
    reconnectPeriod: 0,
    ...(nodeId
      ? { username: nodeId, password: nodePassword(SECRET, nodeId), clientId: nodeClientId(nodeId) }
      : {}),
    ...o,
  });
  clients.push(cl);
  return new Promise((resolve) => {
    cl.once("connect", () => resolve(cl));
    cl.once("error", (err) => {
      cl.end(true);
      resolve(err);
    });
  });
}

async function node(nodeId: string): Promise<MqttClient> {
  const r = await connect(nodeId);
  if (r instanceof Error) throw r;
  return r;
}

async function nodeRow(id: string) {
  const r = await c.api("GET", `/v1/nodes/${id}`);
  return r.status === 200 ? r.body : undefined;
}

beforeAll(async () => {
  c = await startControl({ env: { MQTT_NODE_SECRET: SECRET, NODE_MAX_LOAD_UNITS: "5000" } });
  url = c.control.network?.mqttUrl as string;
});
afterAll(async () => {
  for (const cl of clients) cl.end(true);
  await c.stop();
});

describe("node identity on control's embedded broker", () => {
  test("the embedded broker listens on 127.0.0.1 by default", () => {
    expect(controlConfigSpec.embeddedHost.default).toBe("127.0.0.1");
    expect(url).toStartWith("mqtt://127.0.0.1:");
  });

  test("an anonymous or unenrolled client cannot register a node", async () => {
    const anon = await connect(undefined, { clientId: "evil" });
    expect(anon).toBeInstanceOf(Error);
    const forged = await connect(undefined, {
      username: "evil",
      password: nodePassword("guessed-secret-0123456789", "evil"),
      clientId: nodeClientId("evil"),
    });
    expect(forged).toBeInstanceOf(Error);
    expect(await nodeRow("evil")).toBeUndefined();
  });

  test("a node registers itself; another node cannot rewrite its announce or state", async () => {
    const b = await node("node-b");
    await b.publishAsync(topics.nodeAnnounce("node-b"), JSON.stringify(announce("node-b")), {
      qos: 1,
      retain: true,
    });
    await b.publishAsync(topics.nodeState("node-b"), JSON.stringify({ state: "online" }), {
      qos: 1,
      retain: true,
    });
    const before = await waitFor(
      "node-b",
      async () => (await nodeRow("node-b"))?.state === "online" && nodeRow("node-b"),
      10_000,
    );
    for (const [topic, payload] of [
      [
        topics.nodeAnnounce("node-b"),
        JSON.stringify(
          announce("node-b", { publicUrl: "http://127.0.0.1:9/evil", capacity: { loadUnits: 4000 } }),
        ),
      ],
      [topics.nodeState("node-b"), JSON.stringify({ state: "offline" })],
    ] as const) {
      const a = await node("node-a");
      let closed = false;
      a.on("close", () => {
        closed = true;
      });
      a.publish(topic, payload, { qos: 1, retain: true });
      await waitFor("attacker disconnected", () => closed, 5000);
    }
    // Control still hears node-b (a marker through the same bus), and its row is as it was.
    await b.publishAsync(topics.nodeTelemetry("node-b"), JSON.stringify({ bad: "marker" }), { qos: 1 });
    await waitFor(
      "marker dropped by control",
      () => c.logs().includes("dionysia/v1/nodes/node-b/telemetry"),
      10_000,
    );
    const after = await nodeRow("node-b");
    expect({ ...after, lastSeen: 0 }).toEqual({ ...before, lastSeen: 0 });
    expect(after.publicUrl).toBe("http://node-b.test:8090");
    expect(after.state).toBe("online");
    expect(c.logs()).toContain('"reason":"publish_denied"');
  });

  test("an implausible announce is refused and changes nothing; a changed public URL is logged", async () => {
    const a = await node("node-c");
    await a.publishAsync(topics.nodeAnnounce("node-c"), JSON.stringify(announce("node-c")), {
      qos: 1,
      retain: true,
    });
    await waitFor("node-c", async () => (await nodeRow("node-c"))?.capacity?.loadUnits === 200, 10_000);
    for (const bad of [
      announce("node-c", { capacity: { loadUnits: 1e9 } }),
      announce("node-c", { publicUrl: "file:///etc/passwd" }),
      announce("node-c", { ingest: { rtmp: "rtmp://user:pw@evil.test/live" } }),
    ])
      await a.publishAsync(topics.nodeAnnounce("node-c"), JSON.stringify(bad), { qos: 1, retain: true });
    await a.publishAsync(
      topics.nodeAnnounce("node-c"),
      JSON.stringify(announce("node-c", { publicUrl: "http://moved.test:8090" })),
      {
        qos: 1,
        retain: true,
      },
    );
    const moved = await waitFor(
      "moved announce",
      async () => {
        const r = await nodeRow("node-c");
        return r?.publicUrl === "http://moved.test:8090" && r;
      },
      10_000,
    );
    expect(moved.capacity.loadUnits).toBe(200);
    const logs = c.logs();
    expect(logs).toContain('"reason":"announce_refused"');
    expect(logs).toContain("node public URL changed");
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(metrics).toMatch(/dionysia_mqtt_messages_dropped_total\{reason="announce_refused"\} 3/);
    expect(metrics).toMatch(/dionysia_mqtt_broker_refusals_total\{reason="anonymous"\} \d/);
  });
});
