/**
 * gpac filter-graph command line for a transcode job (pure). Same ladder, keyframes and layout
 * semantics as the ffmpeg back end, in the syntax gpac 26.07 accepts (ADR 0024; every choice below
 * was checked against the binary, the suite in test/transcoder-backends.test.ts runs it):
 *   - `-i URL:gpac:FID=src`: `:gpac:` ends the URL, so `FID=src` is gpac's and is not handed to
 *     libavformat as part of an rtmp:// stream name;
 *   - PID properties are options of their own (`:#Representation=…:#HLSPL=…`); chained after an
 *     option value with `#` they are read as part of that value and the graph never connects;
 *   - frame rate: one `ffavf::f=fps=N,settb=1/90000` per distinct rate, shared by the rungs at
 *     that rate. ffavf copies the source packet's DTS and duration onto the converted frames: the
 *     settb keeps CTS in a fine clock (without it the copied durations are read in 1/N ticks, the
 *     68 s jumps); what is left is the first sample of a run, whose duration the mp4 muxer takes
 *     from that copied value, so frames after the first in a run's first segment are early by up to
 *     one frame. `restamp:fps=N:rawv=force` has the same first-sample defect and stalls a live
 *     graph whose rungs' encoders differ in delay (ultrafast next to veryfast);
 *   - per rendition `ffsws:osize=WxH` (scale) then `ffenc:c=avc|hevc` with `fintra=SEG` (an IDR at
 *     every segment start, by media time, so renditions align) and x264/x265 options passed on to
 *     libavcodec; one decoder feeds every branch (gpac shares the decode across filters);
 *   - audio: `resample:osr=…:och=…` before `ffenc:c=aac` (ffenc has no channel or rate option: it
 *     encodes whatever it is given), encoded once and shared;
 *   - copy renditions go through `reframer` (a pass-through) only to carry the PID properties;
 *   - dasher: `-o manifest.mpd:dual` writes DASH and HLS from the same CMAF segments, `stl` times
 *     the MPD from the media (SegmentTimeline) instead of the wall clock, `muxtype=ts` for TS HLS;
 *     a rung whose size is not the reference aspect gets `#SAR` so it stays in the one video
 *     adaptation set.
 * Layout: variant playlists at the top (`media-{name}.m3u8`), segments in one folder per
 * representation. gpac resolves segment paths against the variant playlist's folder, and folds
 * the first representation's folder into the MPD's shared template, so playlists inside the
 * rendition folders break either HLS (`720p/720p/…`) or DASH (every rendition pointing at one
 * folder).
 */
import { join } from "node:path";
import type { Rendition } from "@dionysia/shared";
import { cmafLayout } from "../cmaf.ts";
import { DEFAULT_FPS, h264Level } from "../codecs.ts";
import { MAXRATE_FACTOR } from "../master.ts";
import { audioDirName, gopFrames, type OutputPlan, planOutputs } from "../plan.ts";
import type { OutputLayout, ProcessCommand, TranscodeJob } from "../types.ts";

export interface GpacCommandOptions {
  bin?: string;
}

const GPAC_CODEC = { h264: "avc", hevc: "hevc" } as const;

/** Variant playlist of a representation, at the top of outDir (see the header for why). */
export const gpacPlaylist = (rep: string) => `media-${rep}.m3u8`;

/**
 * The named pipe a low-latency output's CMAF stream comes over (ADR 0099): in the run's folder,
 * named with a leading "." so no URL reaches it; `.mp4` so gpac's file sink takes the muxer's output.
 */
export const gpacChunkFifo = (outDir: string, fd: number) => join(outDir, `.cmaf-${fd}.mp4`);

/**
 * Why this back end cannot make a job, or undefined when it can. gpac 26.07's fragmented-MP4
 * output behind its frame-rate stage (ffavf `fps`) ends every fragment with a sample whose
 * duration is in the wrong timescale: a hole every part (ADR 0083). Low latency is made without
 * that stage, so the source must already be at every encoded rung's frame rate.
 */
export function gpacRefusal(job: TranscodeJob): string | undefined {
  const plan = planOutputs(job);
  if (!plan.lowLatency) return undefined;
  const use = "use TRANSCODER=ffmpeg (or auto) for this stream";
  const source = job.input?.frameRate;
  const other = plan.video.find(
    (r) => r.codec !== "copy" && (source === undefined || Math.abs((r.fps ?? DEFAULT_FPS) - source) > 0.01),
  );
  if (other)
    return (
      `the gpac back end makes ll-hls only without frame-rate conversion: rung ${other.name} is ` +
      `${other.fps ?? DEFAULT_FPS} fps, the source ${source === undefined ? "did not declare its rate" : `is ${source} fps`}; ${use}`
    );
  return undefined;
}

/** No `thumbnail`: the gpac back end writes none yet (ADR 0093), so the origin answers 404. */
export function gpacLayout(job: TranscodeJob): OutputLayout {
  const plan = planOutputs(job);
  if (plan.lowLatency) {
    // The packagers read each stream (as with ffmpeg) from a FIFO gpac writes as a file.
    const ll = cmafLayout(plan);
    return { ...ll, cmaf: ll.cmaf?.map((c) => ({ ...c, fifo: gpacChunkFifo(job.outDir, c.fd) })) };
  }
  const adir = audioDirName(plan.video);
  return {
    master: "master.m3u8",
    dash: plan.dash ? "manifest.mpd" : undefined,
    variants: plan.video.map((rendition) => ({ rendition, playlist: gpacPlaylist(rendition.name) })),
    audio: plan.audio ? { playlist: gpacPlaylist(adir) } : undefined,
    dirs: [...plan.video.map((r) => r.name), ...(plan.audio ? [adir] : [])],
  };
}

/** PID properties naming a representation and its HLS playlist: separate options, see header. */
const repProps = (rep: string) => [`#Representation=${rep}`, `#HLSPL=${gpacPlaylist(rep)}`];

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);

/**
 * `osar` for a rung whose size is not exactly the reference rung's aspect ratio (854x480 against
 * 1280x720): the pixel aspect that keeps the display aspect, as ffmpeg's scale filter signals it
 * (1280:1281). gpac's dasher puts renditions of different display aspect into different
 * adaptation sets, which a DASH player cannot switch between.
 */
export function gpacSar(r: Rendition, ref: Rendition | undefined): string | undefined {
  if (!ref?.width || !ref.height || !r.width || !r.height) return undefined;
  const num = ref.width * r.height;
  const den = ref.height * r.width;
  if (num === den) return undefined;
  const g = gcd(num, den);
  return `${num / g}/${den / g}`;
}

/**
 * The mp4 muxer's fragment duration for parts of at most `part` seconds in segments of `segment`:
 * with `store=frag` gpac starts a fragment at the first sample at or past each multiple of `cdur`
 * on the stream's own timeline (`sfrag` waits for a keyframe instead: one fragment per GOP, no
 * parts). A whole number of parts per segment puts a boundary on every segment start, where the
 * encoder places its keyframes (`fintra`), so segments cut on fragment starts. As a fraction: a
 * decimal `1/3` would drift off the keyframes over hours.
 */
export function gpacChunkDuration(part: number, segment: number): string {
  const perSegment = Math.max(1, Math.ceil(segment / part - 1e-6));
  return `${Math.round(segment * 1000)}/${perSegment * 1000}`;
}

/** The libavcodec options for one encoded rendition (ffenc hands unknown options on). */
function videoEncoder(r: Rendition, plan: OutputPlan): string[] {
  const fps = r.fps ?? DEFAULT_FPS;
  const gop = gopFrames(plan.segmentDuration, fps);
  const kbps = r.bitrateKbps ?? 1000;
  const common = [
    `c=${GPAC_CODEC[r.codec as "h264" | "hevc"]}`,
    `b=${kbps}k`,
    `maxrate=${Math.round(kbps * MAXRATE_FACTOR)}k`,
    `bufsize=${kbps * 2}k`,
    `fintra=${plan.segmentDuration}`,
    `g=${gop}`,
    `keyint_min=${gop}`,
    `preset=${r.preset ?? "veryfast"}`,
    // No B-frames, lookahead or frame threads: the encoder's own delay out of the latency (ADR 0098).
    ...(plan.lowLatency ? ["tune=zerolatency"] : []),
  ];
  if (r.codec === "hevc") return common;
  // Profile and level as the master playlist's CODECS says (codecs.ts), not x264's own pick.
  const level = (h264Level(r.width ?? 0, r.height ?? 0, fps) / 10).toFixed(1);
  return [...common, "sc_threshold=0", `level=${level}`];
}

export function buildGpacCommand(job: TranscodeJob, o: GpacCommandOptions = {}): ProcessCommand {
  const refusal = gpacRefusal(job);
  if (refusal) throw new Error(refusal);
  const plan = planOutputs(job);
  // -noprog: no progress lines on stderr; ncl: no ANSI colours in what we keep as the error.
  const args = ["-noprog", "-logs=all@warning:ncl", "-i", `${job.inputUrl}:gpac:FID=src`];
  const sids: string[] = [];
  const rates = new Map<number, string>();
  const ref = plan.video.find((r) => r.codec !== "copy");
  plan.video.forEach((r, i) => {
    if (r.codec === "copy") {
      args.push(["reframer", "SID=src#StreamType=Visual", `FID=v${i}`, ...repProps(r.name)].join(":"));
      sids.push(`v${i}`);
      return;
    }
    const fps = r.fps ?? DEFAULT_FPS;
    // Low latency: the source is at this rate already (gpacRefusal), so no frame-rate stage.
    let rated = plan.lowLatency ? "src#StreamType=Visual" : rates.get(fps);
    if (!rated) {
      rated = `r${rates.size}`;
      rates.set(fps, rated);
      // `::f=` takes the rest of the argument as the graph; settb: see the header.
      args.push(`ffavf:SID=src#StreamType=Visual:FID=${rated}::f=fps=${fps},settb=1/90000`);
    }
    const sar = gpacSar(r, ref);
    args.push(
      [
        `ffsws:osize=${r.width}x${r.height}`,
        "ofmt=yuv",
        ...(sar ? [`#SAR=${sar}`] : []),
        `SID=${rated}`,
        `FID=s${i}`,
      ].join(":"),
    );
    const enc = ["ffenc", ...videoEncoder(r, plan), `SID=s${i}`, `FID=v${i}`, ...repProps(r.name)].join(":");
    // `::` last: the value keeps its ':'s (x265's own list), as ffmpeg's -x265-params gets it.
    args.push(r.codec === "hevc" ? `${enc}::x265-params=scenecut=0:open-gop=0:log-level=error` : enc);
    sids.push(`v${i}`);
  });
  if (plan.audio) {
    const a = plan.audio;
    const adir = audioDirName(plan.video);
    if (a.codec === "copy") {
      args.push(["reframer", "SID=src#StreamType=Audio", "FID=a0", ...repProps(adir)].join(":"));
    } else {
      // Opus only runs at 48 kHz.
      const rate = a.codec === "opus" ? 48000 : a.sampleRate;
      const resample = [
        "resample",
        ...(rate ? [`osr=${rate}`] : []),
        ...(a.channels ? [`och=${a.channels}`] : []),
      ];
      args.push([...resample, "SID=src#StreamType=Audio", "FID=ar"].join(":"));
      args.push(
        [
          "ffenc",
          `c=${a.codec === "opus" ? "opus" : "aac"}`,
          `b=${a.bitrateKbps ?? 128}k`,
          "SID=ar",
          "FID=a0",
          ...repProps(adir),
        ].join(":"),
      );
    }
    sids.push("a0");
  }
  if (plan.lowLatency) {
    // One fragmented-MP4 stream per rendition (the audio last), each to the FIFO the packager
    // reads: gpac's dasher is not used, the packager writes the segments, parts and manifests.
    const cdur = gpacChunkDuration(plan.partDuration, plan.segmentDuration);
    const layout = gpacLayout(job);
    sids.forEach((sid, i) => {
      args.push(`mp4mx:SID=${sid}:FID=m${i}:store=frag:cdur=${cdur}:cmaf=cmfc`);
      args.push("-o", `${layout.cmaf![i]!.fifo}:gpac:SID=m${i}`);
    });
    return { cmd: o.bin ?? "gpac", args };
  }
  const out = [
    `${job.outDir}/${plan.dash ? "manifest.mpd" : "manifest.m3u8"}`,
    `segdur=${plan.segmentDuration}`,
    "dmode=dynamic",
    "profile=live",
    // Segment timeline: MPD times come from the media, not from the wall clock.
    "stl",
    `tsb=${plan.segmentDuration * plan.windowSize}`,
    // One folder per representation, run id in every name: immutable URLs never repeat.
    `template=$RepresentationID$/$Init=init-${plan.runId}$$Segment=seg-${plan.runId}-$$Number%05d$`,
    `SID=${sids.join(",")}`,
  ];
  if (plan.dash) out.push("dual");
  if (plan.container === "ts") out.push("muxtype=ts");
  // cmfc, not cmf2: with cmf2 gpac drops the edit list that compensates x264's B-frame delay and
  // applies no negative offsets either, so every rung with B-frames plays 2 frames late (against
  // its audio and against rungs without B-frames). The edit list is what ffmpeg writes too.
  else out.push("cmaf=cmfc");
  // Last: gpac reads an option holding an absolute URL up to the end of the argument (or `::`),
  // so the URL's own `:`s stay in it. xsd@ = the http-xsdate scheme, as ffmpeg writes.
  if (plan.dash && job.utcTimingUrl) out.push(`utcs=xsd@${job.utcTimingUrl}`);
  args.push("-o", out.join(":"));
  return { cmd: o.bin ?? "gpac", args };
}
