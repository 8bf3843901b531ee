/**
 * LL-HLS through the whole platform: control + one origin + the router in proxy mode (it holds
 * blocking reloads without buffering) + mosquitto; an RTMP push of a 3-rung ll-hls profile, played
 * through the router by hls.js in low-latency mode in headless Chromium. The player must play
 * from parts, climb to the top rung within 10 s, and stay near the live edge.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dashjsSettings, hlsjsSettings } from "../../shared/src/player-settings.ts";
import {
  type Mosquitto,
  type Publisher,
  publish,
  requireMosquitto,
  startMosquitto,
  waitFor,
} from "../../shared/src/testkit/index.ts";
import { browserSuiteReady, CHROMIUM, LIBS, NODE } from "../lib/browser.ts";
import { killOrphans, PARIS, type Platform, ROOT, startParisPlatform } from "../platform.ts";

const ready = browserSuiteReady("e2e/test/low-latency.test.ts (LL-HLS through the router in hls.js)", [
  "hls.js",
  "dashjs",
]);
const hasMosquitto = requireMosquitto("e2e/test/low-latency.test.ts (LL-HLS through the router)");

/** Three rungs whose rates sit above hls.js's default estimate (500 kbit/s): it must climb. */
const LL_PROFILE = {
  name: "e2e ll ladder",
  renditions: [
    { name: "360p", codec: "h264", width: 640, height: 360, fps: 15, bitrateKbps: 1500, preset: "ultrafast" },
    { name: "240p", codec: "h264", width: 426, height: 240, fps: 15, bitrateKbps: 900, preset: "ultrafast" },
    { name: "144p", codec: "h264", width: 256, height: 144, fps: 15, bitrateKbps: 600, preset: "ultrafast" },
  ],
  audio: { codec: "aac", bitrateKbps: 64, channels: 2, sampleRate: 48000 },
  segmentDuration: 1,
  partDuration: 0.5,
  windowSize: 6,
  formats: ["ll-hls", "dash"],
  container: "fmp4",
};

/** What the docs and the console recommend (docs/low-latency.md). */
const HLSJS_LL_CONFIG = hlsjsSettings(["ll-hls"]);

interface PlayReport {
  t: number;
  height: number;
  heights: number[];
  log: string[];
  parts: number;
  frags: number;
  samples: number[];
  switches: { at: number; height: number }[];
  lowLatency: boolean;
  partTarget?: number;
}

describe.skipIf(!ready || !hasMosquitto)("e2e: LL-HLS through the router", () => {
  let broker: Mosquitto;
  let platform: Platform;
  let dataDir: string;
  let publisher: Publisher | undefined;
  let id = "";
  let plain: { id: string; pushUrl: string } | undefined;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "dionysia-e2e-ll-"));
    broker = await startMosquitto();
    platform = await startParisPlatform({
      dataDir,
      mqttUrl: broker.url,
      srtPortRange: "21100-21110",
      env: {
        TELEMETRY_INTERVAL_MS: "500",
        RECONCILE_INTERVAL_MS: "500",
        ORIGIN_CAPACITY_UNITS: "200",
        ROUTER_MODE: "proxy",
      },
    });
    const prof = await platform.api("/v1/profiles", { method: "POST", json: LL_PROFILE });
    expect(prof.status).toBe(201);
    const profileId = ((await prof.json()) as { id: string }).id;
    const created = await platform.api("/v1/streams", {
      method: "POST",
      json: { name: "e2e ll", profileId, location: PARIS },
    });
    const s = (await created.json()) as { id: string; streamKey: string };
    id = s.id;
    const ing = (await (await platform.api(`/v1/streams/${id}/ingest`)).json()) as {
      ingest: { rtmp: string };
    };
    publisher = publish(`${ing.ingest.rtmp}/${s.streamKey}`, { size: "640x360", rate: 15, seconds: 300 });
    await waitFor(
      "the master playlist through the router",
      async () => (await fetch(`${platform.routerUrl}/live/${id}/master.m3u8`)).ok,
      45_000,
      200,
    );
  }, 150_000);

  afterAll(async () => {
    await publisher?.stop();
    await platform?.stop();
    for (const o of platform?.origins.values() ?? []) killOrphans(o.spec, dataDir);
    await broker?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  test("a blocking reload through the router is answered when its part exists", async () => {
    const base = `${platform.routerUrl}/live/${id}/360p/index.m3u8`;
    const text = await (await fetch(base)).text();
    const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-[a-z0-9]+-(\d+)\.(\d+)\.m4s"/.exec(text);
    expect(hint).not.toBeNull();
    const asked = Date.now();
    const res = await fetch(`${base}?_HLS_msn=${hint![1]}&_HLS_part=${hint![2]}`);
    const waited = Date.now() - asked;
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(`-${hint![1]}.${hint![2]}.m4s"`);
    // The part is being written when asked for: it comes within one part (0.5 s) and 150 ms.
    expect(waited).toBeLessThan(500 + 150);
    expect(res.headers.get("cache-control")).toMatch(/^public, max-age=\d+$/);
    expect(res.headers.get("x-dionysia-node")).toBe("paris");
  }, 30_000);

  test("hls.js plays it in low-latency mode, climbs to the top rung within 10 s, no errors", async () => {
    const { out, p50 } = await play(`${platform.routerUrl}/live/${id}/master.m3u8`, HLSJS_LL_CONFIG, "LL");
    expect(out.lowLatency).toBe(true);
    // hls.js sorts its levels by bit rate, lowest first.
    expect(out.heights).toEqual([144, 240, 360]);
    expect(out.parts).toBeGreaterThan(10);
    expect(out.t).toBeGreaterThan(10);
    expect(out.log.filter((l) => l.startsWith("FATAL"))).toEqual([]);
    const top = out.switches.find((s) => s.height === 360);
    expect(top).toBeDefined();
    expect(top!.at).toBeLessThan(10);
    expect(out.height).toBe(360);
    // hls.js's own measure (media time behind the live edge): parts keep it near PART-HOLD-BACK
    // (1.5 s); without them it holds back three segments, 3 s and more.
    expect(p50).toBeLessThan(3);
  }, 120_000);

  test("dash.js plays the LL-DASH manifest in low-latency mode: no error 16, near the live edge", async () => {
    const mpdUrl = `${platform.routerUrl}/live/${id}/manifest.mpd`;
    const mpd = await (await fetch(mpdUrl)).text();
    expect(mpd).toContain('availabilityTimeComplete="false"');
    expect(mpd).toMatch(/availabilityTimeOffset="[0-9.]+"/);
    expect(mpd).toMatch(/<ServiceDescription[\s\S]*<Latency [^>]*target="\d+"/);
    expect(mpd).toContain("urn:mpeg:dash:utc:http-xsdate:2014");
    const proc = Bun.spawn(
      [
        NODE!,
        join(ROOT, "e2e/lib/play-dash.mjs"),
        mpdUrl,
        LIBS,
        CHROMIUM,
        "20",
        JSON.stringify(dashjsSettings(LL_PROFILE.formats)),
      ],
      { stdout: "pipe", stderr: "pipe", timeout: 90_000 },
    );
    const [stdout, stderr] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text()];
    await proc.exited;
    expect(stderr).toBe("");
    const out = JSON.parse(stdout.trim().split("\n").pop()!) as {
      t: number;
      height: number;
      heights: number[];
      errors: string[];
      samples: number[];
      lowLatency: boolean | null;
      targetLatency: number | null;
    };
    const sorted = [...out.samples].sort((a, b) => a - b);
    const p50 = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
    console.log(
      `dash.js LL through the router: heights ${out.heights.join(",")}, target ${out.targetLatency}, latency p50 ${p50.toFixed(2)} s, errors: ${out.errors.join(" | ") || "none"}`,
    );
    expect(out.errors.filter((e) => e.startsWith("16 "))).toEqual([]);
    expect(out.errors).toEqual([]);
    expect(out.lowLatency).toBe(true);
    expect(out.t).toBeGreaterThan(10);
    expect(p50).toBeLessThan(3);
  }, 120_000);

  test("ordinary HLS of the same ladder: hls.js (defaults) climbs to the top rung within 10 s", async () => {
    // One transcode at a time on a small machine.
    await publisher?.stop();
    const prof = await platform.api("/v1/profiles", {
      method: "POST",
      json: { ...LL_PROFILE, name: "e2e plain ladder", formats: ["hls"] },
    });
    const profileId = ((await prof.json()) as { id: string }).id;
    const created = await platform.api("/v1/streams", {
      method: "POST",
      json: { name: "e2e plain", profileId, location: PARIS },
    });
    const s = (await created.json()) as { id: string; streamKey: string };
    const ing = (await (await platform.api(`/v1/streams/${s.id}/ingest`)).json()) as {
      ingest: { rtmp: string };
    };
    plain = { id: s.id, pushUrl: `${ing.ingest.rtmp}/${s.streamKey}` };
    publisher = publish(plain.pushUrl, { size: "640x360", rate: 15, seconds: 300 });
    const master = `${platform.routerUrl}/live/${s.id}/master.m3u8`;
    await waitFor("the plain master through the router", async () => (await fetch(master)).ok, 45_000, 200);
    // A viewer joining a running stream (a few segments in the window).
    await waitFor(
      "three segments of the top rung",
      async () =>
        (
          (await (await fetch(`${platform.routerUrl}/live/${s.id}/360p/index.m3u8`)).text()).match(
            /#EXTINF/g,
          ) ?? []
        ).length >= 3,
      30_000,
      200,
    );
    const { out } = await play(master, hlsjsSettings(["hls"]), "plain");
    expect(out.log.filter((l) => l.startsWith("FATAL"))).toEqual([]);
    expect(out.parts).toBe(0);
    const top = out.switches.find((x) => x.height === 360);
    expect(top).toBeDefined();
    expect(top!.at).toBeLessThan(10);
    expect(out.height).toBe(360);
  }, 150_000);

  test("the publisher drops for 5 s and comes back: hls.js plays on, the media sequence never goes back", async () => {
    if (!plain) throw new Error("the plain HLS stream of the test before is needed");
    const { id: sid, pushUrl } = plain;
    const playlist = `${platform.routerUrl}/live/${sid}/360p/index.m3u8`;
    // Every playlist a viewer would read, through the router, the whole time.
    const seen: { msn: number; ended: boolean; discontinuity: boolean; status: number }[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const res = await fetch(playlist);
        const text = await res.text();
        const msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? -1);
        seen.push({
          msn,
          ended: text.includes("#EXT-X-ENDLIST"),
          discontinuity: text.includes("#EXT-X-DISCONTINUITY"),
          status: res.status,
        });
        await Bun.sleep(250);
      }
    })();
    const status = async () =>
      ((await (await platform.api(`/v1/streams/${sid}`)).json()) as { status: string }).status;
    const playing = play(
      `${platform.routerUrl}/live/${sid}/master.m3u8`,
      hlsjsSettings(["hls"]),
      "reconnect",
      32,
    );
    await Bun.sleep(6000); // the viewer is playing
    await publisher?.stop();
    await waitFor("reconnecting", async () => (await status()) === "reconnecting", 10_000, 200);
    await Bun.sleep(5000); // the streamer's network blip
    publisher = publish(pushUrl, { size: "640x360", rate: 15, seconds: 300 });
    await waitFor("live again", async () => (await status()) === "live", 30_000, 200);
    await waitFor("the new run in the playlist", () => seen.some((x) => x.discontinuity), 20_000, 200);
    const { out } = await playing;
    watching = false;
    await watcher;
    expect(out.log.filter((l) => l.startsWith("FATAL"))).toEqual([]);
    // Playback went on after the blip: 32 s in the page, about 5 s of it without a streamer.
    expect(out.t).toBeGreaterThan(18);
    expect(seen.filter((x) => x.status !== 200 || x.ended)).toEqual([]);
    const msns = seen.map((x) => x.msn);
    for (let i = 1; i < msns.length; i++) expect(msns[i]!).toBeGreaterThanOrEqual(msns[i - 1]!);
  }, 150_000);
});

/** Plays `url` for `seconds` (20) in Chromium with hls.js and `config`; the report and its latency median. */
async function play(
  url: string,
  config: object,
  label: string,
  seconds = 20,
): Promise<{ out: PlayReport; p50: number }> {
  const proc = Bun.spawn(
    [NODE!, join(ROOT, "e2e/lib/play-abr.mjs"), url, LIBS, CHROMIUM, String(seconds), JSON.stringify(config)],
    { stdout: "pipe", stderr: "pipe", timeout: 90_000 },
  );
  const [stdout, stderr] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text()];
  await proc.exited;
  expect(stderr).toBe("");
  const out = JSON.parse(stdout.trim().split("\n").pop()!) as PlayReport;
  const sorted = [...out.samples].sort((a, b) => a - b);
  const p50 = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  console.log(
    `hls.js ${label} through the router: ${out.parts} parts + ${out.frags} segments, switches ${JSON.stringify(out.switches)}, latency p50 ${p50.toFixed(2)} s, non-fatal: ${out.log.join(", ") || "none"}`,
  );
  return { out, p50 };
}
