/**
 * gpac filter-graph command line for a transcode job (pure). Same ladder semantics as the ffmpeg
 * back end, expressed in gpac's documented filter syntax:
 *   - `-i URL:FID=src` names the source so each branch links to it with `SID=src#StreamType=...`;
 *   - per rendition: `ffsws:osize=WxH` (scale) `@` `ffenc:c=avc:b=...:fintra=SEG` (encode),
 *     `@` links a filter to the one before it; `fintra` forces an IDR every segment duration so
 *     the renditions' keyframes align; the x264 options go to libavcodec through ffenc;
 *   - a frame-rate change goes through `ffavf::f=fps=N` (`::` lets the value hold '=' and ',');
 *   - audio encoded once (`ffenc:c=aac`) and given to the dasher as its own representation;
 *   - `-o manifest.mpd:dual` makes the dasher write DASH and HLS from the same CMAF segments
 *     (`dmode=dynamic` live, `tsb` = time-shift buffer = window, `muxtype=ts` for TS HLS).
 * References: gpac wiki "DASH and HLS transcoding", filters `dasher`, `ffenc`, `ffsws`, `ffavf`.
 */
import { DEFAULT_FPS } from "../codecs.ts";
import { audioDirName, gopFrames, planOutputs } from "../plan.ts";
import type { OutputLayout, ProcessCommand, TranscodeJob } from "../types.ts";

export interface GpacCommandOptions {
  bin?: string;
}

const GPAC_CODEC = { h264: "avc", hevc: "hevc" } as const;

export function gpacLayout(job: TranscodeJob): OutputLayout {
  const plan = planOutputs(job);
  // Child playlist names come from each PID's HLSPL property, set in buildGpacCommand.
  const adir = audioDirName(plan.video);
  return {
    master: "master.m3u8",
    dash: plan.dash ? "manifest.mpd" : undefined,
    variants: plan.video.map((rendition) => ({ rendition, playlist: `${rendition.name}/index.m3u8` })),
    audio: plan.audio ? { playlist: `${adir}/index.m3u8` } : undefined,
    dirs: [...plan.video.map((r) => r.name), ...(plan.audio ? [adir] : [])],
  };
}

export function buildGpacCommand(job: TranscodeJob, o: GpacCommandOptions = {}): ProcessCommand {
  const plan = planOutputs(job);
  const args = ["-i", `${job.inputUrl}:FID=src`];
  const sids: string[] = [];
  plan.video.forEach((r, i) => {
    // PID properties: representation id and HLS child playlist name (one folder per rendition).
    const rep = `#Representation=${r.name}#HLSPL=${r.name}/index.m3u8`;
    if (r.codec === "copy") {
      // Passthrough: the dasher takes the source's video PID as is.
      sids.push(`src#StreamType=Visual`);
      return;
    }
    const fps = r.fps ?? DEFAULT_FPS;
    const gop = gopFrames(plan.segmentDuration, fps);
    args.push(`ffavf:SID=src#StreamType=Visual:FID=f${i}::f=fps=${fps}`);
    args.push(`ffsws:osize=${r.width}x${r.height}:SID=f${i}:FID=s${i}`);
    const enc = [
      `ffenc:c=${GPAC_CODEC[r.codec]}`,
      `b=${r.bitrateKbps ?? 1000}k`,
      `fintra=${plan.segmentDuration}`,
      `g=${gop}`,
      `preset=${r.preset ?? "veryfast"}`,
      ...(r.codec === "h264" ? ["sc_threshold=0"] : ["x265-params=scenecut=0"]),
      `SID=s${i}`,
      `FID=v${i}${rep}`,
    ];
    args.push(enc.join(":"));
    sids.push(`v${i}`);
  });
  if (plan.audio) {
    const a = plan.audio;
    const adir = audioDirName(plan.video);
    const rep = `#Representation=${adir}#HLSPL=${adir}/index.m3u8`;
    if (a.codec === "copy") {
      sids.push("src#StreamType=Audio");
    } else {
      const enc = [
        `ffenc:c=${a.codec === "opus" ? "opus" : "aac"}`,
        `b=${a.bitrateKbps ?? 128}k`,
        ...(a.channels ? [`ch=${a.channels}`] : []),
        `SID=src#StreamType=Audio`,
        `FID=a0${rep}`,
      ];
      args.push(enc.join(":"));
      sids.push("a0");
    }
  }
  const out = [
    `${job.outDir}/${plan.dash ? "manifest.mpd" : "manifest.m3u8"}`,
    `segdur=${plan.segmentDuration}`,
    "dmode=dynamic",
    "profile=live",
    `tsb=${plan.segmentDuration * plan.windowSize}`,
    // One folder per representation, run id in every name: immutable URLs never repeat.
    `template=$RepresentationID$/seg-${plan.runId}-$Number%05d$`,
    `SID=${sids.join(",")}`,
  ];
  if (plan.dash) out.push("dual");
  if (plan.container === "ts") out.push("muxtype=ts");
  else out.push("cmaf=cmf2");
  args.push("-o", out.join(":"));
  return { cmd: o.bin ?? "gpac", args };
}
