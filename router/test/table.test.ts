/**
 * The route table kept in sync: bootstrap from a server speaking control's contract, live updates
 * from a real mosquitto, the last table kept while either is down, bad messages dropped.
 */
import assert from "node:assert/strict";
import mqtt, { type MqttClient } from "mqtt";
import {
  freePort,
  type Mosquitto,
  requireMosquitto,
  startMosquitto,
  waitFor,
} from "../../shared/src/testkit/index.ts";
import { topics } from "../../shared/src/topics.ts";
import { type RouterApp, startRouter } from "../src/app.ts";
import { fetchRoutes } from "../src/table/bootstrap.ts";
import {
  type FakeControl,
  NEW_YORK,
  origin,
  PARIS,
  ROUTER_KEY,
  route,
  startControl,
  TOKYO,
  testConfig,
} from "./support/fixtures.ts";
import { afterAll, beforeAll, describe, test } from "./support/harness.ts";

const near = (p: { lat: number; lon: number }) => ({
  "x-client-lat": String(p.lat),
  "x-client-lon": String(p.lon),
});

async function locate(app: RouterApp, id: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await app.handler(new Request(`http://router.test/live/${id}/master.m3u8`, { headers }));
  // Every origin URL in these tests is http://{nodeId}: the Location's host names the node.
  if (res.status === 302) return new URL(res.headers.get("location") ?? "http://?").hostname;
  await res.body?.cancel();
  return String(res.status);
}

describe("bootstrap from control", () => {
  let control: FakeControl;
  const apps: RouterApp[] = [];
  afterAll(async () => {
    for (const a of apps) await a.stop();
    await control?.stop();
  });

  test("loads {routes} with the router credential; bad items are skipped", async () => {
    control = startControl([route("a", [origin("par", "http://par", PARIS)])]);
    // One route whose origin has no coordinates: control's bug must not cost the good routes.
    (control.routes as unknown[]).push({ id: "broken", policy: "public", origins: [{ nodeId: "x" }] });
    const routes = await fetchRoutes({ controlUrl: control.url, routerKey: ROUTER_KEY });
    assert.deepEqual(
      routes.map((r) => r.id),
      ["a"],
    );
    await assert.rejects(fetchRoutes({ controlUrl: control.url, routerKey: "wrong-key-0123456789" }), /401/);
    assert.equal(control.authFailures, 1);
    const app = startRouter(testConfig({ CONTROL_URL: control.url }), { bootstrapMinDelayMs: 20 });
    apps.push(app);
    await app.bootstrapped;
    assert.equal(await locate(app, "a"), "par");
    assert.equal(await locate(app, "broken"), "404");
  });

  test("control down at start: retries with back-off, then loads the table", async () => {
    const port = await freePort();
    const app = startRouter(testConfig({ CONTROL_URL: `http://127.0.0.1:${port}` }), {
      bootstrapMinDelayMs: 20,
    });
    apps.push(app);
    await waitFor("two failed attempts", () => app.metrics.bootstraps.get({ result: "error" }) >= 2, 10_000);
    assert.equal(app.table.hasBootstrapped, false);
    assert.equal(await locate(app, "b"), "404");
    const late = startControl([route("b", [origin("nyc", "http://nyc", NEW_YORK)])], port);
    try {
      await app.bootstrapped;
      assert.equal(await locate(app, "b"), "nyc");
    } finally {
      await late.stop();
    }
  });
});

const hasMosquitto = requireMosquitto("router/test/table.test.ts (live updates over MQTT)");

describe(
  "live updates over MQTT (mosquitto)",
  () => {
    let broker: Mosquitto | undefined;
    let control: FakeControl;
    let app: RouterApp;
    let pub: MqttClient;

    const publish = (topic: string, payload: string) =>
      pub.publishAsync(topic, payload, { qos: 1, retain: true });

    beforeAll(async () => {
      broker = await startMosquitto();
      pub = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: "test-publisher" });
      control = startControl([route("boot", [origin("par", "http://par", PARIS)])]);
      // A retained route published before the router starts arrives with the subscription.
      await publish(
        topics.route("early"),
        JSON.stringify(route("early", [origin("tyo", "http://tyo", TOKYO)])),
      );
      app = startRouter(testConfig({ CONTROL_URL: control.url, MQTT_URL: broker.url }), {
        bootstrapMinDelayMs: 50,
        mqttReconnectMs: 200,
      });
      await app.bootstrapped;
    });

    afterAll(async () => {
      await app?.stop();
      await pub?.endAsync(true);
      await broker?.stop();
      await control?.stop();
    });

    test("retained and fresh routes are applied; an empty payload deletes", async () => {
      await waitFor("retained route 'early'", async () => (await locate(app, "early")) === "tyo", 10_000);
      assert.equal(await locate(app, "boot"), "par");
      await publish(
        topics.route("s1"),
        JSON.stringify(
          route("s1", [origin("par", "http://par", PARIS), origin("nyc", "http://nyc", NEW_YORK)]),
        ),
      );
      await waitFor("route s1", async () => (await locate(app, "s1", near(NEW_YORK))) === "nyc", 10_000);
      assert.equal(await locate(app, "s1", near(PARIS)), "par");
      await publish(topics.route("s1"), "");
      await waitFor("s1 deleted", async () => (await locate(app, "s1")) === "404", 10_000);
    });

    test("node offline → the next origin; all offline → 503; online again → back", async () => {
      await publish(
        topics.route("s2"),
        JSON.stringify(
          route("s2", [origin("par", "http://par", PARIS), origin("nyc", "http://nyc", NEW_YORK)]),
        ),
      );
      await waitFor("route s2", async () => (await locate(app, "s2", near(PARIS))) === "par", 10_000);
      await publish(topics.nodeState("par"), JSON.stringify({ state: "offline" }));
      await waitFor("failover to nyc", async () => (await locate(app, "s2", near(PARIS))) === "nyc", 10_000);
      await publish(topics.nodeState("nyc"), JSON.stringify({ state: "offline" }));
      await waitFor(
        "503 when every origin is offline",
        async () => (await locate(app, "s2")) === "503",
        10_000,
      );
      await publish(topics.nodeState("par"), JSON.stringify({ state: "online", ts: Date.now() }));
      await waitFor(
        "par back online",
        async () => (await locate(app, "s2", near(NEW_YORK))) === "par",
        10_000,
      );
      await publish(topics.nodeState("nyc"), JSON.stringify({ state: "online" }));
    });

    test("malformed messages are dropped and counted; the router keeps working", async () => {
      const before = app.metrics.updates.get({ effect: "dropped" });
      await publish(topics.route("s3"), "{not json");
      await publish(
        topics.route("s3"),
        JSON.stringify({ id: "s3", policy: "public", origins: [{ nodeId: "x" }] }),
      );
      await publish(topics.route("s3"), JSON.stringify(route("other", [origin("par", "http://par", PARIS)])));
      await publish(topics.nodeState("par"), JSON.stringify({ state: "sleepy" }));
      await waitFor(
        "4 drops counted",
        () => app.metrics.updates.get({ effect: "dropped" }) >= before + 4,
        10_000,
      );
      assert.equal(await locate(app, "s3"), "404");
      assert.equal(await locate(app, "other"), "404");
      assert.equal(await locate(app, "boot", near(PARIS)), "par"); // par still online
      await publish(topics.route("s3"), JSON.stringify(route("s3", [origin("nyc", "http://nyc", NEW_YORK)])));
      await waitFor("a valid s3 after the bad ones", async () => (await locate(app, "s3")) === "nyc", 10_000);
    });

    test("control and broker down: the last table keeps answering; reconnect resyncs deletes", async () => {
      const health = async () =>
        (await (await app.handler(new Request("http://r/health"))).json()) as {
          mqtt: string;
          routes: number;
        };
      assert.equal((await health()).mqtt, "connected");
      const port = broker!.port;
      control.up = false;
      await broker!.stop();
      await waitFor(
        "router notices the broker is gone",
        async () => (await health()).mqtt === "disconnected",
        10_000,
      );
      assert.equal(await locate(app, "s3"), "nyc");
      assert.equal(await locate(app, "boot"), "par");
      // While the router was away, control dropped "boot" (its delete was not retained anywhere).
      control.routes = [route("s3", [origin("nyc", "http://nyc", NEW_YORK)])];
      control.up = true;
      broker = await startMosquitto({ port });
      await waitFor("router reconnects", async () => (await health()).mqtt === "connected", 15_000);
      await waitFor(
        "resync removes the deleted route",
        async () => (await locate(app, "boot")) === "404",
        10_000,
      );
      assert.equal(await locate(app, "s3"), "nyc");
      await pub.endAsync(true);
      pub = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: "test-publisher-2" });
    }, 40_000);
  },
  { skip: !hasMosquitto },
);
