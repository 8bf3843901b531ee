/**
 * Issue 9 item 7: children die with the origin even on SIGKILL. A real origin process
 * (origin/src/main.ts, embedded media server) gets a desired SRT stream from mosquitto (its SRT
 * listener starts at once) and an RTMP stream with a real ffmpeg publisher (its transcoder
 * starts); the origin is SIGKILLed; no process whose command line names either stream remains.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BUILTIN_PROFILES,
  newSrtPassphrase,
  newStreamId,
  newStreamKey,
  sha256Hex,
  topics,
} from "@dionysia/shared";
import { freePort, hasMosquitto, publishRtmp, startMosquitto, waitFor } from "@dionysia/shared/testkit";
import mqtt from "mqtt";
import { childrenDieWithParent } from "../src/process/die-with-parent.ts";
import { workedForThisOrigin } from "../src/process/orphans.ts";

const hasFfmpeg = Bun.which("ffmpeg") !== null;
const linux = process.platform === "linux";
if (!hasFfmpeg || !hasMosquitto || !linux)
  console.warn("skipping the orphan test: needs Linux /proc, ffmpeg and mosquitto");
if (linux && !childrenDieWithParent)
  console.warn("setpriv (util-linux) not found: children cannot die with the origin");

/** Pids of live processes whose command line contains `needle` (zombies excluded). */
function pidsWith(needle: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (!readFileSync(`/proc/${e}/cmdline`, "utf8").includes(needle)) continue;
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z") continue;
      out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!hasFfmpeg || !hasMosquitto || !linux)("children die with the origin", () => {
  test("SIGKILL the origin: its SRT listener and transcoder are gone within seconds", async () => {
    expect(childrenDieWithParent).toBe(true);
    const broker = await startMosquitto();
    const dataDir = mkdtempSync(join(tmpdir(), "dionysia-orphans-"));
    dirs.push(dataDir);
    const rtmpPort = await freePort();
    const srtPort = 30000 + Math.floor(Math.random() * 5000);
    const nodeId = `orph-${Math.random().toString(36).slice(2, 8)}`;
    const srt = { id: newStreamId(), key: newStreamKey(), passphrase: newSrtPassphrase() };
    const push = { id: newStreamId(), key: newStreamKey() };
    const origin = Bun.spawn(["bun", join(import.meta.dir, "../src/main.ts")], {
      env: {
        ...process.env,
        NODE_ID: nodeId,
        ORIGIN_HOST: "127.0.0.1",
        ORIGIN_PORT: String(await freePort()),
        DATA_DIR: dataDir,
        PUBLIC_HOST: "127.0.0.1",
        MQTT_URL: broker.url,
        MEDIA_SERVER: "embedded",
        TRANSCODER: "ffmpeg",
        RTMP_PORT: String(rtmpPort),
        SRT_PORT_RANGE: `${srtPort}-${srtPort + 20}`,
        CONTROL_URL: "http://127.0.0.1:9",
        ORIGIN_CAPACITY_UNITS: "100",
        LOG_LEVEL: "warn",
      },
      stdout: "ignore",
      stderr: "pipe",
    });
    const ctl = mqtt.connect(broker.url, { protocolVersion: 4 });
    let publisher: ReturnType<typeof publishRtmp> | undefined;
    try {
      await new Promise((r) => ctl.once("connect", r));
      const profile = BUILTIN_PROFILES["builtin-passthrough"]!;
      await ctl.publishAsync(
        topics.nodeDesired(nodeId),
        JSON.stringify({
          version: 1,
          nodeId,
          streams: [
            {
              id: srt.id,
              role: "origin",
              profile,
              keyHash: sha256Hex(srt.key),
              srtPassphrase: srt.passphrase,
              srtPort,
            },
            { id: push.id, role: "origin", profile, keyHash: sha256Hex(push.key) },
          ],
        }),
        { qos: 1, retain: true },
      );
      // The SRT listener (names the stream id in its internal output path) starts with the desired state.
      await waitFor("SRT listener running", () => pidsWith(srt.id).length > 0, 30_000);
      // A real publisher makes the transcoder start (it writes under {DATA_DIR}/live/{id}).
      publisher = publishRtmp(`rtmp://127.0.0.1:${rtmpPort}/live/${push.key}`, 60);
      await waitFor("transcoder running", () => pidsWith(join(dataDir, "live", push.id)).length > 0, 30_000);
      const children = [...pidsWith(srt.id), ...pidsWith(join(dataDir, "live", push.id))];
      expect(children.length).toBeGreaterThanOrEqual(2);
      origin.kill("SIGKILL");
      await origin.exited;
      const t0 = Date.now();
      await waitFor(
        "no child of the killed origin remains",
        () => pidsWith(srt.id).length === 0 && pidsWith(join(dataDir, "live", push.id)).length === 0,
        5000,
      );
      console.log(`children gone ${Date.now() - t0} ms after the origin's SIGKILL`);
    } finally {
      publisher?.kill();
      origin.kill("SIGKILL");
      await ctl.endAsync(true);
      await broker.stop();
      for (const p of [...pidsWith(srt.id), ...pidsWith(push.id)]) process.kill(p, "SIGKILL");
    }
  }, 120_000);
});

describe("start-up sweep matcher", () => {
  test("matches this origin's ffmpeg/gpac children only", () => {
    const o = { liveRoot: "/data/o1/live", rtmpPort: 1935 };
    expect(workedForThisOrigin(["/usr/bin/ffmpeg", "-i", "rtmp://127.0.0.1:1935/live/s1"], o)).toBe(true);
    expect(workedForThisOrigin(["ffmpeg", "-i", "x", "/data/o1/live/s1/index.m3u8"], o)).toBe(true);
    expect(workedForThisOrigin(["gpac", "-i", "x", "-o", "/data/o1/live/s1/"], o)).toBe(true);
    expect(workedForThisOrigin(["ffmpeg", "-i", "rtmp://127.0.0.1:1936/live/s1"], o)).toBe(false);
    expect(workedForThisOrigin(["ffmpeg", "/data/o2/live/s1/x.m3u8"], o)).toBe(false);
    expect(workedForThisOrigin(["vim", "/data/o1/live/s1/index.m3u8"], o)).toBe(false);
  });
});
