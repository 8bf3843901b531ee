import { describe, expect, test } from "bun:test";
import { BUILTIN_PROFILES, type ProfileSpec } from "@dionysia/shared";
import HLS from "hls-parser";
import { avcCodecString, h264Level, videoCodecString } from "../src/transcoder/codecs.ts";
import {
  buildFfmpegCommand,
  buildFilterGraph,
  type FfmpegCommandOptions,
  ffmpegLayout,
} from "../src/transcoder/ffmpeg/command.ts";
import { buildMasterPlaylist, masterFromProfile } from "../src/transcoder/master.ts";
import { planOutputs } from "../src/transcoder/plan.ts";
import { ProgressParser } from "../src/transcoder/progress.ts";
import { redactLine, redactUrl } from "../src/transcoder/redact.ts";
import {
  DEFAULT_THUMBNAIL_INTERVAL_SEC,
  MAX_THUMBNAIL_WIDTH,
  NO_THUMBNAIL,
  planThumbnail,
  THUMBNAIL_FILE,
} from "../src/transcoder/thumbnail.ts";
import type { TranscodeJob } from "../src/transcoder/types.ts";

const ladder = BUILTIN_PROFILES["builtin-720p"]!;
const job = (profile: ProfileSpec, extra: Partial<TranscodeJob> = {}): TranscodeJob => ({
  streamId: "s1",
  profile,
  inputUrl: "rtmp://127.0.0.1:1935/live/sk_secretkey123",
  outDir: "/data/live/s1",
  runId: "r1",
  ...extra,
});
const argAfter = (args: string[], flag: string) => args[args.indexOf(flag) + 1];
/** The media output's args: everything before the thumbnail output (always the last one). */
const media = (args: string[]) =>
  args.includes("[thumb]") ? args.slice(0, args.indexOf("[thumb]") - 1) : args;

describe("ffmpeg command", () => {
  test("decodes once, splits and scales every rendition in one filter graph", () => {
    const { args } = buildFfmpegCommand(job(ladder));
    expect(args.filter((a) => a === "-i")).toHaveLength(1);
    expect(argAfter(args, "-filter_complex")).toBe(
      "[0:v:0]fps=30,split=4[s0][s1][s2][s3];[s0]scale=1280:720,format=yuv420p[v0];[s1]scale=854:480,format=yuv420p[v1];[s2]scale=640:360,format=yuv420p[v2];[s3]select='isnan(prev_selected_t)+gte(t-prev_selected_t,5)',scale=1280:-2:out_range=full,format=yuvj420p[thumb]",
    );
    // Without the thumbnail the graph is what it always was (the bench compares the two).
    expect(argAfter(buildFfmpegCommand(job(ladder), { thumbnail: false }).args, "-filter_complex")).toBe(
      "[0:v:0]fps=30,split=3[s0][s1][s2];[s0]scale=1280:720,format=yuv420p[v0];[s1]scale=854:480,format=yuv420p[v1];[s2]scale=640:360,format=yuv420p[v2]",
    );
  });

  test("aligned keyframes: GOP = segment × fps, no scene cuts, forced on boundaries", () => {
    const { args } = buildFfmpegCommand(job(ladder));
    for (const i of [0, 1, 2]) {
      expect(argAfter(args, `-g:v:${i}`)).toBe("60");
      expect(argAfter(args, `-keyint_min:v:${i}`)).toBe("60");
      expect(argAfter(args, `-sc_threshold:v:${i}`)).toBe("0");
      expect(argAfter(args, `-force_key_frames:v:${i}`)).toBe("expr:gte(t,n_forced*2)");
      expect(argAfter(args, `-c:v:${i}`)).toBe("libx264");
      expect(argAfter(args, `-preset:v:${i}`)).toBe("veryfast");
    }
    expect(argAfter(args, "-b:v:0")).toBe("2800k");
    expect(argAfter(args, "-maxrate:v:0")).toBe("3080k");
    expect(argAfter(args, "-bufsize:v:0")).toBe("5600k");
  });

  test("audio is encoded once and shared", () => {
    const { args } = buildFfmpegCommand(job(ladder));
    expect(args.filter((a) => a === "0:a:0")).toHaveLength(1);
    expect(argAfter(args, "-c:a:0")).toBe("aac");
    expect(argAfter(args, "-b:a:0")).toBe("128k");
  });

  test("hls + dash: dash muxer writes both from the same fMP4 segments", () => {
    const { args } = buildFfmpegCommand(job(ladder));
    expect(args).toContain("dash");
    expect(argAfter(args, "-hls_playlist")).toBe("1");
    expect(argAfter(args, "-seg_duration")).toBe("2");
    expect(argAfter(args, "-window_size")).toBe("6");
    // Chunked: two fragments per segment, so every rendition's first segment is listed on time.
    expect(argAfter(args, "-streaming")).toBe("1");
    expect(argAfter(args, "-frag_type")).toBe("duration");
    expect(argAfter(args, "-frag_duration")).toBe("1");
    expect(argAfter(args, "-media_seg_name")).toBe("$RepresentationID$/seg-r1-$Number%05d$.m4s");
    expect(argAfter(args, "-adaptation_sets")).toBe("id=0,streams=v id=1,streams=a");
    expect(media(args).at(-1)).toBe("/data/live/s1/manifest.mpd");
    const l = ffmpegLayout(job(ladder));
    expect(l.dash).toBe("manifest.mpd");
    expect(l.variants.map((v) => v.playlist)).toEqual(["media_0.m3u8", "media_1.m3u8", "media_2.m3u8"]);
    expect(l.audio?.playlist).toBe("media_3.m3u8");
  });

  test("dash: <UTCTiming> names the job's time source; none without one", () => {
    const url = "https://router.example.net/time";
    expect(argAfter(buildFfmpegCommand(job(ladder, { utcTimingUrl: url })).args, "-utc_timing_url")).toBe(
      url,
    );
    expect(buildFfmpegCommand(job(ladder)).args).not.toContain("-utc_timing_url");
  });

  test("hls only: fMP4, one folder per rendition, sliding window, run id in names", () => {
    const p: ProfileSpec = { ...ladder, formats: ["hls"] };
    const { args } = buildFfmpegCommand(job(p));
    expect(argAfter(args, "-hls_segment_type")).toBe("fmp4");
    expect(argAfter(args, "-hls_list_size")).toBe("6");
    expect(argAfter(args, "-hls_flags")).toContain("delete_segments");
    expect(argAfter(args, "-hls_flags")).toContain("independent_segments");
    expect(argAfter(args, "-hls_segment_filename")).toBe("/data/live/s1/%v/seg-r1-%05d.m4s");
    expect(argAfter(args, "-var_stream_map")).toBe(
      "v:0,agroup:audio,name:720p v:1,agroup:audio,name:480p v:2,agroup:audio,name:360p a:0,agroup:audio,name:audio",
    );
    expect(media(args).at(-1)).toBe("/data/live/s1/%v/index.m3u8");
    expect(ffmpegLayout(job(p)).variants.map((v) => v.playlist)).toEqual([
      "720p/index.m3u8",
      "480p/index.m3u8",
      "360p/index.m3u8",
    ]);
  });

  test("ll-hls: one CMAF output per rung and one for the audio, each on its own pipe", () => {
    const ll = { ...ladder, formats: ["ll-hls" as const], partDuration: 0.5 };
    const { args } = buildFfmpegCommand(job(ll));
    // Still one decode and one graph.
    expect(args.filter((a) => a === "-i")).toHaveLength(1);
    expect(args.filter((a) => a === "-filter_complex")).toHaveLength(1);
    // No hls or dash muxer: fragmented MP4 to descriptors 3..6 (three rungs, then the audio).
    expect(args).not.toContain("hls");
    expect(args).not.toContain("dash");
    expect(args.filter((a) => a.startsWith("pipe:")).slice(1)).toEqual([
      "pipe:3",
      "pipe:4",
      "pipe:5",
      "pipe:6",
    ]);
    expect(args.filter((a) => a === "-frag_duration").length).toBe(4);
    expect(argAfter(args, "-frag_duration")).toBe("500000");
    expect(argAfter(args, "-movflags")).toContain("cmaf");
    // Each output: its map, its encoder (one x264 per rung, keyframes on segment boundaries).
    const out3 = args.slice(0, args.indexOf("pipe:3"));
    const last = out3.lastIndexOf("-map");
    expect(out3[last + 1]).toBe("[v0]");
    expect(out3.slice(last)).toContain("libx264");
    expect(argAfter(out3.slice(last), "-force_key_frames:v:0")).toBe("expr:gte(t,n_forced*2)");
    // Every rung's encoder without frame delay (ADR 0098); ordinary HLS keeps B-frames.
    expect(args.filter((a, i) => a === "-tune:v:0" && args[i + 1] === "zerolatency")).toHaveLength(3);
    expect(buildFfmpegCommand(job({ ...ladder, formats: ["hls"] })).args.join(" ")).not.toContain(
      "zerolatency",
    );
    const audio = args.slice(args.indexOf("pipe:5") + 1, args.indexOf("pipe:6"));
    expect(audio.slice(0, 2)).toEqual(["-map", "0:a:0"]);
    expect(audio).toContain("aac");
    const layout = ffmpegLayout(job(ll));
    expect(layout.cmaf?.map((c) => [c.fd, c.dir, c.playlist])).toEqual([
      [3, "720p", "720p/index.m3u8"],
      [4, "480p", "480p/index.m3u8"],
      [5, "360p", "360p/index.m3u8"],
      [6, "audio", "audio/index.m3u8"],
    ]);
    expect(layout.variants.map((v) => v.playlist)).toEqual(layout.cmaf!.slice(0, 3).map((c) => c.playlist));
  });

  test("ts container: mpegts segments", () => {
    const p: ProfileSpec = { ...ladder, formats: ["hls"], container: "ts" };
    const { args } = buildFfmpegCommand(job(p));
    expect(argAfter(args, "-hls_segment_type")).toBe("mpegts");
    expect(argAfter(args, "-hls_segment_filename")).toEndWith(".ts");
    expect(args).not.toContain("-hls_fmp4_init_filename");
  });

  test("passthrough maps the source video with copy", () => {
    const { args } = buildFfmpegCommand(job(BUILTIN_PROFILES["builtin-passthrough"]!));
    expect(args).not.toContain("-filter_complex");
    expect(argAfter(args, "-map")).toBe("0:v:0");
    expect(argAfter(args, "-c:v:0")).toBe("copy");
    expect(argAfter(args, "-c:a:0")).toBe("copy");
  });

  test("copy next to encoded renditions: copy maps the source, others the graph", () => {
    const p: ProfileSpec = {
      ...ladder,
      renditions: [{ name: "src", codec: "copy" }, ladder.renditions[2]!],
    };
    const { args } = buildFfmpegCommand(job(p));
    const maps = args.flatMap((a, i) => (a === "-map" ? [args[i + 1]] : []));
    // Then the thumbnail's own output, from the encoded rung's decode.
    expect(maps).toEqual(["0:v:0", "[v0]", "0:a:0", "[thumb]"]);
  });

  test("audio-only profile and video-only input", () => {
    const audioOnly = buildFfmpegCommand(
      job({ ...BUILTIN_PROFILES["builtin-audio"]!, formats: ["hls"] }),
    ).args;
    expect(audioOnly).not.toContain("-filter_complex");
    expect(argAfter(audioOnly, "-var_stream_map")).toBe("a:0,name:audio");
    const videoOnly = buildFfmpegCommand(job(ladder, { input: { hasVideo: true, hasAudio: false } })).args;
    expect(videoOnly).not.toContain("0:a:0");
    expect(argAfter(videoOnly, "-adaptation_sets")).toBe("id=0,streams=v");
    expect(() =>
      buildFfmpegCommand(
        job(BUILTIN_PROFILES["builtin-audio"]!, { input: { hasVideo: true, hasAudio: false } }),
      ),
    ).toThrow(/nothing to transcode/);
  });

  test("hevc uses x265 with scenecut off and hvc1 tag; mixed frame rates get per-branch fps", () => {
    const p: ProfileSpec = {
      ...ladder,
      renditions: [
        { name: "a", codec: "hevc", width: 640, height: 360, fps: 30, bitrateKbps: 600 },
        { name: "b", codec: "h264", width: 320, height: 180, fps: 15, bitrateKbps: 200 },
      ],
    };
    const { args } = buildFfmpegCommand(job(p));
    expect(argAfter(args, "-c:v:0")).toBe("libx265");
    expect(argAfter(args, "-x265-params:v:0")).toContain("scenecut=0");
    expect(argAfter(args, "-tag:v:0")).toBe("hvc1");
    expect(buildFilterGraph(p.renditions).graph).toBe(
      "[0:v:0]split=2[s0][s1];[s0]fps=30,scale=640:360,format=yuv420p[v0];[s1]fps=15,scale=320:180,format=yuv420p[v1]",
    );
    expect(argAfter(args, "-g:v:1")).toBe("30");
  });
});

describe("ffmpeg thumbnail branch (ADR 0093)", () => {
  /** The args of the output that writes the thumbnail: from its -map to its file. */
  const thumbOutput = (args: string[]) => {
    const end = args.findIndex((a) => a.endsWith(`/${THUMBNAIL_FILE}`));
    return end < 0 ? [] : args.slice(args.lastIndexOf("-map", end), end + 1);
  };
  const graphOf = (args: string[]) => argAfter(args, "-filter_complex") ?? "";

  test("one branch of the one split, one mjpeg output overwriting the file atomically", () => {
    for (const formats of [["hls", "dash"], ["hls"], ["ll-hls"]] as const) {
      const { args } = buildFfmpegCommand(job({ ...ladder, formats: [...formats], partDuration: 0.5 }));
      // Still one input and one graph: no second decode.
      expect(args.filter((a) => a === "-i")).toHaveLength(1);
      expect(args.filter((a) => a === "-filter_complex")).toHaveLength(1);
      expect(graphOf(args).match(/\[thumb\]/g)).toHaveLength(1);
      // The first frame at once, then one every 5 s (not fps=1/5, which holds the first back).
      expect(graphOf(args).match(/gte\(t-prev_selected_t,5\)/g)).toHaveLength(1);
      expect(graphOf(args).match(/\[0:v:0\]/g)).toHaveLength(1);
      expect(args.filter((a) => a === "mjpeg")).toHaveLength(1);
      const out = thumbOutput(args);
      expect(out).toEqual([
        "-map",
        "[thumb]",
        "-fps_mode",
        "vfr",
        "-c:v",
        "mjpeg",
        "-q:v",
        "4",
        "-f",
        "image2",
        "-update",
        "1",
        "-atomic_writing",
        "1",
        `/data/live/s1/${THUMBNAIL_FILE}`,
      ]);
      // The last output: the media outputs' options all come before it.
      expect(args[args.length - 1]).toBe(`/data/live/s1/${THUMBNAIL_FILE}`);
      expect(ffmpegLayout(job({ ...ladder, formats: [...formats], partDuration: 0.5 })).thumbnail).toEqual({
        file: THUMBNAIL_FILE,
        intervalSec: DEFAULT_THUMBNAIL_INTERVAL_SEC,
        width: 1280,
      });
    }
  });

  test("width: the widest encoded rung, capped at 1280; a single rung gets a split of two", () => {
    const one: ProfileSpec = { ...ladder, renditions: [ladder.renditions[2]!] };
    expect(buildFilterGraph(one.renditions, ffmpegLayout(job(one)).thumbnail).graph).toBe(
      "[0:v:0]fps=30,split=2[s0][s1];[s0]scale=640:360,format=yuv420p[v0];[s1]select='isnan(prev_selected_t)+gte(t-prev_selected_t,5)',scale=640:-2:out_range=full,format=yuvj420p[thumb]",
    );
    const big: ProfileSpec = {
      ...ladder,
      renditions: [{ name: "1080p", codec: "h264", width: 1920, height: 1080, fps: 30, bitrateKbps: 5000 }],
    };
    expect(ffmpegLayout(job(big)).thumbnail?.width).toBe(MAX_THUMBNAIL_WIDTH);
    // A copy rung next to encoded ones: the thumbnail rides on the encoded rungs' decode.
    const mixed: ProfileSpec = {
      ...ladder,
      renditions: [{ name: "src", codec: "copy" }, ladder.renditions[2]!],
    };
    expect(ffmpegLayout(job(mixed)).thumbnail?.width).toBe(640);
    expect(ffmpegLayout(job(ladder), { thumbnail: { intervalSec: 2 } }).thumbnail?.intervalSec).toBe(2);
    expect(graphOf(buildFfmpegCommand(job(ladder), { thumbnail: { intervalSec: 2 } }).args)).toContain(
      "gte(t-prev_selected_t,2)",
    );
  });

  test("none for passthrough, audio-only, video-less input, turned off; each says why", () => {
    const pass = BUILTIN_PROFILES["builtin-passthrough"]!;
    const audio = { ...BUILTIN_PROFILES["builtin-audio"]!, formats: ["hls" as const] };
    const cases: [TranscodeJob, FfmpegCommandOptions, string][] = [
      [job(pass), {}, NO_THUMBNAIL.passthrough],
      [job(audio), {}, NO_THUMBNAIL.audioOnly],
      [job(ladder, { input: { hasVideo: false, hasAudio: true } }), {}, NO_THUMBNAIL.audioOnly],
      [job(ladder), { thumbnail: false }, NO_THUMBNAIL.off],
    ];
    for (const [j, o, reason] of cases) {
      expect(planThumbnail(planOutputs(j), o.thumbnail)).toEqual({ ok: false, reason });
      expect(ffmpegLayout(j, o).thumbnail).toBeUndefined();
      const { args } = buildFfmpegCommand(j, o);
      expect(args).not.toContain("mjpeg");
      expect(args.some((a) => a.endsWith(THUMBNAIL_FILE))).toBe(false);
    }
  });
});

describe("codec strings", () => {
  test("levels and profiles", () => {
    expect(h264Level(1280, 720, 30)).toBe(31);
    expect(h264Level(1920, 1080, 30)).toBe(40);
    expect(h264Level(320, 180, 15)).toBe(30);
    expect(avcCodecString("high", 31)).toBe("avc1.64001f");
    expect(videoCodecString(ladder.renditions[0]!)).toBe("avc1.64001f");
    expect(videoCodecString({ name: "x", codec: "h264", width: 320, height: 180, preset: "ultrafast" })).toBe(
      "avc1.42c01e",
    );
  });
});

describe("master playlist", () => {
  test("ladder with shared audio: every attribute, parses with hls-parser", () => {
    const text = buildMasterPlaylist(masterFromProfile(ladder, ffmpegLayout(job(ladder))));
    expect(text).toContain("#EXT-X-INDEPENDENT-SEGMENTS");
    expect(text).toContain(
      '#EXT-X-STREAM-INF:BANDWIDTH=3208000,AVERAGE-BANDWIDTH=2928000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",FRAME-RATE=30.000,AUDIO="audio"',
    );
    const m = HLS.parse(text) as HLS.types.MasterPlaylist;
    expect(m.isMasterPlaylist).toBe(true);
    expect(m.variants.map((v) => v.resolution)).toEqual([
      { width: 1280, height: 720 },
      { width: 854, height: 480 },
      { width: 640, height: 360 },
    ]);
    expect(m.variants.map((v) => v.uri)).toEqual(["media_0.m3u8", "media_1.m3u8", "media_2.m3u8"]);
    expect(m.variants[2]!.averageBandwidth).toBe(928000);
    expect(m.variants[0]!.frameRate).toBe(30);
    expect(m.variants[0]!.audio[0]!.uri).toBe("media_3.m3u8");
  });

  test("audio-only master lists the audio playlist as the variant", () => {
    const p = { ...BUILTIN_PROFILES["builtin-audio"]!, formats: ["hls" as const] };
    const text = buildMasterPlaylist(masterFromProfile(p, ffmpegLayout(job(p))));
    const m = HLS.parse(text) as HLS.types.MasterPlaylist;
    expect(m.variants).toHaveLength(1);
    expect(m.variants[0]!.uri).toBe("audio/index.m3u8");
    expect(m.variants[0]!.codecs).toBe("mp4a.40.2");
    expect(m.variants[0]!.bandwidth).toBe(128000);
    expect(text).not.toContain("RESOLUTION");
  });
});

describe("progress parsing", () => {
  test("blocks across chunk boundaries become stats", () => {
    const p = new ProgressParser();
    expect(
      p.push(
        "frame=42\nfps=14.9\nstream_0_0_q=28.0\nbitrate= 412.3kbits/s\ntotal_size=1234\nout_time_us=2800000\n",
      ),
    ).toEqual([]);
    const out = p.push(
      "out_time=00:00:02.800000\ndup_frames=0\nspeed=1.01x\nprogress=continue\nframe=57\nfps=N/A\nspeed=N/A\nprogress=end\n",
    );
    expect(out).toEqual([
      { frames: 42, fps: 14.9, speed: 1.01, bitrateKbps: 412.3, outTimeSec: 2.8 },
      { frames: 57 },
    ]);
  });
});

describe("redaction", () => {
  test("stream keys never survive in log lines", () => {
    const url = "rtmp://127.0.0.1:1935/live/sk_secretkey123";
    expect(redactUrl(url)).toBe("rtmp://127.0.0.1:1935/<redacted>");
    const line = redactLine(`[tcp] Connection to ${url} failed; /live/sk_secretkey123 gone`, url);
    expect(line).not.toContain("sk_secretkey123");
    const srt = "srt://127.0.0.1:10001?passphrase=averysecretphrase&mode=caller";
    expect(redactLine(`Error opening ${srt}`, srt)).not.toContain("averysecretphrase");
  });
});
