/**
 * `mqtts://` end to end with certificates made here by openssl (a throwaway CA and a server
 * certificate for localhost): the origin agent, control's bus and the router's live client
 * connect with the CA file and their credentials, on mosquitto and on the embedded broker's TLS
 * listener; a client that does not trust the CA is refused.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, nodeClientId } from "@dionysia/shared";
import { hasMosquitto, waitFor } from "@dionysia/shared/testkit";
import mqtt from "mqtt";
import { OriginAgent } from "../../origin/src/agent/agent.ts";
import type { Log } from "../../router/src/obs/log.ts";
import { connectLive } from "../../router/src/table/live.ts";
import { RouteTable } from "../../router/src/table/store.ts";
import { ControlBus } from "../src/mqtt/bus.ts";
import { sampleAnnounce, sampleTelemetry } from "./helpers/mqttFixtures.ts";
import { type SecureBroker, startSecureAedes, startSecureMosquitto } from "./helpers/secureBrokers.ts";

const logger = createLogger({ service: "test", level: "silent" });
const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
if (!hasOpenssl) console.warn("openssl not on PATH: MQTT TLS tests skipped");

let dir = "";
function makeCerts(): { ca: string; cert: string; key: string } {
  dir = mkdtempSync(join(tmpdir(), "dionysia-tls-"));
  const f = (n: string) => join(dir, n);
  writeFileSync(
    f("ext.cnf"),
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
  );
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const steps = [
    [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      f("ca.key"),
      "-out",
      f("ca.pem"),
      "-days",
      "1",
      "-subj",
      "/CN=dionysia test CA",
    ],
    ["req", ...ec, "-keyout", f("server.key"), "-out", f("server.csr"), "-subj", "/CN=localhost"],
    [
      "x509",
      "-req",
      "-in",
      f("server.csr"),
      "-CA",
      f("ca.pem"),
      "-CAkey",
      f("ca.key"),
      "-CAcreateserial",
    ].concat(["-out", f("server.pem"), "-days", "1", "-extfile", f("ext.cnf")]),
  ];
  for (const args of steps) {
    const r = spawnSync("openssl", args);
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  }
  return { ca: f("ca.pem"), cert: f("server.pem"), key: f("server.key") };
}

let certs: { ca: string; cert: string; key: string };
beforeAll(() => {
  if (hasOpenssl) certs = makeCerts();
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const brokers: [string, () => Promise<SecureBroker>, boolean][] = [
  [
    "embedded aedes",
    () => startSecureAedes({ tls: { certFile: certs.cert, keyFile: certs.key } }),
    !hasOpenssl,
  ],
  [
    "mosquitto",
    () => startSecureMosquitto(["tls-node"], { tls: { certFile: certs.cert, keyFile: certs.key } }),
    !hasOpenssl || !hasMosquitto,
  ],
];

for (const [name, start, skip] of brokers) {
  describe.skipIf(skip)(`mqtts:// on ${name}`, () => {
    let broker: SecureBroker;
    beforeAll(async () => {
      broker = await start();
    });
    afterAll(async () => {
      await broker?.stop();
    });

    test("origin agent, control bus and router connect with the CA file; announce and route flow", async () => {
      const url = broker.tlsUrl as string;
      expect(url).toStartWith("mqtts://localhost:");
      const announces: string[] = [];
      const bus = new ControlBus({
        url,
        ...broker.controlAs("bus"),
        ca: readFileSync(certs.ca),
        handler: {
          onAnnounce: (a) => announces.push(a.id),
          onState: () => undefined,
          onTelemetry: () => undefined,
          onStreamStatus: () => undefined,
        },
        logger,
        reconnectPeriodMs: 200,
      });
      await bus.start();
      const agent = new OriginAgent({
        mqttUrl: url,
        nodeId: "tls-node",
        password: broker.node("tls-node").password,
        caFile: certs.ca,
        announce: () => sampleAnnounce("tls-node"),
        telemetry: () => sampleTelemetry(),
        onDesired: () => undefined,
        logger,
        reconnectPeriodMs: 200,
      });
      const table = new RouteTable();
      const quiet = (..._a: unknown[]) => undefined;
      const routerLog: Log = {
        trace: quiet,
        debug: quiet,
        info: quiet,
        warn: quiet,
        error: quiet,
        child: () => routerLog,
      };
      const router = connectLive(
        table,
        { url, password: broker.router.password, caFile: certs.ca, reconnectPeriodMs: 200 },
        routerLog,
      );
      try {
        await agent.start(10_000);
        expect(agent.connected).toBe(true);
        await waitFor("announce over TLS", () => announces.includes("tls-node"), 10_000);
        await bus.publishRoute({
          id: "tls1",
          policy: "public",
          origins: [
            {
              nodeId: "tls-node",
              url: "http://tls-node.example:8090",
              region: "eu",
              lat: 1,
              lon: 1,
              role: "origin",
            },
          ],
        });
        await waitFor("route over TLS at the router", () => table.get("tls1"), 10_000);
      } finally {
        router.end(true);
        await agent.stop();
        await bus.close();
      }
    });

    test("a client that does not trust the CA, or connects without credentials, is refused", async () => {
      const url = broker.tlsUrl as string;
      const untrusting = mqtt.connect(url, {
        protocolVersion: 4,
        reconnectPeriod: 0,
        ...broker.node("tls-node"),
        clientId: nodeClientId("tls-node"),
      });
      const err = await new Promise<Error>((resolve) => {
        untrusting.once("error", resolve);
        untrusting.once("connect", () => resolve(new Error("connected")));
      });
      untrusting.end(true);
      expect(err.message).not.toBe("connected");
      const anon = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, ca: readFileSync(certs.ca) });
      const anonErr = await new Promise<Error>((resolve) => {
        anon.once("error", resolve);
        anon.once("connect", () => resolve(new Error("connected")));
      });
      anon.end(true);
      expect(anonErr.message).not.toBe("connected");
    });
  });
}
