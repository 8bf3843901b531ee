/**
 * Supervisor with real ffmpeg: a live test pattern (UDP MPEG-TS, so the publisher survives the
 * transcoder being killed) → the ladder on disk, checked with ffprobe and the playlists.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createLogger, type DesiredStream, type ProfileSpec } from "@dionysia/shared";
import { freePort, isAlive, type Publisher, publish, waitFor } from "@dionysia/shared/testkit";
import HLS from "hls-parser";
import { parseMediaPlaylist } from "../src/supervisor/playlist.ts";
import { probeInput } from "../src/supervisor/probe.ts";
import { Supervisor, type SupervisorOptions } from "../src/supervisor/service.ts";
import { FfmpegBackend } from "../src/transcoder/ffmpeg/index.ts";
import { ffprobeKeyframes, ffprobeStreams } from "./helpers/ffprobe.ts";
import { TestMediaServer } from "./helpers/test-media-server.ts";

const small: ProfileSpec = {
  name: "test",
  renditions: [
    { name: "180p", codec: "h264", width: 320, height: 180, fps: 15, bitrateKbps: 300, preset: "ultrafast" },
    { name: "90p", codec: "h264", width: 160, height: 90, fps: 15, bitrateKbps: 100, preset: "ultrafast" },
  ],
  audio: { codec: "aac", bitrateKbps: 64, channels: 2, sampleRate: 48000 },
  segmentDuration: 1,
  windowSize: 4,
  formats: ["hls", "dash"],
  container: "fmp4",
};
const KEY_HASH = "a".repeat(64);
const desired = (id: string, profile: ProfileSpec, reconnectWindowSeconds?: number): DesiredStream => ({
  id,
  role: "origin",
  profile,
  keyHash: KEY_HASH,
  ...(reconnectWindowSeconds !== undefined ? { reconnectWindowSeconds } : {}),
});

let dataDir: string;
const logger = createLogger({ service: "test", level: process.env.TEST_LOG ?? "silent" });
const cleanups: (() => Promise<void>)[] = [];

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "origin-sup-"));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function setup(opts: {
  id: string;
  profile: ProfileSpec;
  audio?: boolean;
  video?: boolean;
  probeInput?: SupervisorOptions["probeInput"];
  tracks?: { video: boolean; audio: boolean };
  reconnectWindowSeconds?: number;
}) {
  const port = await freePort();
  const publisher: Publisher = publish(`udp://127.0.0.1:${port}`, { audio: opts.audio, video: opts.video });
  const media = new TestMediaServer();
  const sup = new Supervisor({
    dataDir,
    backend: new FfmpegBackend(),
    mediaServer: media,
    logger,
    backoffInitialMs: 300,
    pollMs: 200,
    cleanupGraceMs: 1500,
    ...(opts.probeInput !== undefined ? { probeInput: opts.probeInput } : {}),
  });
  sup.start();
  cleanups.push(async () => {
    await sup.stop();
    await publisher.stop();
  });
  await sup.setDesired([desired(opts.id, opts.profile, opts.reconnectWindowSeconds)]);
  const inputUrl = `udp://127.0.0.1:${port}?overrun_nonfatal=1&fifo_size=100000`;
  media.publish({
    streamId: opts.id,
    protocol: "srt",
    inputUrl,
    ...(opts.tracks ? { tracks: opts.tracks } : {}),
  });
  return { sup, media, publisher, inputUrl, outDir: join(dataDir, "live", opts.id) };
}

const readPlaylist = (p: string) => parseMediaPlaylist(readFileSync(p, "utf8"));

describe("supervisor + ffmpeg", () => {
  test("live input → HLS+DASH ladder: renditions, codecs, durations, aligned keyframes; stop → idle, no orphans", async () => {
    const { sup, media, outDir } = await setup({ id: "ladder1", profile: small });
    const statuses: string[] = [];
    sup.onStatus((e) => statuses.push(e.status));
    await waitFor("live", () => sup.status("ladder1") === "live", 45_000);
    // Wait for a few segments so durations are meaningful.
    await waitFor("segments", () => (sup.stats()[0]?.segments ?? 0) >= 9, 30_000);

    const master = HLS.parse(readFileSync(join(outDir, "master.m3u8"), "utf8")) as HLS.types.MasterPlaylist;
    expect(master.isMasterPlaylist).toBe(true);
    expect(master.variants.map((v) => v.resolution)).toEqual([
      { width: 320, height: 180 },
      { width: 160, height: 90 },
    ]);
    expect(master.variants[0]!.codecs).toBe("avc1.42c01e,mp4a.40.2");
    expect(master.variants[0]!.frameRate).toBe(15);

    for (const [i, v] of master.variants.entries()) {
      const pl = readPlaylist(join(outDir, v.uri));
      expect(pl.segments.length).toBeGreaterThanOrEqual(2);
      // Segment durations ≈ target (all but the newest, which may be cut by the window).
      for (const d of pl.durations) expect(Math.abs(d - 1)).toBeLessThan(0.15);
      const base = dirname(join(outDir, v.uri));
      const init = join(base, pl.mapUri!);
      const seg = join(base, pl.segments[pl.segments.length - 2]!);
      const streams = await ffprobeStreams(`concat:${init}|${seg}`);
      const video = streams.find((s) => s.codec_type === "video")!;
      expect(video.codec_name).toBe("h264");
      expect([video.width, video.height]).toEqual(i === 0 ? [320, 180] : [160, 90]);
      expect(video.level).toBe(30);
      // Every segment starts on a keyframe, and there is one keyframe per segment.
      const pk = await ffprobeKeyframes(`concat:${init}|${seg}`);
      expect(pk[0]!.key).toBe(true);
      expect(pk.filter((p) => p.key)).toHaveLength(1);
    }
    // Shared audio rendition, encoded once.
    const audioUri = master.variants[0]!.audio[0]!.uri!;
    const apl = readPlaylist(join(outDir, audioUri!));
    const abase = dirname(join(outDir, audioUri!));
    const astreams = await ffprobeStreams(
      `concat:${join(abase, apl.mapUri!)}|${join(abase, apl.segments[0]!)}`,
    );
    expect(astreams[0]!.codec_name).toBe("aac");

    // DASH manifest from the same segments.
    const mpd = readFileSync(join(outDir, "manifest.mpd"), "utf8");
    expect(mpd).toContain("<MPD");
    expect(mpd).toContain('type="dynamic"');
    expect((mpd.match(/<Representation /g) ?? []).length).toBe(3);
    expect(mpd).toContain('width="160" height="90"');

    // Sliding window: old segments deleted.
    const { readdirSync } = await import("node:fs");
    // Segments live in the run's folder; the served playlist says where.
    const firstUri = master.variants[0]!.uri;
    const firstPl = readPlaylist(join(outDir, firstUri));
    const segDir = dirname(join(outDir, dirname(firstUri), firstPl.segments[0]!));
    await waitFor(
      "window",
      () => readdirSync(segDir).filter((n) => n.endsWith(".m4s")).length <= 4 + 3,
      10_000,
    );

    const stats = sup.stats()[0]!;
    expect(stats.load).toBeGreaterThan(0);
    expect(stats.speed).toBeGreaterThan(0);

    // Publisher leaves → idle, process gone, files removed after grace.
    const pids = sup.processes().map((p) => p.pid);
    expect(pids.every(isAlive)).toBe(true);
    media.unpublish("ladder1");
    await waitFor("idle", () => sup.status("ladder1") === "idle", 10_000);
    await waitFor("no processes", () => sup.processes().length === 0 && !pids.some(isAlive), 10_000);
    await waitFor("segments removed", () => !existsSync(outDir), 10_000);
    expect(statuses).toEqual(["live", "idle"]);
  }, 120_000);

  test("crash (SIGKILL) → restarted; publisher returns → live again; stop() leaves no orphans", async () => {
    const { sup, media, inputUrl } = await setup({
      id: "crash1",
      profile: { ...small, formats: ["hls"], renditions: [small.renditions[1]!] },
    });
    await waitFor("live", () => sup.status("crash1") === "live", 45_000);
    const pid1 = sup.processes()[0]!.pid!;
    process.kill(pid1, "SIGKILL");
    await waitFor("error status", () => sup.status("crash1") === "error", 10_000);
    expect(sup.lastError("crash1")).toContain("SIGKILL");
    await waitFor("live after restart", () => sup.status("crash1") === "live", 45_000);
    const pid2 = sup.processes()[0]!.pid!;
    expect(pid2).not.toBe(pid1);
    expect(isAlive(pid1)).toBe(false);

    media.unpublish("crash1");
    await waitFor("idle", () => sup.status("crash1") === "idle", 10_000);
    await waitFor("process gone after unpublish", () => !isAlive(pid2), 10_000);
    media.publish({ streamId: "crash1", protocol: "srt", inputUrl });
    await waitFor("live again", () => sup.status("crash1") === "live", 45_000);
    const pid3 = sup.processes()[0]!.pid!;
    await sup.stop();
    expect(isAlive(pid3)).toBe(false);
  }, 150_000);

  test("TS container and audio-only input → audio ladder master", async () => {
    const ts = await setup({
      id: "ts1",
      profile: { ...small, formats: ["hls"], container: "ts", renditions: [small.renditions[1]!] },
    });
    await waitFor("ts live", () => ts.sup.status("ts1") === "live", 45_000);
    const pl = readPlaylist(join(ts.outDir, "90p/index.m3u8"));
    expect(pl.segments[0]).toEndWith(".ts");
    expect(pl.mapUri).toBeUndefined();
    const streams = await ffprobeStreams(join(ts.outDir, "90p", pl.segments[0]!));
    expect(streams.find((s) => s.codec_type === "video")?.height).toBe(90);
    for (const c of cleanups.splice(0).reverse()) await c();

    // The profile has video, the input has none: the probe turns it into an audio ladder.
    const a = await setup({ id: "audio1", profile: { ...small, formats: ["hls"] }, video: false });
    await waitFor("audio live", () => a.sup.status("audio1") === "live", 45_000);
    const master = HLS.parse(readFileSync(join(a.outDir, "master.m3u8"), "utf8")) as HLS.types.MasterPlaylist;
    expect(master.variants).toHaveLength(1);
    expect(master.variants[0]!.uri).toBe("audio/index.m3u8");
    expect(master.variants[0]!.codecs).toBe("mp4a.40.2");
    const apl = readPlaylist(join(a.outDir, "audio/index.m3u8"));
    const astreams = await ffprobeStreams(
      `concat:${join(a.outDir, "audio", apl.mapUri!)}|${join(a.outDir, "audio", apl.segments[0]!)}`,
    );
    expect(astreams.map((s) => s.codec_type)).toEqual(["audio"]);
  }, 150_000);

  test("tracks on the publish event → no probe (audio-only ladder from them); without tracks → probed", async () => {
    const probed: string[] = [];
    const countingProbe = (url: string) => {
      probed.push(url);
      return probeInput(url);
    };
    const profile: ProfileSpec = { ...small, formats: ["hls"], renditions: [small.renditions[1]!] };
    const { sup, media, outDir, inputUrl } = await setup({
      id: "tracks1",
      profile,
      video: false,
      probeInput: countingProbe,
      tracks: { video: false, audio: true },
    });
    await waitFor("live from reported tracks", () => sup.status("tracks1") === "live", 45_000);
    expect(probed).toHaveLength(0);
    // The reported tracks shaped the job: the profile asks for video, the input has none.
    const master = HLS.parse(readFileSync(join(outDir, "master.m3u8"), "utf8")) as HLS.types.MasterPlaylist;
    expect(master.variants.map((v) => v.uri)).toEqual(["audio/index.m3u8"]);

    media.unpublish("tracks1");
    await waitFor("idle", () => sup.status("tracks1") === "idle" && sup.processes().length === 0, 10_000);
    media.publish({ streamId: "tracks1", protocol: "srt", inputUrl });
    await waitFor("live after a probe", () => sup.status("tracks1") === "live", 45_000);
    expect(probed).toEqual([inputUrl]);
  }, 120_000);

  test("reconnect window: input gone → reconnecting, playlist open; back → it goes on; window over → idle, ENDLIST", async () => {
    const id = "recon1";
    const { sup, media, inputUrl, outDir } = await setup({
      id,
      profile: { ...small, formats: ["hls"], renditions: [small.renditions[1]!] },
      reconnectWindowSeconds: 3,
    });
    const seen: string[] = [];
    sup.onStatus((ev) => {
      if (ev.id === id && seen.at(-1) !== ev.status) seen.push(ev.status);
    });
    const path = join(outDir, "90p", "index.m3u8");
    const read = () => (existsSync(path) ? readPlaylist(path) : undefined);
    const lastMsn = (p: ReturnType<typeof readPlaylist>) => p.mediaSequence + p.segments.length - 1;
    await waitFor("3 segments served", () => (read()?.segments.length ?? 0) >= 3, 45_000);
    const pid1 = sup.processes()[0]!.pid!;

    media.unpublish(id);
    await waitFor("reconnecting", () => sup.status(id) === "reconnecting", 5000);
    await waitFor("transcoder stopped", () => !isAlive(pid1), 10_000);
    const during = read()!;
    expect(during.ended).toBe(false); // viewers wait for the streamer: no ENDLIST

    media.publish({ streamId: id, protocol: "srt", inputUrl });
    await waitFor("live again", () => sup.status(id) === "live", 45_000);
    await waitFor(
      "new run's segments after a discontinuity",
      () => {
        const p = read();
        return p !== undefined && p.discontinuities.length > 0 && lastMsn(p) > lastMsn(during) + 1;
      },
      30_000,
    );
    const after = read()!;
    expect(after.mediaSequence).toBeGreaterThanOrEqual(during.mediaSequence); // never goes back
    expect(after.ended).toBe(false);

    const pid2 = sup.processes()[0]!.pid!;
    media.unpublish(id);
    await waitFor("reconnecting again", () => sup.status(id) === "reconnecting", 5000);
    await waitFor("process gone", () => !isAlive(pid2), 10_000);
    expect(read()!.ended).toBe(false);
    await waitFor("window over: idle", () => sup.status(id) === "idle", 8000);
    await waitFor("ENDLIST", () => read()?.ended === true, 5000);
    // Back within the window it goes from reconnecting straight to live: never `starting`, which
    // would make routers answer 503 while the old playlists are still being served.
    expect(seen).toEqual(["live", "reconnecting", "live", "reconnecting", "idle"]);

    // After the end, a publish is a new session: new playlists, from the start.
    media.publish({ streamId: id, protocol: "srt", inputUrl });
    await waitFor("a new playlist", () => read()?.ended === false && read()?.mediaSequence === 0, 45_000);
    expect(read()!.discontinuities).toEqual([]);
  }, 150_000);

  test("stall (input goes silent) → restarted; not desired → nothing runs", async () => {
    const { sup, publisher, media } = await setup({
      id: "stall1",
      profile: { ...small, formats: ["hls"], renditions: [small.renditions[1]!] },
    });
    await waitFor("live", () => sup.status("stall1") === "live", 45_000);
    const pid1 = sup.processes()[0]!.pid!;
    await publisher.stop(); // UDP input silent, ffmpeg blocks: only the stall detector notices
    await waitFor("stall detected", () => sup.lastError("stall1")?.includes("stalled"), 20_000);
    await waitFor("stalled process killed", () => !isAlive(pid1), 10_000);

    // A stream published but not desired on this node is never transcoded.
    media.publish({ streamId: "stranger", protocol: "rtmp", inputUrl: "udp://127.0.0.1:9" });
    expect(sup.status("stranger")).toBe("idle");
    expect(sup.processes().some((p) => p.id === "stranger")).toBe(false);
    // Authorized by control at publish time (profile + keyHash on the event): treated as desired.
    media.publish({
      streamId: "authz",
      protocol: "rtmp",
      inputUrl: "udp://127.0.0.1:9",
      profile: small,
      keyHash: KEY_HASH,
    });
    await waitFor("authorized stream starting", () => sup.status("authz") !== "idle", 5000);
    expect(media.configured.map((s) => s.id)).toEqual(["stall1"]);
    await sup.setDesired([]);
    await waitFor("provisional dropped on next setDesired", () => sup.status("authz") === "idle", 10_000);
  }, 120_000);
});
