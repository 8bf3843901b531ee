/**
 * RFC 6381 codec strings for the master playlist, derived from the encoder settings we pass, so
 * the master can be written before any bitstream exists and matches what the encoder signals.
 */
import type { AudioSettings, Rendition } from "@dionysia/shared";

/** H.264 Table A-1: [level_idc, max macroblocks/s, max frame size in macroblocks]. */
const H264_LEVELS: [number, number, number][] = [
  [30, 40500, 1620],
  [31, 108000, 3600],
  [32, 216000, 5120],
  [40, 245760, 8192],
  [42, 522240, 8704],
  [50, 589824, 22080],
  [51, 983040, 36864],
  [52, 2073600, 36864],
];

/** Smallest level (3.0 at least, what every player accepts) that fits the frame size and rate. */
export function h264Level(width: number, height: number, fps: number): number {
  const fs = Math.ceil(width / 16) * Math.ceil(height / 16);
  const mbps = fs * fps;
  for (const [idc, maxMbps, maxFs] of H264_LEVELS) if (fs <= maxFs && mbps <= maxMbps) return idc;
  return 52;
}

/** x264 signals the profile its features need: ultrafast turns off CABAC and 8x8dct, so Baseline. */
export function x264Profile(preset: Rendition["preset"]): "baseline" | "high" {
  return preset === "ultrafast" ? "baseline" : "high";
}

const hex2 = (n: number) => n.toString(16).padStart(2, "0");

export function avcCodecString(profile: "baseline" | "high", levelIdc: number): string {
  // Constrained Baseline = profile_idc 66 with constraint_set0+1 (0xC0); High = 100, no constraints.
  return profile === "baseline" ? `avc1.42c0${hex2(levelIdc)}` : `avc1.6400${hex2(levelIdc)}`;
}

/** HEVC Main, level = idc/30 (e.g. 93 = 3.1); x265 tags hvc1 for HLS. */
export function hevcCodecString(levelIdc: number): string {
  return `hvc1.1.6.L${levelIdc}.B0`;
}

/** HEVC levels use the same luma sample limits closely enough for tagging: idc = 30 × level. */
export function hevcLevel(width: number, height: number, fps: number): number {
  const samples = width * height;
  const rate = samples * fps;
  if (samples <= 552960 && rate <= 16588800) return 93; // 3.1
  if (samples <= 2228224 && rate <= 66846720) return 120; // 4
  if (samples <= 2228224 && rate <= 133693440) return 123; // 4.1
  if (samples <= 8912896 && rate <= 267386880) return 150; // 5
  return 153;
}

export const DEFAULT_FPS = 30;

/** Codec string for an encoded (non-copy) rendition. */
export function videoCodecString(r: Rendition): string | undefined {
  if (r.codec === "copy" || !r.width || !r.height) return undefined;
  const fps = r.fps ?? DEFAULT_FPS;
  if (r.codec === "hevc") return hevcCodecString(hevcLevel(r.width, r.height, fps));
  return avcCodecString(x264Profile(r.preset), h264Level(r.width, r.height, fps));
}

export function audioCodecString(a: AudioSettings): string | undefined {
  if (a.codec === "aac") return "mp4a.40.2";
  if (a.codec === "opus") return "opus";
  return undefined;
}

/** From ffprobe's stream fields, for copy renditions whose codec we did not choose. */
export function codecStringFromProbe(s: {
  codec_name?: string;
  profile?: string;
  level?: number;
}): string | undefined {
  if (s.codec_name === "h264") {
    const level = s.level && s.level > 0 ? s.level : 31;
    const p = (s.profile ?? "").toLowerCase();
    if (p.includes("baseline")) return avcCodecString("baseline", level);
    if (p === "main") return `avc1.4d00${hex2(level)}`;
    return avcCodecString("high", level);
  }
  if (s.codec_name === "hevc") return hevcCodecString(s.level && s.level > 0 ? s.level : 93);
  if (s.codec_name === "aac") return "mp4a.40.2";
  if (s.codec_name === "opus") return "opus";
  if (s.codec_name === "mp3") return "mp4a.40.34";
  return undefined;
}
