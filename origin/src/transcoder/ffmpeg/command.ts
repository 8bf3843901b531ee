/**
 * ffmpeg command line for a transcode job (pure). One process: decode once, split + scale in one
 * filter graph, every rendition encoded with the same keyframe cadence (GOP = segment × fps, no
 * scene-cut keyframes, keyframes forced on segment boundaries), audio encoded once and shared.
 * Packaging: the hls muxer (fMP4 or TS, one folder per rendition) for HLS alone, the dash muxer
 * with `hls_playlist` when DASH is asked for too, so both manifests point at the same fMP4
 * segments (ADR 0021).
 * Thumbnail (ADR 0093): one more output of the same split, a frame every few seconds as a JPEG.
 */
import type { AudioSettings, Rendition } from "@dionysia/shared";
import { cmafMuxerArgs } from "../../packager/reader.ts";
import { cmafLayout, FIRST_CMAF_FD } from "../cmaf.ts";
import { DEFAULT_FPS, h264Level, x264Profile } from "../codecs.ts";
import { MAXRATE_FACTOR } from "../master.ts";
import { audioDirName, gopFrames, type OutputPlan, planOutputs } from "../plan.ts";
import {
  planThumbnail,
  type Thumbnail,
  type ThumbnailOptions,
  thumbnailFilter,
  thumbnailOutputArgs,
} from "../thumbnail.ts";
import type { OutputLayout, ProcessCommand, TranscodeJob } from "../types.ts";

export interface FfmpegCommandOptions {
  bin?: string;
  /** ffmpeg log level for stderr (warnings and errors are what the supervisor keeps). */
  logLevel?: string;
  /** Live thumbnails: on by default (every 5 s); `false` turns them off (the bench compares). */
  thumbnail?: ThumbnailOptions;
}

/** The job's thumbnail when it has one (not for audio-only or copy-only video: thumbnail.ts). */
function thumbnailOf(plan: OutputPlan, o: FfmpegCommandOptions): Thumbnail | undefined {
  const t = planThumbnail(plan, o.thumbnail);
  return t.ok ? { file: t.file, intervalSec: t.intervalSec, width: t.width } : undefined;
}

export function ffmpegLayout(job: TranscodeJob, o: FfmpegCommandOptions = {}): OutputLayout {
  const plan = planOutputs(job);
  const thumbnail = thumbnailOf(plan, o);
  if (plan.lowLatency) return cmafLayout(plan, thumbnail);
  const extra = thumbnail ? { thumbnail } : {};
  if (plan.dash) {
    // dash muxer: representation ids are stream indexes; it writes media_{i}.m3u8 at the top.
    const variants = plan.video.map((rendition, i) => ({ rendition, playlist: `media_${i}.m3u8` }));
    const n = plan.video.length;
    const dirs = plan.video.map((_, i) => String(i));
    if (plan.audio) dirs.push(String(n));
    return {
      master: "master.m3u8",
      dash: "manifest.mpd",
      variants,
      audio: plan.audio ? { playlist: `media_${n}.m3u8` } : undefined,
      dirs,
      ...extra,
    };
  }
  const variants = plan.video.map((rendition) => ({ rendition, playlist: `${rendition.name}/index.m3u8` }));
  const adir = audioDirName(plan.video);
  const dirs = plan.video.map((r) => r.name);
  if (plan.audio) dirs.push(adir);
  return {
    master: "master.m3u8",
    variants,
    audio: plan.audio ? { playlist: `${adir}/index.m3u8` } : undefined,
    dirs,
    ...extra,
  };
}

const fmtLevel = (idc: number) => (idc / 10).toFixed(1);

/** Graph output label of the thumbnail branch. */
export const THUMBNAIL_LABEL = "thumb";

/**
 * The filter graph: one decode, optional common fps, split, per-branch fps/scale/format; with a
 * thumbnail, one more split output (after the common fps: the frames are already there).
 */
export function buildFilterGraph(
  video: Rendition[],
  thumbnail?: Thumbnail,
): { graph: string; labels: Map<string, string> } {
  const encoded = video.filter((r) => r.codec !== "copy");
  const labels = new Map<string, string>();
  if (encoded.length === 0) return { graph: "", labels };
  const rates = new Set(encoded.map((r) => r.fps ?? DEFAULT_FPS));
  // A shared frame rate is applied once before the split instead of once per branch.
  const common = rates.size === 1 ? [...rates][0] : undefined;
  const pre = common !== undefined ? `fps=${common},` : "";
  const branch = (r: Rendition) =>
    `${common === undefined ? `fps=${r.fps ?? DEFAULT_FPS},` : ""}scale=${r.width}:${r.height},format=yuv420p`;
  const branches = encoded.map((r, i) => {
    labels.set(r.name, `v${i}`);
    return { filter: branch(r), label: `v${i}` };
  });
  if (thumbnail) branches.push({ filter: thumbnailFilter(thumbnail), label: THUMBNAIL_LABEL });
  if (branches.length === 1) {
    const b = branches[0]!;
    return { graph: `[0:v:0]${pre}${b.filter}[${b.label}]`, labels };
  }
  const splits = branches.map((_, i) => `[s${i}]`).join("");
  const parts = [`[0:v:0]${pre}split=${branches.length}${splits}`];
  branches.forEach((b, i) => {
    parts.push(`[s${i}]${b.filter}[${b.label}]`);
  });
  return { graph: parts.join(";"), labels };
}

/**
 * `lowLatency`: x264/x265 `zerolatency` (no B-frames, no lookahead, sliced instead of frame
 * threads), which takes the encoder's own ~0.5 s of frame delay out of glass-to-glass (ADR 0098).
 */
export function videoEncodeArgs(
  r: Rendition,
  i: number,
  segmentDuration: number,
  o: { lowLatency?: boolean } = {},
): string[] {
  if (r.codec === "copy") return [`-c:v:${i}`, "copy"];
  const tune = o.lowLatency ? [`-tune:v:${i}`, "zerolatency"] : [];
  const fps = r.fps ?? DEFAULT_FPS;
  const gop = gopFrames(segmentDuration, fps);
  const kbps = r.bitrateKbps ?? 1000;
  const preset = r.preset ?? "veryfast";
  const rate = [
    `-b:v:${i}`,
    `${kbps}k`,
    `-maxrate:v:${i}`,
    `${Math.round(kbps * MAXRATE_FACTOR)}k`,
    `-bufsize:v:${i}`,
    `${kbps * 2}k`,
  ];
  // Keyframes on every segment boundary, whatever the encoder's own decisions.
  const forced = [`-force_key_frames:v:${i}`, `expr:gte(t,n_forced*${segmentDuration})`];
  if (r.codec === "hevc") {
    return [
      `-c:v:${i}`,
      "libx265",
      `-preset:v:${i}`,
      preset,
      ...tune,
      ...rate,
      `-g:v:${i}`,
      String(gop),
      `-keyint_min:v:${i}`,
      String(gop),
      `-x265-params:v:${i}`,
      `keyint=${gop}:min-keyint=${gop}:scenecut=0:open-gop=0:log-level=error`,
      `-tag:v:${i}`,
      "hvc1",
      ...forced,
    ];
  }
  return [
    `-c:v:${i}`,
    "libx264",
    `-preset:v:${i}`,
    preset,
    ...tune,
    `-profile:v:${i}`,
    x264Profile(r.preset),
    `-level:v:${i}`,
    fmtLevel(h264Level(r.width ?? 0, r.height ?? 0, fps)),
    ...rate,
    `-g:v:${i}`,
    String(gop),
    `-keyint_min:v:${i}`,
    String(gop),
    `-sc_threshold:v:${i}`,
    "0",
    ...forced,
  ];
}

export function audioEncodeArgs(a: AudioSettings): string[] {
  if (a.codec === "copy") return ["-c:a:0", "copy"];
  const args = ["-c:a:0", a.codec === "opus" ? "libopus" : "aac", "-b:a:0", `${a.bitrateKbps ?? 128}k`];
  if (a.channels) args.push("-ac:a:0", String(a.channels));
  // Opus only runs at 48 kHz.
  const rate = a.codec === "opus" ? 48000 : a.sampleRate;
  if (rate) args.push("-ar:a:0", String(rate));
  return args;
}

function hlsMuxerArgs(plan: OutputPlan, job: TranscodeJob): string[] {
  const ts = plan.container === "ts";
  const ext = ts ? "ts" : "m4s";
  const adir = audioDirName(plan.video);
  const map: string[] = plan.video.map((r, i) => `v:${i}${plan.audio ? ",agroup:audio" : ""},name:${r.name}`);
  if (plan.audio) map.push(`a:0${plan.video.length > 0 ? ",agroup:audio" : ""},name:${adir}`);
  const args = [
    "-f",
    "hls",
    "-hls_time",
    String(plan.segmentDuration),
    "-hls_list_size",
    String(plan.windowSize),
    "-hls_delete_threshold",
    "2",
    "-hls_flags",
    "delete_segments+independent_segments+temp_file+program_date_time",
    "-hls_segment_type",
    ts ? "mpegts" : "fmp4",
  ];
  if (!ts) args.push("-hls_fmp4_init_filename", `init-${plan.runId}-%v.mp4`);
  args.push(
    "-hls_segment_filename",
    `${job.outDir}/%v/seg-${plan.runId}-%05d.${ext}`,
    "-var_stream_map",
    map.join(" "),
    `${job.outDir}/%v/index.m3u8`,
  );
  return args;
}

function dashMuxerArgs(plan: OutputPlan, job: TranscodeJob): string[] {
  const sets: string[] = [];
  if (plan.video.length > 0) sets.push(`id=${sets.length},streams=v`);
  if (plan.audio) sets.push(`id=${sets.length},streams=a`);
  return [
    "-f",
    "dash",
    "-seg_duration",
    String(plan.segmentDuration),
    "-window_size",
    String(plan.windowSize),
    "-extra_window_size",
    "2",
    "-use_template",
    "1",
    "-use_timeline",
    "1",
    "-hls_playlist",
    "1",
    // Chunked output (two fragments per segment): without it ffmpeg 5.1's dash muxer lists the
    // second video rendition's first segment one segment late, and the master waits for it
    // (publish → playable 3.1 s → 2.1 s with 1 s segments; docs/benchmarks/latency.md).
    "-streaming",
    "1",
    "-frag_type",
    "duration",
    "-frag_duration",
    String(plan.segmentDuration / 2),
    // ffmpeg's own master lacks AVERAGE-BANDWIDTH/FRAME-RATE; it goes aside, we write master.m3u8.
    "-hls_master_name",
    "ffmpeg-master.m3u8",
    "-init_seg_name",
    `$RepresentationID$/init-${plan.runId}.mp4`,
    "-media_seg_name",
    `$RepresentationID$/seg-${plan.runId}-$Number%05d$.m4s`,
    "-adaptation_sets",
    sets.join(" "),
    // <UTCTiming> (http-xsdate): the clock dash.js synchronises to (shared/src/time-source.ts).
    ...(job.utcTimingUrl ? ["-utc_timing_url", job.utcTimingUrl] : []),
    `${job.outDir}/manifest.mpd`,
  ];
}

/**
 * Low latency: every rung is its own output (its encoder options, then the CMAF muxer on its
 * descriptor); one decode and one filter graph still feed them all, and the audio is encoded once.
 */
function cmafOutputArgs(plan: OutputPlan, labels: Map<string, string>): string[] {
  const mux = ["-max_muxing_queue_size", "1024", ...cmafMuxerArgs(plan.partDuration)];
  const args: string[] = [];
  plan.video.forEach((r, i) => {
    args.push("-map", r.codec === "copy" ? "0:v:0" : `[${labels.get(r.name)}]`);
    args.push(
      ...videoEncodeArgs(r, 0, plan.segmentDuration, { lowLatency: true }),
      ...mux,
      `pipe:${FIRST_CMAF_FD + i}`,
    );
  });
  if (plan.audio) {
    args.push("-map", "0:a:0", ...audioEncodeArgs(plan.audio), ...mux);
    args.push(`pipe:${FIRST_CMAF_FD + plan.video.length}`);
  }
  return args;
}

export function buildFfmpegCommand(job: TranscodeJob, o: FfmpegCommandOptions = {}): ProcessCommand {
  const plan = planOutputs(job);
  const args = [
    "-hide_banner",
    "-nostdin",
    "-nostats",
    "-loglevel",
    o.logLevel ?? "warning",
    "-progress",
    "pipe:1",
    "-stats_period",
    "1",
    "-y",
    "-fflags",
    "+genpts",
    // The supervisor already probed the tracks: half a second of analysis finds them again, where
    // ffmpeg's default (up to 5 s) would delay the first segment.
    ...(job.input ? ["-analyzeduration", "500000", "-probesize", "1000000"] : []),
    "-i",
    job.inputUrl,
  ];
  const thumbnail = thumbnailOf(plan, o);
  const { graph, labels } = buildFilterGraph(plan.video, thumbnail);
  if (graph) args.push("-filter_complex", graph);
  // A separate output file after the media ones (its options must not precede theirs).
  const thumb = thumbnail ? thumbnailOutputArgs(thumbnail, job.outDir, THUMBNAIL_LABEL) : [];
  if (plan.lowLatency) {
    args.push(...cmafOutputArgs(plan, labels), ...thumb);
    return { cmd: o.bin ?? "ffmpeg", args };
  }
  plan.video.forEach((r) => {
    args.push("-map", r.codec === "copy" ? "0:v:0" : `[${labels.get(r.name)}]`);
  });
  if (plan.audio) args.push("-map", "0:a:0");
  plan.video.forEach((r, i) => {
    args.push(...videoEncodeArgs(r, i, plan.segmentDuration));
  });
  if (plan.audio) args.push(...audioEncodeArgs(plan.audio));
  args.push("-max_muxing_queue_size", "1024");
  args.push(...(plan.dash ? dashMuxerArgs(plan, job) : hlsMuxerArgs(plan, job)), ...thumb);
  return { cmd: o.bin ?? "ffmpeg", args };
}
