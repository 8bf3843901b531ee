/**
 * Issue 9 item 7: a push whose publisher stays connected is re-claimed by its node as soon as
 * control can hear it. Real control (embedded broker, libSQL file), a real origin process
 * (origin/src/main.ts, embedded RTMP) and a real ffmpeg publisher. Control falsely declares the
 * node silent (its silence verdict, as after its own stall); failover unassigns the stream; when
 * the node's telemetry is heard again the origin re-authorizes the live push and the stream is
 * placed back on it, while the publisher never disconnected.
 */

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodePassword } from "@dionysia/shared";
import { freePort, isAlive, publishRtmp, waitFor } from "@dionysia/shared/testkit";
import { NODE_KEY, startControl, type TestControl } from "../../control/test/helpers/control.ts";

const hasFfmpeg = Bun.which("ffmpeg") !== null;
if (!hasFfmpeg) console.warn("skipping the re-claim test: ffmpeg not on PATH");

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!hasFfmpeg)("a live push is re-claimed after a false offline", () => {
  test("placed back on its node within seconds while the publisher stays connected", async () => {
    let c: TestControl | undefined;
    let origin: ReturnType<typeof Bun.spawn> | undefined;
    let pub: ReturnType<typeof publishRtmp> | undefined;
    try {
      const secret = "reclaim-test-node-secret-0123456789";
      c = await startControl({
        env: { TELEMETRY_INTERVAL_MS: "2000", RECONCILE_INTERVAL_MS: "200", MQTT_NODE_SECRET: secret },
      });
      const network = c.control.network!;
      const nodeId = `reclaim-${Math.random().toString(36).slice(2, 8)}`;
      const rtmpPort = await freePort();
      const dataDir = mkdtempSync(join(tmpdir(), "dionysia-reclaim-"));
      dirs.push(dataDir);
      origin = Bun.spawn(["bun", join(import.meta.dir, "../src/main.ts")], {
        env: {
          ...process.env,
          NODE_ID: nodeId,
          ORIGIN_HOST: "127.0.0.1",
          ORIGIN_PORT: String(await freePort()),
          DATA_DIR: dataDir,
          PUBLIC_HOST: "127.0.0.1",
          PUBLIC_URL: "http://127.0.0.1:9",
          MQTT_URL: network.mqttUrl,
          MQTT_PASSWORD: nodePassword(secret, nodeId),
          CONTROL_URL: c.url,
          DIONYSIA_NODE_KEY: NODE_KEY,
          MEDIA_SERVER: "embedded",
          TRANSCODER: "ffmpeg",
          RTMP_PORT: String(rtmpPort),
          SRT_PORT_RANGE: "39000-39050",
          TELEMETRY_INTERVAL_MS: "2000",
          ORIGIN_CAPACITY_UNITS: "100",
          LOG_LEVEL: process.env.RECLAIM_DEBUG ? "info" : "warn",
        },
        stdout: process.env.RECLAIM_DEBUG ? "inherit" : "ignore",
        stderr: "inherit",
      });
      await waitFor(
        "node online",
        async () => (await c!.api("GET", `/v1/nodes/${nodeId}`)).body?.state === "online",
        30_000,
      );
      const s = (
        await c.api("POST", "/v1/streams", { body: { name: "push", profileId: "builtin-passthrough" } })
      ).body;
      pub = publishRtmp(`rtmp://127.0.0.1:${rtmpPort}/live/${s.streamKey}`, 120);
      const stream = async () => (await c!.api("GET", `/v1/streams/${s.id}`)).body;
      await waitFor("claimed by the node", async () => (await stream()).nodeId === nodeId, 30_000);
      await waitFor("live", async () => (await stream()).status === "live", 30_000);

      // Control's silence verdict on a node that is in fact fine (control's own stall, say).
      const bus = network.bus!;
      // Right after a beat, so failover has a whole telemetry period before the next one.
      const beats = bus.counts.received;
      await waitFor("a telemetry beat", () => bus.counts.received > beats, 10_000);
      const silent: string[] = [];
      const t0 = Date.now();
      for (let t = t0; t <= t0 + 2 * bus.silence.timeoutMs; t += bus.silence.sweepEveryMs)
        silent.push(...bus.silence.sweep(t));
      expect(silent).toContain(nodeId);
      network.onState(nodeId, { state: "offline", ts: Date.now() }, "silence");
      await waitFor("failover unassigned the stream", async () => (await stream()).nodeId === null, 15_000);
      const unassignedAt = Date.now();
      // The node's next telemetry brings it back online; the origin re-claims its live push.
      await waitFor("placed back on the node", async () => (await stream()).nodeId === nodeId, 15_000).catch(
        async (err) => {
          if (process.env.RECLAIM_DEBUG) {
            console.log(JSON.stringify((await c!.api("GET", `/v1/nodes/${nodeId}`)).body));
            console.log(
              c!
                .logs()
                .split("\n")
                .filter((l) => l.includes(nodeId) || l.includes(s.id))
                .slice(-30)
                .join("\n"),
            );
          }
          throw err;
        },
      );
      const reclaimMs = Date.now() - unassignedAt;
      console.log(`stream placed back ${reclaimMs} ms after the false offline`);
      expect(reclaimMs).toBeLessThan(10_000);
      await waitFor("live again", async () => (await stream()).status === "live", 20_000);
      // The publisher never disconnected.
      expect(isAlive(pub.pid)).toBe(true);
      expect(c.logs()).toContain('"source":"telemetry"'); // back online by its own telemetry
    } finally {
      pub?.kill("SIGKILL");
      origin?.kill("SIGTERM");
      await origin?.exited;
      await c?.stop();
    }
  }, 180_000);
});
