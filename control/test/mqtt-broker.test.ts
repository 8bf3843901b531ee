import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createLogger } from "@dionysia/shared";
import { waitFor } from "@dionysia/shared/testkit";
import mqtt, { type MqttClient } from "mqtt";
import { type EmbeddedBroker, startEmbeddedBroker } from "../src/mqtt/broker.ts";

const logger = createLogger({ service: "test", level: "silent" });
let broker: EmbeddedBroker;
const clients: MqttClient[] = [];

function connect(opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  // As control: the broker refuses anonymous clients (mqtt-security.test.ts covers the refusals).
  const c = mqtt.connect(broker.url, { protocolVersion: 4, reconnectPeriod: 0, ...broker.control, ...opts });
  clients.push(c);
  return new Promise((resolve, reject) => {
    c.once("connect", () => resolve(c));
    c.once("error", reject);
  });
}

beforeAll(async () => {
  broker = await startEmbeddedBroker({ port: 0, logger });
});
afterAll(async () => {
  for (const c of clients) c.end(true);
  await broker.close();
});

describe("embedded aedes broker", () => {
  test("listens on an ephemeral port and speaks MQTT 3.1.1", async () => {
    expect(broker.port).toBeGreaterThan(0);
    expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.port}`);
    const c = await connect();
    expect(c.connected).toBe(true);
    expect(broker.clients()).toBeGreaterThanOrEqual(1);
  });

  test("delivers retained messages to a late subscriber", async () => {
    const pub = await connect();
    await pub.publishAsync("t/retained", "hello", { retain: true, qos: 1 });
    const sub = await connect();
    const got: string[] = [];
    sub.on("message", (topic, payload, packet) => {
      if (topic === "t/retained") got.push(`${payload}:${packet.retain}`);
    });
    await sub.subscribeAsync("t/retained", { qos: 1 });
    await waitFor("retained message", () => got.length > 0, 5000);
    expect(got[0]).toBe("hello:true");
    // An empty retained payload clears it.
    await pub.publishAsync("t/retained", "", { retain: true, qos: 1 });
    const late = await connect();
    const after: string[] = [];
    late.on("message", (_t, p) => after.push(String(p)));
    await late.subscribeAsync("t/retained", { qos: 1 });
    await late.publishAsync("t/marker", "x", { qos: 1 });
    await new Promise((r) => setTimeout(r, 200));
    expect(after).toEqual([]);
  });

  test("publishes the last will when a client vanishes", async () => {
    const watcher = await connect();
    const wills: string[] = [];
    watcher.on("message", (topic, payload) => {
      if (topic === "t/will") wills.push(String(payload));
    });
    await watcher.subscribeAsync("t/will", { qos: 1 });
    const dying = await connect({
      clientId: "dying",
      will: { topic: "t/will", payload: Buffer.from("offline"), qos: 1, retain: true },
    });
    // Abrupt end without DISCONNECT: the broker must send the will.
    (dying as unknown as { stream: { destroy(): void } }).stream.destroy();
    await waitFor("last will", () => wills.length > 0, 5000);
    expect(wills[0]).toBe("offline");
  });

  test("too many failed logins from one address: its connects are refused, valid ones included", async () => {
    const b = await startEmbeddedBroker({
      port: 0,
      authFailuresPerMinute: 3,
      credentials: { routerPassword: "router-password-0123456789" },
    });
    const tryLogin = (password: string) =>
      new Promise<number | undefined>((resolve) => {
        const c = mqtt.connect(b.url, {
          protocolVersion: 4,
          reconnectPeriod: 0,
          username: "dionysia.router",
          password,
        });
        c.once("connect", () => {
          c.end(true);
          resolve(0);
        });
        c.once("error", (err) => {
          c.end(true);
          resolve((err as { code?: number }).code);
        });
      });
    try {
      expect(await tryLogin("router-password-0123456789")).toBe(0);
      for (let i = 0; i < 3; i++) expect(await tryLogin(`wrong-password-${i}-0123456789`)).toBe(4);
      expect(await tryLogin("router-password-0123456789")).toBe(5);
      expect(b.refusals()).toMatchObject({ bad_password: 3, rate_limited: 1 });
    } finally {
      await b.close();
    }
  });

  test("close() ends with clients still connected", async () => {
    const b = await startEmbeddedBroker({ port: 0 });
    const c = mqtt.connect(b.url, { protocolVersion: 4, reconnectPeriod: 0, ...b.control });
    await new Promise((r) => c.once("connect", r));
    await b.close();
    await waitFor("client disconnect", () => !c.connected, 5000);
    c.end(true);
  });
});
