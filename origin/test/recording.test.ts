/**
 * Recordings (ADR 0095) with real ffmpeg: a recording stream that drops and comes back within its
 * reconnect window becomes one VOD asset when the window closes — every segment of both publishes,
 * VOD playlists with one discontinuity, ffprobe reads it whole — and is served under /vod/.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, type DesiredStream, type ProfileSpec } from "@dionysia/shared";
import { freePort, type Publisher, publish, smallLadder, waitFor } from "@dionysia/shared/testkit";
import HLS from "hls-parser";
import { createOriginHttp } from "../src/http/index.ts";
import { createOriginMetrics } from "../src/metrics/index.ts";
import type { AssetMeta } from "../src/recording/recording.ts";
import { renderVodPlaylist } from "../src/recording/recording.ts";
import { listAssets } from "../src/recording/store.ts";
import { Supervisor } from "../src/supervisor/service.ts";
import { FfmpegBackend } from "../src/transcoder/ffmpeg/index.ts";
import { ffprobeDuration, ffprobeStreams } from "./helpers/ffprobe.ts";
import { TestMediaServer } from "./helpers/test-media-server.ts";

/** The test kit's two-rung ladder, HLS only, a window of three 1 s segments. */
const profile: ProfileSpec = { ...(smallLadder("rec") as ProfileSpec), formats: ["hls"], windowSize: 3 };
const logger = createLogger({ service: "test", level: process.env.TEST_LOG ?? "silent" });
let dataDir: string;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "origin-rec-"));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("renderVodPlaylist", () => {
  test("VOD type, ENDLIST, a discontinuity where the run changed, strict hls-parser accepts it", () => {
    const seg = (n: number, run: string, discontinuity = false) => ({
      uri: `../run-${run}/180p/seg-${n}.m4s`,
      duration: n === 3 ? 0.5 : 1,
      map: `../run-${run}/180p/init.mp4`,
      discontinuity,
      runId: run,
    });
    const text = renderVodPlaylist([seg(1, "a"), seg(2, "a"), seg(3, "a"), seg(1, "b", true), seg(2, "b")]);
    expect(text).toContain("#EXT-X-PLAYLIST-TYPE:VOD");
    expect(text.trimEnd().endsWith("#EXT-X-ENDLIST")).toBe(true);
    expect(text.match(/#EXT-X-DISCONTINUITY\n/g)?.length).toBe(1);
    expect(text.match(/#EXT-X-MAP/g)?.length).toBe(2);
    HLS.setOptions({ strictMode: true });
    try {
      const p = HLS.parse(text) as HLS.types.MediaPlaylist;
      expect(p.endlist).toBe(true);
      expect(p.segments.reduce((a, s) => a + s.duration, 0)).toBeCloseTo(4.5, 3);
    } finally {
      HLS.setOptions({ strictMode: false });
    }
  });
});

async function setup(id: string, o: { minFree?: number; window?: number; profile?: ProfileSpec } = {}) {
  const port = await freePort();
  const publisher: Publisher = publish(`udp://127.0.0.1:${port}`, { seconds: 300 });
  const media = new TestMediaServer();
  const sup = new Supervisor({
    dataDir,
    backend: new FfmpegBackend(),
    mediaServer: media,
    logger,
    nodeId: "rec-node",
    pollMs: 200,
    cleanupGraceMs: 1500,
    ...(o.minFree !== undefined ? { recordingMinFreeBytes: o.minFree } : {}),
  });
  const assets: AssetMeta[] = [];
  sup.onAsset((a) => assets.push(a));
  sup.start();
  cleanups.push(async () => {
    await sup.stop();
    await publisher.stop();
  });
  const spec: DesiredStream = {
    id,
    role: "origin",
    profile,
    keyHash: "a".repeat(64),
    ...(o.profile ? { profile: o.profile } : {}),
    record: true,
    reconnectWindowSeconds: o.window ?? 3,
  };
  await sup.setDesired([spec]);
  const inputUrl = `udp://127.0.0.1:${port}?overrun_nonfatal=1&fifo_size=100000`;
  const go = () => media.publish({ streamId: id, protocol: "srt", inputUrl });
  go();
  const served = join(dataDir, "live", id, "180p", "index.m3u8");
  const segments = () =>
    existsSync(served) ? (readFileSync(served, "utf8").match(/#EXTINF/g) ?? []).length : 0;
  const msn = () => Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(readFileSync(served, "utf8"))?.[1] ?? 0);
  return { sup, media, go, assets, segments, msn };
}

describe("a recording stream", () => {
  test("two publishes within the window: one asset, every segment of both, ffprobe reads it whole; /vod/ serves it", async () => {
    const id = "rec1";
    const { sup, media, go, assets, segments, msn } = await setup(id);
    // More segments than the live window (3) before the drop: the recording keeps them all.
    await waitFor("first publish: window full and slid", () => segments() >= 3 && msn() >= 3, 45_000);
    media.unpublish(id);
    await waitFor("reconnecting", () => sup.status(id) === "reconnecting", 5000);
    go();
    await waitFor("live again", () => sup.status(id) === "live", 45_000);
    await waitFor("second publish's segments", () => msn() >= 6, 30_000);
    media.unpublish(id);
    await waitFor("window over: the asset", () => assets.length === 1, 15_000);
    const a = assets[0]!;
    expect(a).toMatchObject({ streamId: id, nodeId: "rec-node", sessions: 2, renditions: ["180p", "90p"] });
    expect(a.segments).toBeGreaterThanOrEqual(6);
    expect(a.bytes).toBeGreaterThan(0);
    const dir = join(dataDir, "vod", a.id);
    expect((await listAssets(join(dataDir, "vod"))).map((x) => x.id)).toEqual([a.id]);
    // Nothing half-made is left beside it.
    expect(readdirSync(join(dataDir, "vod")).filter((n) => n.startsWith(".rec-"))).toEqual([]);

    const media180 = readFileSync(join(dir, "180p", "index.m3u8"), "utf8");
    expect(media180).toContain("#EXT-X-PLAYLIST-TYPE:VOD");
    expect(media180).toContain("#EXT-X-ENDLIST");
    expect(media180.match(/#EXT-X-DISCONTINUITY\n/g)?.length).toBe(1);
    expect((media180.match(/#EXTINF/g) ?? []).length).toBe(a.segments);
    const master = readFileSync(join(dir, "master.m3u8"), "utf8");
    expect(master).toContain("180p/index.m3u8");

    // The live files go after the cleanup grace; the asset's are links of their own.
    await waitFor("live folder removed", () => !existsSync(join(dataDir, "live", id)), 20_000);
    const first = /^(\S+\.m4s)$/m.exec(media180)![1]!;
    expect(statSync(join(dir, "180p", first)).size).toBeGreaterThan(0);

    const http = createOriginHttp({
      dataDir,
      logger,
      metrics: createOriginMetrics(),
      hostname: "127.0.0.1",
      port: 0,
    });
    cleanups.push(() => http.stop());
    const res = await fetch(`${http.url}/vod/${a.id}/master.m3u8`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("mpegurl");
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
    expect((await fetch(`${http.url}/vod/${a.id}/asset.json`)).status).toBe(404);
    expect((await fetch(`${http.url}/vod/${a.id}/..%2f..%2flive`)).status).toBe(400);
    expect((await fetch(`${http.url}/vod/.rec-${a.id}/master.m3u8`)).status).toBe(400);

    const streams = await ffprobeStreams(`${http.url}/vod/${a.id}/master.m3u8`);
    const heights = streams.filter((s) => s.codec_type === "video").map((s) => s.height);
    expect(heights.sort()).toEqual([180, 90]);
    expect(streams.find((s) => s.codec_type === "audio")).toMatchObject({ codec_name: "aac", channels: 2 });
    const dur = await ffprobeDuration(`${http.url}/vod/${a.id}/180p/index.m3u8`);
    // Within one segment of what the playlist lists (the time pushed, less the gap).
    expect(Math.abs(dur - a.durationSeconds)).toBeLessThan(profile.segmentDuration + 0.1);

    // DASH from the same segments: a static MPD, one Period per publish, ffprobe reads it whole.
    const mpd = await fetch(`${http.url}/vod/${a.id}/manifest.mpd`);
    expect(mpd.status).toBe(200);
    const mpdText = await mpd.text();
    expect(mpdText).toContain('type="static"');
    expect(mpdText.match(/<Period /g)?.length).toBe(2);
    const mpdStreams = await ffprobeStreams(`${http.url}/vod/${a.id}/manifest.mpd`);
    expect(
      mpdStreams
        .filter((s) => s.codec_type === "video")
        .map((s) => s.height)
        .sort(),
    ).toEqual([180, 90]);
    const mpdDur = await ffprobeDuration(`${http.url}/vod/${a.id}/manifest.mpd`);
    expect(Math.abs(mpdDur - a.durationSeconds)).toBeLessThan(profile.segmentDuration + 0.1);

    // Its thumbnail at a time: a JPEG of the asked size, from the first run and from the second.
    for (const [time, width, height] of [
      ["1.5", 160, 90],
      [String(Math.floor(a.durationSeconds - 1)), 96, 54],
    ] as const) {
      const t = await fetch(`${http.url}/vod/${a.id}/thumbnail.jpg?time=${time}&width=${width}`);
      expect(t.status).toBe(200);
      expect(t.headers.get("content-type")).toBe("image/jpeg");
      expect(t.headers.get("cache-control")).toBe("public, max-age=3600");
      const jpg = join(dataDir, `thumb-${time}.jpg`);
      await Bun.write(jpg, await t.arrayBuffer());
      expect((await ffprobeStreams(jpg))[0]).toMatchObject({ codec_name: "mjpeg", width, height });
    }
    for (const bad of ["time=abc", "time=99999", "time=1&time=2", "width=5"])
      expect((await fetch(`${http.url}/vod/${a.id}/thumbnail.jpg?${bad}`)).status).toBe(400);
    expect((await fetch(`${http.url}/vod/nosuchasset/thumbnail.jpg`)).status).toBe(404);

    expect(await sup.removeAsset(a.id)).toBe(true);
    expect(existsSync(dir)).toBe(false);
    expect(await sup.removeAsset("../live")).toBe(false);
  }, 180_000);

  test("low latency (LL-HLS): each rung's completed segments, no parts, ffprobe reads the asset", async () => {
    const id = "rec3";
    const ll: ProfileSpec = { ...profile, formats: ["ll-hls"], partDuration: 0.5, windowSize: 3 };
    const { sup, media, assets } = await setup(id, { window: 0, profile: ll });
    // Past the live window (3) in every rung: evicted segments are in the recording.
    await waitFor("5 segments per rendition", () => (sup.lowLatencyRun(id)?.segments() ?? 0) >= 15, 45_000);
    media.unpublish(id);
    await waitFor("the asset", () => assets.length === 1, 15_000);
    const a = assets[0]!;
    expect(a.sessions).toBe(1);
    expect(a.segments).toBeGreaterThanOrEqual(5);
    const text = readFileSync(join(dataDir, "vod", a.id, "180p", "index.m3u8"), "utf8");
    expect(text).toContain("#EXT-X-ENDLIST");
    expect(text).not.toContain("#EXT-X-PART");
    expect(text).toMatch(/^seg-[a-z0-9]+-0\.m4s$/m); // from the first segment on
    const streams = await ffprobeStreams(join(dataDir, "vod", a.id, "master.m3u8"));
    expect(
      streams
        .filter((s) => s.codec_type === "video")
        .map((s) => s.height)
        .sort(),
    ).toEqual([180, 90]);
    expect(streams.some((s) => s.codec_type === "audio")).toBe(true);
  }, 120_000);

  test("a disk nearly full: the recording stops with the reason on the status, the live stream goes on", async () => {
    const id = "rec2";
    const { sup, media, assets, segments } = await setup(id, { minFree: Number.MAX_SAFE_INTEGER, window: 0 });
    const errors: string[] = [];
    sup.onStatus((e) => {
      if (e.id === id && e.recordingError) errors.push(e.recordingError);
    });
    await waitFor("live with segments", () => sup.status(id) === "live" && segments() >= 2, 45_000);
    await waitFor("recording error reported", () => errors.length > 0, 10_000);
    expect(errors[0]).toContain("disk is nearly full");
    expect(sup.status(id)).toBe("live");
    media.unpublish(id);
    await waitFor("idle", () => sup.status(id) === "idle", 10_000);
    // Nothing was kept: no asset, no folder left behind.
    await Bun.sleep(500);
    expect(assets).toEqual([]);
    expect(readdirSync(join(dataDir, "vod")).filter((n) => n.includes("rec2"))).toEqual([]);
  }, 120_000);
});
