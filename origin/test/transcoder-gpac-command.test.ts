/**
 * The gpac command line and detection, pure (no gpac needed). What the command does against the
 * real binary is in transcoder-backends.test.ts; these pin the forms that binary needs (ADR 0024).
 */
import { describe, expect, test } from "bun:test";
import { BUILTIN_PROFILES, type ProfileSpec } from "@dionysia/shared";
import { parseFfmpegVersion, parseGpacVersion } from "../src/transcoder/detect.ts";
import { FfmpegBackend } from "../src/transcoder/ffmpeg/index.ts";
import {
  buildGpacCommand,
  gpacChunkDuration,
  gpacLayout,
  gpacRefusal,
  gpacSar,
} from "../src/transcoder/gpac/command.ts";
import { GpacBackend } from "../src/transcoder/gpac/index.ts";
import { selectBackend } from "../src/transcoder/select.ts";
import type { TranscodeJob } from "../src/transcoder/types.ts";

const ladder = BUILTIN_PROFILES["builtin-720p"]!;
const job = (profile: ProfileSpec, extra: Partial<TranscodeJob> = {}): TranscodeJob => ({
  streamId: "s1",
  profile,
  inputUrl: "rtmp://127.0.0.1:1935/live/s1",
  outDir: "/data/live/s1",
  runId: "r1",
  ...extra,
});
const outOf = (args: string[]) => args[args.indexOf("-o") + 1]!;

describe("gpac command", () => {
  test("ll-hls: one fragmented-MP4 stream per rendition to its FIFO, no frame-rate stage (ADR 0099)", () => {
    const ll = { ...ladder, formats: ["ll-hls" as const], partDuration: 0.5 };
    const j = job(ll, { input: { hasVideo: true, hasAudio: true, frameRate: 30 } });
    expect(gpacRefusal(j)).toBeUndefined();
    const { args } = buildGpacCommand(j);
    // The source is at the rungs' rate already: no ffavf, the scalers read the decoder.
    expect(args.some((a) => a.startsWith("ffavf"))).toBe(false);
    expect(
      args.filter((a) => a.startsWith("ffsws")).every((a) => a.includes("SID=src#StreamType=Visual")),
    ).toBe(true);
    // Encoders without frame delay (ADR 0098).
    expect(
      args.filter((a) => a.startsWith("ffenc:c=avc")).every((a) => a.includes(":tune=zerolatency")),
    ).toBe(true);
    // No dasher: one muxer per rendition, fragments on the timeline every part (not sfrag, which
    // waits for a keyframe: one fragment per segment).
    const mux = args.filter((a) => a.startsWith("mp4mx"));
    expect(mux).toEqual(
      ["v0", "v1", "v2", "a0"].map(
        (sid, i) => `mp4mx:SID=${sid}:FID=m${i}:store=frag:cdur=2000/4000:cmaf=cmfc`,
      ),
    );
    const outs = args.flatMap((a, i) => (a === "-o" ? [args[i + 1]!] : []));
    // gpac's file sink on a FIFO: its socket sink let the audio fall behind real time (ADR 0099).
    expect(outs).toEqual([3, 4, 5, 6].map((fd, i) => `/data/live/s1/.cmaf-${fd}.mp4:gpac:SID=m${i}`));
    // The layout the packagers read: the same playlists as ffmpeg's, each stream from its FIFO.
    const layout = gpacLayout(j);
    expect(layout.cmaf?.map((c) => [c.fd, c.playlist, c.fifo])).toEqual([
      [3, "720p/index.m3u8", "/data/live/s1/.cmaf-3.mp4"],
      [4, "480p/index.m3u8", "/data/live/s1/.cmaf-4.mp4"],
      [5, "360p/index.m3u8", "/data/live/s1/.cmaf-5.mp4"],
      [6, "audio/index.m3u8", "/data/live/s1/.cmaf-6.mp4"],
    ]);
    // A whole number of parts per segment, none longer than asked.
    expect(gpacChunkDuration(0.25, 1)).toBe("1000/4000");
    expect(gpacChunkDuration(0.45, 1)).toBe("1000/3000");
    expect(gpacChunkDuration(0.3, 2)).toBe("2000/7000");
    expect(gpacChunkDuration(2, 1)).toBe("1000/1000");
  });

  test("ll-hls: refused, with the reason, where a frame-rate stage would be needed", () => {
    const ll = { ...ladder, formats: ["ll-hls" as const] };
    const b = new GpacBackend();
    expect(gpacRefusal(job(ll))).toMatch(
      /rung 720p is 30 fps, the source did not declare its rate; use TRANSCODER=ffmpeg/,
    );
    const at60 = job(ll, { input: { hasVideo: true, hasAudio: true, frameRate: 60 } });
    expect(() => b.buildCommand(at60)).toThrow(
      /without frame-rate conversion: rung 720p is 30 fps, the source is 60 fps/,
    );
    // Source at the rungs' rate, audio included: made.
    expect(
      gpacRefusal(job(ll, { input: { hasVideo: true, hasAudio: true, frameRate: 30 } })),
    ).toBeUndefined();
    // Plain HLS is never refused.
    expect(gpacRefusal(job(ladder))).toBeUndefined();
  });

  test("input: gpac's options after `:gpac:`, so libavformat never sees them in the URL", () => {
    const { cmd, args } = buildGpacCommand(job(ladder));
    expect(cmd).toBe("gpac");
    expect(args[args.indexOf("-i") + 1]).toBe("rtmp://127.0.0.1:1935/live/s1:gpac:FID=src");
    // Plain logs: no progress lines, no ANSI colours in the stderr the supervisor keeps.
    expect(args.slice(0, 2)).toEqual(["-noprog", "-logs=all@warning:ncl"]);
  });

  test("ladder: one frame-rate stage, scale + encoder per rung, PID properties as separate options", () => {
    const { args } = buildGpacCommand(job(ladder));
    expect(args.filter((a) => a.startsWith("ffavf"))).toEqual([
      "ffavf:SID=src#StreamType=Visual:FID=r0::f=fps=30,settb=1/90000",
    ]);
    expect(args).toContain("ffsws:osize=1280x720:ofmt=yuv:SID=r0:FID=s0");
    // 854x480 is not exactly 16:9: the SAR keeps it in the 720p rung's adaptation set.
    expect(args).toContain("ffsws:osize=854x480:ofmt=yuv:#SAR=1280/1281:SID=r0:FID=s1");
    const enc0 = args.find((a) => a.startsWith("ffenc:c=avc") && a.includes("SID=s0"))!.split(":");
    for (const o of ["b=2800k", "maxrate=3080k", "bufsize=5600k", "fintra=2", "g=60", "keyint_min=60"])
      expect(enc0).toContain(o);
    expect(enc0).toContain("sc_threshold=0");
    expect(enc0).toContain("level=3.1");
    expect(enc0.slice(-2)).toEqual(["#Representation=720p", "#HLSPL=media-720p.m3u8"]);
    // `profile` would be taken by gpac's dasher too (its own `profile` option): x264 picks it.
    expect(enc0.some((o) => o.startsWith("profile="))).toBe(false);
  });

  test("audio: resampled to the profile's rate and channels, encoded once", () => {
    const { args } = buildGpacCommand(job(ladder));
    expect(args).toContain("resample:osr=48000:och=2:SID=src#StreamType=Audio:FID=ar");
    expect(args.filter((a) => a.startsWith("ffenc:c=aac"))).toEqual([
      "ffenc:c=aac:b=128k:SID=ar:FID=a0:#Representation=audio:#HLSPL=media-audio.m3u8",
    ]);
  });

  test("dasher: DASH + HLS from the same segments, media timing, run id in every name", () => {
    const out = outOf(buildGpacCommand(job(ladder)).args).split(":");
    expect(out[0]).toBe("/data/live/s1/manifest.mpd");
    for (const o of ["segdur=2", "dmode=dynamic", "stl", "tsb=12", "dual", "cmaf=cmfc", "SID=v0,v1,v2,a0"])
      expect(out).toContain(o);
    expect(out).toContain("template=$RepresentationID$/$Init=init-r1$$Segment=seg-r1-$$Number%05d$");
  });

  test("dasher: the time source last, so the URL's own colons stay in the value", () => {
    const url = "http://127.0.0.1:8000/time";
    const out = outOf(buildGpacCommand(job(ladder, { utcTimingUrl: url })).args);
    expect(out.endsWith(`:utcs=xsd@${url}`)).toBe(true);
    expect(outOf(buildGpacCommand(job(ladder)).args)).not.toContain("utcs=");
  });

  test("layout: playlists at the top, one folder per representation", () => {
    const l = gpacLayout(job(ladder));
    expect(l.dash).toBe("manifest.mpd");
    expect(l.variants.map((v) => v.playlist)).toEqual([
      "media-720p.m3u8",
      "media-480p.m3u8",
      "media-360p.m3u8",
    ]);
    expect(l.audio?.playlist).toBe("media-audio.m3u8");
    expect(l.dirs).toEqual(["720p", "480p", "360p", "audio"]);
  });

  test("TS HLS, passthrough, audio-only, mixed frame rates", () => {
    const ts = outOf(buildGpacCommand(job({ ...ladder, formats: ["hls"], container: "ts" })).args);
    expect(ts).toStartWith("/data/live/s1/manifest.m3u8:");
    expect(ts).toContain(":muxtype=ts");
    expect(ts).not.toContain(":dual");
    const pass = buildGpacCommand(job(BUILTIN_PROFILES["builtin-passthrough"]!)).args;
    expect(pass.some((a) => a.startsWith("ffenc") || a.startsWith("ffavf"))).toBe(false);
    expect(pass).toContain(
      "reframer:SID=src#StreamType=Visual:FID=v0:#Representation=source:#HLSPL=media-source.m3u8",
    );
    expect(pass).toContain(
      "reframer:SID=src#StreamType=Audio:FID=a0:#Representation=audio:#HLSPL=media-audio.m3u8",
    );
    const audio = buildGpacCommand(job(BUILTIN_PROFILES["builtin-audio"]!)).args;
    expect(audio.some((a) => a.includes("StreamType=Visual"))).toBe(false);
    expect(outOf(audio)).toContain(":SID=a0:");
    const mixed: ProfileSpec = {
      ...ladder,
      renditions: [ladder.renditions[0]!, { ...ladder.renditions[2]!, fps: 15 }],
    };
    expect(buildGpacCommand(job(mixed)).args.filter((a) => a.startsWith("ffavf"))).toHaveLength(2);
  });

  test("hevc: x265's own options after `::`, so their ':'s stay in the value", () => {
    const hevc: ProfileSpec = { ...ladder, renditions: [{ ...ladder.renditions[0]!, codec: "hevc" }] };
    const enc = buildGpacCommand(job(hevc)).args.find((a) => a.startsWith("ffenc:c=hevc"))!;
    expect(enc).toEndWith(":#HLSPL=media-720p.m3u8::x265-params=scenecut=0:open-gop=0:log-level=error");
    expect(enc).not.toContain("sc_threshold");
  });

  test("SAR only where the aspect differs from the reference rung", () => {
    const r = (width: number, height: number) => ({ name: "x", codec: "h264" as const, width, height });
    expect(gpacSar(r(640, 360), r(1280, 720))).toBeUndefined();
    expect(gpacSar(r(854, 480), r(1280, 720))).toBe("1280/1281");
    expect(gpacSar(r(162, 90), r(320, 180))).toBe("80/81");
  });
});

describe("detection", () => {
  test("versions parsed from what the binaries print", () => {
    expect(parseGpacVersion("GPAC binary information:\nVersion: 26.07-revrelease\nCompilation…")).toBe(
      "26.07-revrelease",
    );
    expect(parseGpacVersion("Nothing to do, check usage")).toBeUndefined();
    expect(parseFfmpegVersion("ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026")).toBe(
      "5.1.9-0+deb12u1",
    );
  });

  test("TRANSCODER=auto: ffmpeg when it answers, gpac only without it; gpac by name must be there", async () => {
    // A stand-in binary that answers like gpac (the choice, not gpac itself, is under test here).
    const fakeGpac = new GpacBackend({ bin: "/bin/echo" });
    fakeGpac.detect = async () => ({ ok: true, version: "26.07" });
    const noFfmpeg = new FfmpegBackend({ bin: "/nonexistent/ffmpeg" });
    const ffmpeg = new FfmpegBackend();
    ffmpeg.detect = async () => ({ ok: true, version: "5.1" });
    expect((await selectBackend("auto", { ffmpeg, gpac: fakeGpac })).name).toBe("ffmpeg");
    expect((await selectBackend("auto", { ffmpeg: noFfmpeg, gpac: fakeGpac })).name).toBe("gpac");
    expect((await selectBackend("gpac", { ffmpeg, gpac: fakeGpac })).name).toBe("gpac");
    const noGpac = new GpacBackend({ bin: "/nonexistent/gpac" });
    await expect(selectBackend("gpac", { ffmpeg, gpac: noGpac })).rejects.toThrow(
      /TRANSCODER=gpac but gpac is not usable/,
    );
  });

  test("a missing binary is `not available` with its reason, never a throw", async () => {
    const b = new GpacBackend({ bin: "/nonexistent/gpac" });
    expect(await b.available()).toBe(false);
    const d = await b.detect();
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.reason).toContain("/nonexistent/gpac");
  });

  test("a binary that exits non-zero is not available (gpac -version exits 1)", async () => {
    const d = await new GpacBackend({ bin: "false" }).detect();
    expect(d).toEqual({ ok: false, reason: "false -h bin: exit 1" });
  });
});
