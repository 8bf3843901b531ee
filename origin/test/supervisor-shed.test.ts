/**
 * Supervisor with real ffmpeg under overload and restarts (ADR 0027): a ladder far too heavy for
 * the machine is shed (not restart-looped), a SIGKILLed encoder's successor continues the same
 * playlists, and a back end that exits without writing anything is an error with its log.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createLogger, type DesiredStream, type ProfileSpec } from "@dionysia/shared";
import { freePort, isAlive, publish, reportSkip, waitFor } from "@dionysia/shared/testkit";
import HLS from "hls-parser";
import { parseMediaPlaylist } from "../src/supervisor/playlist.ts";
import { type StreamStatusEvent, Supervisor } from "../src/supervisor/service.ts";
import { ffmpegLayout } from "../src/transcoder/ffmpeg/command.ts";
import { FfmpegBackend } from "../src/transcoder/ffmpeg/index.ts";
import { GpacBackend } from "../src/transcoder/gpac/index.ts";
import type { TranscoderBackend } from "../src/transcoder/types.ts";
import { ffprobeStreams } from "./helpers/ffprobe.ts";
import { TestMediaServer } from "./helpers/test-media-server.ts";

const hasFfmpeg = Bun.spawnSync(["sh", "-c", "command -v ffmpeg && command -v ffprobe"]).exitCode === 0;
if (!hasFfmpeg) console.warn("ffmpeg/ffprobe not on PATH: supervisor overload tests skipped");

const light = [
  { name: "180p", codec: "h264", width: 320, height: 180, fps: 15, bitrateKbps: 300, preset: "ultrafast" },
  { name: "90p", codec: "h264", width: 160, height: 90, fps: 15, bitrateKbps: 100, preset: "ultrafast" },
] as const;
const small: ProfileSpec = {
  name: "test",
  renditions: [...light],
  audio: { codec: "aac", bitrateKbps: 64, channels: 2, sampleRate: 48000 },
  segmentDuration: 1,
  windowSize: 4,
  formats: ["hls", "dash"],
  container: "fmp4",
};
/** 1440p60 with x264 `medium` costs ~221 load units: tens of cores to hold real time. */
const heavy: ProfileSpec = {
  ...small,
  renditions: [
    { name: "1440p", codec: "h264", width: 2560, height: 1440, fps: 60, bitrateKbps: 8000, preset: "medium" },
    ...light,
  ],
};
const desired = (id: string, profile: ProfileSpec): DesiredStream => ({
  id,
  role: "origin",
  profile,
  keyHash: "a".repeat(64),
});

let dataDir: string;
const logger = createLogger({ service: "test", level: process.env.TEST_LOG ?? "silent" });
const cleanups: (() => Promise<void>)[] = [];
beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "origin-shed-"));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function setup(id: string, profile: ProfileSpec, backend: TranscoderBackend = new FfmpegBackend()) {
  const port = await freePort();
  const publisher = publish(`udp://127.0.0.1:${port}`);
  const media = new TestMediaServer();
  const sup = new Supervisor({
    dataDir,
    backend,
    mediaServer: media,
    logger,
    backoffInitialMs: 300,
    pollMs: 200,
    cleanupGraceMs: 1500,
  });
  const events: StreamStatusEvent[] = [];
  sup.onStatus((e) => events.push(e));
  sup.start();
  cleanups.push(async () => {
    await sup.stop();
    await publisher.stop();
  });
  await sup.setDesired([desired(id, profile)]);
  media.publish({
    streamId: id,
    protocol: "srt",
    // ffmpeg's UDP options; gpac reads MPEG-TS over UDP with its own socket filter.
    inputUrl:
      backend.name === "gpac"
        ? `udp://127.0.0.1:${port}`
        : `udp://127.0.0.1:${port}?overrun_nonfatal=1&fifo_size=100000`,
    tracks: { video: true, audio: true },
  });
  return { sup, events, outDir: join(dataDir, "live", id) };
}

const read = (p: string) => parseMediaPlaylist(readFileSync(p, "utf8"));
const master = (outDir: string) =>
  HLS.parse(readFileSync(join(outDir, "master.m3u8"), "utf8")) as HLS.types.MasterPlaylist;

describe.skipIf(!hasFfmpeg)("overload: slow is shed, not restarted", () => {
  test("a ladder far too heavy: top rung shed, master and status list the served rungs, no stall loop", async () => {
    const { sup, events, outDir } = await setup("heavy1", heavy);
    // On a quiet machine the heavy ladder may get a first segment out (status live with three
    // rungs) before its speed over the window condemns it; either way it is shed.
    await waitFor(
      "live with the top rung shed",
      () => events.some((e) => e.status === "live" && e.renditions?.join(",") === "180p,90p"),
      90_000,
    );
    const m = await waitFor(
      "master with the served rungs",
      () => {
        const x = master(outDir);
        return x.variants.length === 2 ? x : undefined;
      },
      30_000,
    );
    expect(m.variants.map((v) => v.resolution?.height)).toEqual([180, 90]);
    // The shed rung's playlist is not in the master (media_0 was the 1440p one).
    expect(m.variants.map((v) => v.uri)).toEqual(["media_1.m3u8", "media_2.m3u8"]);
    const stats = sup.stats()[0]!;
    expect(stats.load).toBeLessThan(5); // the light rungs' cost, not 221

    // No restart loop: for 4 stall windows the same process keeps writing segments.
    const pid = sup.processes()[0]!.pid;
    const before = sup.stats()[0]!.segments ?? 0;
    const t0 = Date.now();
    await waitFor("12 s", () => Date.now() - t0 > 12_000, 20_000, 500);
    expect(sup.processes()[0]!.pid).toBe(pid);
    expect(isAlive(pid)).toBe(true);
    expect(sup.status("heavy1")).toBe("live");
    expect((sup.stats()[0]!.segments ?? 0) - before).toBeGreaterThanOrEqual(8);
    expect(events.some((e) => e.status === "error")).toBe(false);
    expect(sup.lastError("heavy1")).toBeUndefined();
    // One step was enough: the light rungs were not shed in turn.
    expect(master(outDir).variants).toHaveLength(2);
    // The served playlists grew past one segment and play.
    const pl = read(join(outDir, "media_1.m3u8"));
    expect(pl.segments.length).toBe(4);
    const streams = await ffprobeStreams(join(outDir, "media_1.m3u8"));
    expect(streams.find((s) => s.codec_type === "video")?.height).toBe(180);
  }, 150_000);
});

/** The restart case runs over every back end present (gpac when it is on PATH), like the behaviour suite. */
const gpac = new GpacBackend();
const gpacFound = await gpac.detect();
if (!gpacFound.ok)
  reportSkip("origin/test/supervisor-shed.test.ts (gpac back end)", gpacFound.reason ?? "gpac not found");
const restartBackends = [
  {
    name: "ffmpeg",
    make: () => new FfmpegBackend(),
    names: { video: "media_0.m3u8", audio: "media_2.m3u8" },
    on: true,
  },
  {
    name: "gpac",
    make: () => new GpacBackend(),
    names: { video: "media-180p.m3u8", audio: "media-audio.m3u8" },
    on: gpacFound.ok,
  },
];

describe.skipIf(!hasFfmpeg)("restart continues the playlists", () => {
  for (const { name, make, names, on } of restartBackends) {
    if (!on) continue;
    test(`${name}: SIGKILL: media sequence keeps growing, EXT-X-DISCONTINUITY and a new DASH Period at the restart`, async () => {
      const { sup, outDir } = await setup(`cont1${name}`, small, make());
      const id = `cont1${name}`;
      await waitFor("live", () => sup.status(id) === "live", 45_000);
      await waitFor("3 segments", () => read(join(outDir, names.video)).segments.length >= 3, 20_000);
      const before = read(join(outDir, names.video));
      const beforeEnd = before.mediaSequence + before.segments.length;
      const oldRun = dirname(dirname(before.segments[0]!));
      // What the capacity correction reads (ADR 0044): the run's CPU and media seconds so far
      // (from ffmpeg's -progress; gpac reports none, so only ffmpeg runs are samples).
      const u = sup.usage()[0]!;
      expect(`run-${u.runId}`).toBe(oldRun);
      if (name === "ffmpeg") {
        expect(u.cpuSeconds).toBeGreaterThan(0);
        expect(u.mediaSeconds).toBeGreaterThan(1);
      }
      expect(u.cost).toBeCloseTo(0.864 + 0.216 + 0.25, 3);
      const pid1 = sup.processes()[0]!.pid!;
      process.kill(pid1, "SIGKILL");
      await waitFor("restarted", () => sup.processes()[0]?.pid !== pid1 && sup.processes()[0]?.pid, 20_000);
      // Two segments of the new run are served after the old ones.
      const after = await waitFor(
        "new run's segments in the same playlist",
        () => {
          const p = read(join(outDir, names.video));
          const fresh = p.segments.filter((s) => !s.startsWith(`${oldRun}/`));
          return fresh.length >= 2 && p.segments.length === 4 ? p : undefined;
        },
        45_000,
      );
      expect(after.mediaSequence).toBeGreaterThanOrEqual(before.mediaSequence);
      expect(after.mediaSequence + after.segments.length).toBeGreaterThan(beforeEnd);
      const text = readFileSync(join(outDir, names.video), "utf8");
      if (after.segments.some((s) => s.startsWith(`${oldRun}/`))) {
        expect(after.discontinuities).toHaveLength(1);
        expect(text).toContain("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:");
      } else {
        // The old run's segments slid out already: the discontinuity is counted instead.
        expect(after.discontinuitySequence).toBe(1);
      }
      // No name collides; every listed segment is on disk.
      expect(new Set(after.segments).size).toBe(after.segments.length);
      for (const s of after.segments) expect(existsSync(join(outDir, s))).toBe(true);
      // The same for the audio playlist, which the restart must not reset either.
      const audio = read(join(outDir, names.audio));
      expect(audio.mediaSequence + audio.segments.length).toBeGreaterThan(beforeEnd - 1);

      // DASH: the restart opened a new Period, whose segments live in the new run's folder.
      const mpd = readFileSync(join(outDir, "manifest.mpd"), "utf8");
      const periods = [...mpd.matchAll(/<Period id="([^"]+)" start="PT([0-9.]+)S">/g)];
      expect(periods.length).toBeGreaterThanOrEqual(1);
      const lastPeriod = periods.at(-1)!;
      expect(`run-${lastPeriod[1]}`).not.toBe(oldRun);
      if (after.segments.some((s) => s.startsWith(`${oldRun}/`))) {
        // Both runs' segments are listed: both Periods are there, in order.
        expect(periods).toHaveLength(2);
        expect(`run-${periods[0]![1]}`).toBe(oldRun);
        expect(Number(periods[1]![2])).toBeGreaterThan(Number(periods[0]![2]));
      }
      expect(mpd).toContain(`initialization="run-${lastPeriod[1]}/$RepresentationID$/init-`);
      // ffprobe plays the served HLS across the restart and reads the manifest.
      const hls = await ffprobeStreams(join(outDir, names.video));
      expect(hls.find((s) => s.codec_type === "video")?.width).toBe(320);
      const dash = await ffprobeStreams(join(outDir, "manifest.mpd"));
      expect(dash.filter((s) => s.codec_type === "video").map((s) => s.height)).toEqual([180, 90]);
    }, 150_000);
  }

  test("HLS alone (hls muxer): the rendition folder's playlist continues into the new run's folder", async () => {
    const { sup, outDir } = await setup("cont2", { ...small, formats: ["hls"], renditions: [light[1]] });
    await waitFor("live", () => sup.status("cont2") === "live", 45_000);
    await waitFor("2 segments", () => read(join(outDir, "90p/index.m3u8")).segments.length >= 2, 20_000);
    const before = read(join(outDir, "90p/index.m3u8"));
    const pid1 = sup.processes()[0]!.pid!;
    process.kill(pid1, "SIGKILL");
    const after = await waitFor(
      "two segments after a discontinuity",
      () => {
        const p = read(join(outDir, "90p/index.m3u8"));
        return p.discontinuities.length === 1 && p.discontinuities[0]! < p.segments.length - 1
          ? p
          : undefined;
      },
      45_000,
    );
    expect(after.mediaSequence + after.segments.length).toBeGreaterThan(
      before.mediaSequence + before.segments.length,
    );
    // Segments are referenced relative to the served playlist's folder.
    expect(after.segments.every((s) => s.startsWith("../run-"))).toBe(true);
    for (const s of after.segments) expect(existsSync(join(outDir, "90p", s))).toBe(true);
    const streams = await ffprobeStreams(join(outDir, "90p/index.m3u8"));
    expect(streams.find((s) => s.codec_type === "video")?.height).toBe(90);
  }, 120_000);
});

describe.skipIf(!hasFfmpeg)("a back end is judged by its output", () => {
  test("exit 0 without writing anything is an error carrying its log, colour codes stripped", async () => {
    const silent: TranscoderBackend = {
      name: "gpac",
      available: async () => true,
      // What gpac did with an unconnected graph: exit 0, a coloured error, no file.
      buildCommand: () => ({
        cmd: "sh",
        args: ["-c", "printf '\\033[31mFilters not connected: fout\\033[0m\\n' >&2; exit 0"],
      }),
      layout: (job) => ffmpegLayout(job),
    };
    const { sup, events } = await setup("silent1", small, silent);
    await waitFor("error status", () => sup.status("silent1") === "error", 15_000);
    const err = sup.lastError("silent1")!;
    expect(err).toContain("code 0");
    expect(err).toContain("without writing any playlist or segment");
    expect(err).toContain("Filters not connected: fout");
    expect(err).not.toContain("\x1b");
    expect(events.find((e) => e.status === "error")?.lastError).toBe(err);
    expect(events.some((e) => e.status === "live")).toBe(false);
  }, 60_000);
});
