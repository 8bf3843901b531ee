/**
 * The HLS master playlist, written by us rather than the muxer: the muxers' masters lack
 * AVERAGE-BANDWIDTH/FRAME-RATE and get rewritten by them at odd times. Pure: variants in, text out.
 */
import type { ProfileSpec } from "@dionysia/shared";
import { audioCodecString, DEFAULT_FPS, videoCodecString } from "./codecs.ts";
import type { OutputLayout } from "./types.ts";

export interface MasterVariant {
  uri: string;
  /** Peak bits per second (video maxrate + audio). */
  bandwidth: number;
  averageBandwidth: number;
  width?: number;
  height?: number;
  /** Comma-separated RFC 6381 codecs of the video and, when muxed or grouped, the audio. */
  codecs?: string;
  frameRate?: number;
}

export interface MasterAudio {
  uri: string;
  groupId: string;
  name: string;
  codecs?: string;
  bandwidth: number;
}

export interface MasterInput {
  variants: MasterVariant[];
  /** The shared audio rendition; every variant references it. Alone (no variants): audio-only master. */
  audio?: MasterAudio;
}

const attr = (s: string) => `"${s.replace(/"/g, "")}"`;

export function buildMasterPlaylist(m: MasterInput): string {
  const lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"];
  const a = m.audio;
  if (a && m.variants.length > 0) {
    lines.push(
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=${attr(a.groupId)},NAME=${attr(a.name)},DEFAULT=YES,AUTOSELECT=YES,URI=${attr(a.uri)}`,
    );
  }
  for (const v of m.variants) {
    const bw = v.bandwidth + (a?.bandwidth ?? 0);
    const avg = v.averageBandwidth + (a?.bandwidth ?? 0);
    const codecs = [v.codecs, a?.codecs].filter(Boolean).join(",");
    const parts = [`BANDWIDTH=${Math.round(bw)}`, `AVERAGE-BANDWIDTH=${Math.round(avg)}`];
    if (v.width && v.height) parts.push(`RESOLUTION=${v.width}x${v.height}`);
    if (codecs) parts.push(`CODECS=${attr(codecs)}`);
    if (v.frameRate) parts.push(`FRAME-RATE=${v.frameRate.toFixed(3)}`);
    if (a) parts.push(`AUDIO=${attr(a.groupId)}`);
    lines.push(`#EXT-X-STREAM-INF:${parts.join(",")}`, v.uri);
  }
  if (a && m.variants.length === 0) {
    // Audio-only ladder: the audio playlist is the one variant.
    const parts = [`BANDWIDTH=${Math.round(a.bandwidth)}`, `AVERAGE-BANDWIDTH=${Math.round(a.bandwidth)}`];
    if (a.codecs) parts.push(`CODECS=${attr(a.codecs)}`);
    lines.push(`#EXT-X-STREAM-INF:${parts.join(",")}`, a.uri);
  }
  return `${lines.join("\n")}\n`;
}

/** Facts about copy renditions learnt after start (ffprobe of the first segment). */
export interface ProbedVariant {
  codecs?: string;
  width?: number;
  height?: number;
  frameRate?: number;
  bitrate?: number;
}

/** Master input for a profile and layout; `probed` fills in what a copy rendition cannot tell us. */
export function masterFromProfile(
  profile: ProfileSpec,
  layout: OutputLayout,
  probed: Record<string, ProbedVariant> = {},
): MasterInput {
  const audio = profile.audio;
  const variants: MasterVariant[] = layout.variants.map(({ rendition: r, playlist }) => {
    if (r.codec === "copy") {
      const p = probed[r.name] ?? {};
      const bitrate = p.bitrate ?? 2_000_000;
      return {
        uri: playlist,
        bandwidth: bitrate * 1.2,
        averageBandwidth: bitrate,
        width: p.width,
        height: p.height,
        codecs: p.codecs,
        frameRate: p.frameRate,
      };
    }
    const bitrate = (r.bitrateKbps ?? 1000) * 1000;
    return {
      uri: playlist,
      bandwidth: bitrate * MAXRATE_FACTOR,
      averageBandwidth: bitrate,
      width: r.width,
      height: r.height,
      codecs: videoCodecString(r),
      frameRate: r.fps ?? DEFAULT_FPS,
    };
  });
  if (!layout.audio || !audio) return { variants };
  const abr = (audio.codec === "copy" ? 128 : (audio.bitrateKbps ?? 128)) * 1000;
  return {
    variants,
    audio: {
      uri: layout.audio.playlist,
      groupId: "audio",
      name: "main",
      bandwidth: abr,
      codecs: audio.codec === "copy" ? (probed.audio?.codecs ?? "mp4a.40.2") : audioCodecString(audio),
    },
  };
}

/** Peak = 110 % of target: the encoder's -maxrate (see ffmpeg/command.ts). */
export const MAXRATE_FACTOR = 1.1;
