/**
 * One behaviour suite for every transcoder back end (the way Hono runs one router suite over every
 * router): the same cases, with real ffmpeg publishers, the embedded RTMP server and ffprobe. It
 * runs fully for ffmpeg everywhere and for gpac wherever gpac is on PATH; a back end whose binary
 * is missing is skipped, with a line saying which and why.
 *
 * Every fMP4 segment is probed together with its init segment (a bare .m4s has no moov).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ProfileSpec, type Rendition as RenditionSpec, UTC_TIMING_SCHEME } from "@dionysia/shared";
import { reportSkip } from "@dionysia/shared/testkit";
import { partTargetFor } from "../src/packager/segmenter.ts";
import { runNaming } from "../src/supervisor/low-latency.ts";
import { h264Level } from "../src/transcoder/codecs.ts";
import { FfmpegBackend } from "../src/transcoder/ffmpeg/index.ts";
import { GpacBackend } from "../src/transcoder/gpac/index.ts";
import { THUMBNAIL_FILE } from "../src/transcoder/thumbnail.ts";
import type { TranscoderBackend } from "../src/transcoder/types.ts";
import {
  bitrateKbps,
  probeFiles,
  probeRendition,
  probeStreams,
  readRendition,
} from "./helpers/transcode-output.ts";
import {
  LiveSource,
  makeFile,
  type Transcoded,
  transcode,
  transcodeLowLatency,
} from "./helpers/transcode-run.ts";

const SEG = 1;
const AUDIO = { codec: "aac", bitrateKbps: 128, channels: 2, sampleRate: 48000 } as const;
const ladder: ProfileSpec = {
  name: "suite ladder",
  renditions: [
    { name: "180p", codec: "h264", width: 320, height: 180, fps: 30, bitrateKbps: 400, preset: "ultrafast" },
    // Not exactly 16:9 (like 854x480): must stay in the same DASH adaptation set.
    { name: "90p", codec: "h264", width: 162, height: 90, fps: 30, bitrateKbps: 150, preset: "veryfast" },
  ],
  audio: AUDIO,
  segmentDuration: SEG,
  windowSize: 10,
  formats: ["hls", "dash"],
  container: "fmp4",
};

/** Limits of a back end the suite knows about, each with its reason (printed when it applies). */
interface KnownDefects {
  /**
   * gpac 26.07: the mp4 muxer takes a track's first sample duration from the packet, and ffavf's
   * frame-rate conversion copies the source packet's duration; so in the first segment of a run
   * the frames after the first are early by up to one frame (ADR 0024). Boundaries stay exact.
   */
  firstSegmentTiming?: string;
  /**
   * The back end makes ll-hls only from a source at the rungs' frame rate: for a rung that needs
   * conversion its refusal must say this (ADR 0099).
   */
  lowLatencyNeedsSourceRate?: RegExp;
  /** LL: the first audio part is one AAC frame longer (gpac counts the priming frame in it). */
  audioPrimingInFirstPart?: boolean;
  /**
   * Milliseconds a CMAF fragment may fall short of the next one's start: gpac, fed the source's
   * millisecond timestamps (no frame-rate stage), ends a fragment on a sample that keeps the
   * source packet's 33 ms where the frames step 33/33/34 ms. Far under a player's gap tolerance.
   */
  partGapMs?: number;
}

interface BackendCase {
  name: string;
  known: KnownDefects;
  backend: TranscoderBackend & { detect(): Promise<{ ok: boolean; reason?: string; version?: string }> };
}
const backends: BackendCase[] = [
  { name: "ffmpeg", backend: new FfmpegBackend(), known: {} },
  {
    name: "gpac",
    backend: new GpacBackend(),
    known: {
      firstSegmentTiming: "first sample duration copied from the source (ADR 0024)",
      lowLatencyNeedsSourceRate: /without frame-rate conversion: rung 180p is 15 fps, the source is 30 fps/,
      audioPrimingInFirstPart: true,
      partGapMs: 1,
    },
  },
];

/** Exit 0; otherwise fail with what the process said, not just its code. */
function expectClean(t: Transcoded) {
  if (t.exit.code !== 0) throw new Error(`exit ${t.exit.code} (${t.exit.signal}):\n${t.exit.stderrTail}`);
}

const playlists = (t: Transcoded) => [
  ...t.layout.variants.map((v) => v.playlist),
  ...(t.layout.audio ? [t.layout.audio.playlist] : []),
];

/**
 * The live thumbnail (ADR 0093): where the layout names one, a JPEG of its width at the source's
 * aspect (the suite publishes 16:9); where it names none, no file.
 */
async function expectThumbnail(t: Transcoded, present: boolean) {
  const file = join(t.outDir, THUMBNAIL_FILE);
  if (!present || !t.layout.thumbnail) {
    // gpac has none (ADR 0093); passthrough and audio-only have none on any back end.
    if (present) expect(t.layout.thumbnail).toBeUndefined();
    expect(existsSync(file)).toBe(false);
    return;
  }
  expect(t.layout.thumbnail.file).toBe(THUMBNAIL_FILE);
  const [s] = await probeStreams(file);
  const w = t.layout.thumbnail.width;
  expect([s?.codec_name, s?.width, s?.height]).toEqual(["mjpeg", w, Math.round((w * 9) / 16 / 2) * 2]);
}

/** Segment durations from the playlist: every one but the last (cut by the end of input) ≈ SEG. */
function expectDurations(t: Transcoded, playlist: string, seg: number, minSegments: number) {
  const r = readRendition(t.outDir, playlist);
  expect(r.segments.length).toBeGreaterThanOrEqual(minSegments);
  for (const d of r.durations.slice(0, -1)) expect(Math.abs(d - seg)).toBeLessThan(0.1);
  expect(r.segments.every((s) => existsSync(s))).toBe(true);
  return r;
}

/**
 * Sizes, codec, level; frame rate as frames per segment; steady frame timing; one keyframe at the
 * start of every segment. Returns each segment's start time (ms), for the alignment check.
 */
async function expectVideoRung(
  t: Transcoded,
  playlist: string,
  spec: RenditionSpec,
  known: KnownDefects,
): Promise<number[]> {
  const seg = t.job.profile.segmentDuration;
  const r = expectDurations(t, playlist, seg, 3);
  const all = await probeRendition(r);
  const v = all.streams[0]!;
  expect(v.codec_type).toBe("video");
  expect(v.codec_name).toBe("h264");
  expect([v.width, v.height]).toEqual([spec.width, spec.height]);
  expect(v.level).toBe(h264Level(spec.width!, spec.height!, spec.fps!));
  const starts: number[] = [];
  for (const [i, file] of r.segments.entries()) {
    const p = await probeFiles([...(r.init ? [r.init] : []), file]);
    expect(p.packets[0]!.key).toBe(true);
    expect(p.packets.filter((k) => k.key)).toHaveLength(1);
    starts.push(Math.round(p.packets[0]!.pts * 1000));
    const last = i === r.segments.length - 1;
    // The frame rate the profile asks for: exactly fps × segment frames in every full segment.
    if (!last) expect(p.packets.length).toBe(Math.round(spec.fps! * seg));
    if (i === 0 && known.firstSegmentTiming) continue;
    // Steady timing inside the segment: 1/fps steps, no jumps or overlaps.
    const pts = p.packets.map((k) => k.pts).sort((a, b) => a - b);
    for (let j = 1; j < pts.length; j++) {
      expect(Math.abs(pts[j]! - pts[j - 1]! - 1 / spec.fps!)).toBeLessThan(0.25 / spec.fps!);
    }
  }
  // Segments follow each other by one segment duration (from the media, not the playlist).
  for (let i = 1; i < starts.length; i++)
    expect(Math.abs(starts[i]! - starts[i - 1]! - seg * 1000)).toBeLessThan(20);
  return starts;
}

async function expectAudio(t: Transcoded, playlist: string) {
  const r = expectDurations(t, playlist, t.job.profile.segmentDuration, 3);
  const p = await probeRendition(r);
  const a = p.streams[0]!;
  expect(a.codec_name).toBe("aac");
  expect(a.channels).toBe(2);
  expect(a.sample_rate).toBe("48000");
  const kbps = bitrateKbps(p.packets);
  expect(Math.abs(kbps / AUDIO.bitrateKbps - 1)).toBeLessThan(0.1);
}

async function expectDash(t: Transcoded, videoSizes: [number, number][], audio: boolean) {
  const mpd = readFileSync(join(t.outDir, t.layout.dash!), "utf8");
  expect(mpd).toContain("<MPD");
  // Segment times from the media, not from the wall clock.
  expect(mpd).toContain("<SegmentTimeline");
  expect((mpd.match(/<AdaptationSet/g) ?? []).length).toBe((videoSizes.length ? 1 : 0) + (audio ? 1 : 0));
  // The clock players synchronise to: the job's time source, http-xsdate (dash.js error 16 without).
  const timing = /<UTCTiming\s+schemeIdUri="([^"]+)"\s+value="([^"]+)"/.exec(mpd);
  expect(timing?.slice(1)).toEqual([UTC_TIMING_SCHEME, t.job.utcTimingUrl!]);
  const streams = await probeStreams(join(t.outDir, t.layout.dash!));
  const sizes = streams.filter((s) => s.codec_type === "video").map((s) => [s.width, s.height]);
  expect(sizes.sort()).toEqual([...videoSizes].sort());
  expect(streams.filter((s) => s.codec_type === "audio").length).toBe(audio ? 1 : 0);
}

for (const { name, backend, known } of backends) {
  const detected = await backend.detect();
  if (!detected.ok) {
    reportSkip(`origin/test/transcoder-backends.test.ts (${name} back end)`, detected.reason);
  } else if (known.firstSegmentTiming) {
    console.warn(
      `transcoder-backends.test.ts: ${name}: first segment's frame timing not checked: ${known.firstSegmentTiming}`,
    );
  }

  describe.skipIf(!detected.ok)(`transcoder back end: ${name}`, () => {
    const live = new LiveSource();
    let dir: string;
    let file: string;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), `suite-${name}-`));
      await live.start();
      file = await makeFile(dir, "in.mp4", { seconds: 6, rate: 30 });
    });
    afterAll(async () => {
      await live.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    test("live RTMP → HLS + DASH ladder: sizes, levels, durations, aligned keyframes, 48 kHz stereo AAC", async () => {
      const pub = await live.push(ladder, { seconds: 7 });
      const t = await transcode(backend, ladder, pub.inputUrl, {
        timeoutMs: 60_000,
        root: join(dir, "ladder"),
      });
      pub.stop();
      expectClean(t);
      const keys: number[][] = [];
      for (const [i, v] of t.layout.variants.entries()) {
        keys.push(await expectVideoRung(t, v.playlist, ladder.renditions[i]!, known));
      }
      // Aligned across renditions: the same segment starts at the same media time everywhere.
      expect(keys[1]).toEqual(keys[0]!);
      await expectAudio(t, t.layout.audio!.playlist);
      // A/V in sync: video and audio start together, within one video plus one AAC frame
      // (a B-frame delay left uncompensated shows here: the rung starts 2 frames late).
      const first = async (playlist: string) =>
        Math.min(...(await probeRendition(readRendition(t.outDir, playlist))).packets.map((p) => p.pts));
      const av = (await first(t.layout.variants[1]!.playlist)) - (await first(t.layout.audio!.playlist));
      expect(Math.abs(av)).toBeLessThan(1 / 30 + 1024 / 48000);
      await expectDash(
        t,
        [
          [320, 180],
          [162, 90],
        ],
        true,
      );
      await expectThumbnail(t, true);
    }, 120_000);

    test("ll-hls: CMAF chunks per rung and audio, parts within PART-TARGET, keyframes on segment starts", async () => {
      const profile: ProfileSpec = { ...ladder, formats: ["ll-hls"], partDuration: 0.25 };
      const pub = await live.push(profile, { seconds: 7 });
      // The embedded server read the publisher's declared rate (onMetaData): what gpac needs.
      expect(pub.input).toEqual({ hasVideo: true, hasAudio: true, frameRate: 30 });
      if (known.lowLatencyNeedsSourceRate) {
        // A ladder that needs a frame-rate stage is refused with the reason, before anything runs.
        const at15 = { ...profile, renditions: profile.renditions.map((r) => ({ ...r, fps: 15 })) };
        const job = { streamId: "s", profile: at15, inputUrl: "rtmp://x/y", outDir: dir, input: pub.input };
        expect(() => backend.buildCommand(job)).toThrow(known.lowLatencyNeedsSourceRate);
      }
      const t = await transcodeLowLatency(backend, profile, pub.inputUrl, {
        timeoutMs: 60_000,
        root: join(dir, "ll"),
        ...(pub.input ? { input: pub.input } : {}),
      });
      pub.stop();
      expect(`${t.exit.code} ${t.exit.code === 0 ? "" : t.exit.stderrTail}`).toBe("0 ");
      const counts: number[] = [];
      for (const r of t.ll.rungs) {
        const w = r.seg.window;
        const complete = w.segments.filter((x) => x.complete);
        expect(r.seg.initSegment).toBeDefined();
        // 7 s of input in 1 s segments (the last one may be short, the first may be cut early).
        expect(complete.length).toBeGreaterThanOrEqual(5);
        counts.push(w.last()!.msn);
        // Against the target the profile asks for, not the declared one (that grows to the
        // longest part seen, so a muxer that never cut a part would still pass).
        const target = partTargetFor(profile.partDuration!, r.out.kind === "audio" ? 48000 / 1024 : 30);
        // (2 ms: AAC frame timestamps in the muxer's millisecond-rounded clock. gpac's first audio
        // fragment also holds the encoder's priming frame, one AAC frame before the timeline's 0.)
        const priming = r.out.kind === "audio" && known.audioPrimingInFirstPart ? 1024 / 48000 : 0;
        expect(r.seg.playlistInput().partTarget).toBeLessThan(target + priming + 0.002);
        for (const seg of complete.slice(1, -1)) {
          expect(Math.abs(seg.duration - SEG)).toBeLessThan(0.3);
          expect(seg.parts.length).toBeGreaterThanOrEqual(Math.floor(SEG / target));
          for (const part of seg.parts) expect(part.duration).toBeLessThan(target + 0.002);
        }
        // The samples tile the timeline: no hole between parts (players stall on one).
        for (const [a, b] of complete.slice(0, -1).map((x, i) => [x, complete[i + 1]!] as const)) {
          const slack = 0.002 + ((known.partGapMs ?? 0) * a.parts.length) / 1000;
          expect(Math.abs(a.decodeTime + a.duration - b.decodeTime)).toBeLessThan(slack);
        }
        // Every video segment starts on a keyframe (the encoder's GOP is the segment).
        if (r.out.kind === "video") expect(w.misaligned).toBe(0);
        const seg = complete[1]!;
        const names = runNaming("r1");
        const { streams, packets } = await probeFiles([
          join(t.outDir, r.out.dir, names.init),
          join(t.outDir, r.out.dir, names.segment(seg.msn)),
        ]);
        if (r.out.kind === "video") {
          expect(streams[0]).toMatchObject({
            width: r.out.rendition!.width,
            height: r.out.rendition!.height,
          });
          expect(packets[0]?.key).toBe(true);
          // No frame reordering (zerolatency, ADR 0098: veryfast's B-frames would be 3 frames of
          // delay): presentation order is decode order.
          const pts = packets.map((p) => p.pts);
          expect(pts).toEqual([...pts].sort((a, b) => a - b));
        } else expect(streams[0]).toMatchObject({ codec_name: "aac", sample_rate: "48000" });
      }
      // The audio keeps pace with the video, MSN for MSN.
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      await expectThumbnail(t, true);
    }, 120_000);

    test("frame-rate conversion: 30 fps in, 15 fps out, steady timestamps, keyframe per segment", async () => {
      const profile: ProfileSpec = {
        ...ladder,
        renditions: [
          {
            name: "low",
            codec: "h264",
            width: 160,
            height: 90,
            fps: 15,
            bitrateKbps: 150,
            preset: "ultrafast",
          },
        ],
        formats: ["hls"],
      };
      const t = await transcode(backend, profile, file, { timeoutMs: 60_000, root: join(dir, "fps") });
      expectClean(t);
      await expectVideoRung(t, t.layout.variants[0]!.playlist, profile.renditions[0]!, known);
    }, 120_000);

    test("passthrough (live): source video and audio repackaged, HLS + DASH", async () => {
      const profile: ProfileSpec = {
        name: "pass",
        renditions: [{ name: "source", codec: "copy" }],
        audio: { codec: "copy" },
        segmentDuration: SEG,
        windowSize: 10,
        formats: ["hls", "dash"],
        container: "fmp4",
      };
      const pub = await live.push(profile, { seconds: 6 });
      const t = await transcode(backend, profile, pub.inputUrl, {
        timeoutMs: 60_000,
        root: join(dir, "pass"),
      });
      pub.stop();
      expectClean(t);
      const v = expectDurations(t, t.layout.variants[0]!.playlist, SEG, 3);
      const vs = (await probeRendition(v)).streams[0]!;
      expect([vs.codec_name, vs.width, vs.height]).toEqual(["h264", 320, 180]);
      const a = expectDurations(t, t.layout.audio!.playlist, SEG, 3);
      const as = (await probeRendition(a)).streams[0]!;
      // Copied as published: mono 44.1 kHz.
      expect([as.codec_name, as.channels, as.sample_rate]).toEqual(["aac", 1, "44100"]);
      await expectDash(t, [[320, 180]], true);
      await expectThumbnail(t, false);
    }, 120_000);

    test("audio-only profile (live A/V input): one AAC rendition, 48 kHz stereo, HLS + DASH", async () => {
      const profile: ProfileSpec = { ...ladder, renditions: [] };
      const pub = await live.push(profile, { seconds: 6 });
      const t = await transcode(backend, profile, pub.inputUrl, {
        timeoutMs: 60_000,
        root: join(dir, "audio"),
      });
      pub.stop();
      expectClean(t);
      expect(t.layout.variants).toHaveLength(0);
      await expectAudio(t, t.layout.audio!.playlist);
      await expectDash(t, [], true);
      await expectThumbnail(t, false);
    }, 120_000);

    test("video-only input: the ladder without an audio rendition", async () => {
      const src = await makeFile(dir, "video-only.mp4", { seconds: 5, audio: false });
      const profile: ProfileSpec = { ...ladder, renditions: [ladder.renditions[0]!], formats: ["hls"] };
      const t = await transcode(backend, profile, src, {
        timeoutMs: 60_000,
        root: join(dir, "vonly"),
        input: { hasVideo: true, hasAudio: false },
      });
      expectClean(t);
      expect(t.layout.audio).toBeUndefined();
      await expectVideoRung(t, t.layout.variants[0]!.playlist, profile.renditions[0]!, known);
    }, 120_000);

    test("TS HLS: MPEG-TS segments, video rung at its size, AAC audio rendition", async () => {
      const profile: ProfileSpec = { ...ladder, formats: ["hls"], container: "ts" };
      const pub = await live.push(profile, { seconds: 6 });
      const t = await transcode(backend, profile, pub.inputUrl, { timeoutMs: 60_000, root: join(dir, "ts") });
      pub.stop();
      expectClean(t);
      expect(t.layout.dash).toBeUndefined();
      for (const [i, v] of t.layout.variants.entries()) {
        const r = expectDurations(t, v.playlist, SEG, 3);
        expect(r.init).toBeUndefined();
        expect(r.segments.every((s) => s.endsWith(".ts"))).toBe(true);
        const s = (await probeStreams(r.segments[1]!)).find((x) => x.codec_type === "video")!;
        const spec = ladder.renditions[i]!;
        expect([s.codec_name, s.width, s.height]).toEqual(["h264", spec.width, spec.height]);
      }
      const a = readRendition(t.outDir, t.layout.audio!.playlist);
      const as = (await probeStreams(a.segments[1]!)).find((x) => x.codec_type === "audio")!;
      expect([as.codec_name, as.channels, as.sample_rate]).toEqual(["aac", 2, "48000"]);
      expect(playlists(t).every((p) => existsSync(join(t.outDir, p)))).toBe(true);
    }, 120_000);
  });
}
