/** ffprobe helpers: what an input carries, and what a copy rendition's segments contain. */
import { execa } from "execa";
import { codecStringFromProbe } from "../transcoder/codecs.ts";
import type { ProbedVariant } from "../transcoder/master.ts";

interface ProbeStream {
  codec_type?: string;
  codec_name?: string;
  profile?: string;
  level?: number;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  bit_rate?: string;
}

async function ffprobeStreams(
  target: string,
  timeoutMs: number,
  extra: string[] = [],
): Promise<ProbeStream[]> {
  const r = await execa("ffprobe", ["-v", "error", ...extra, "-show_streams", "-of", "json", target], {
    reject: false,
    timeout: timeoutMs,
    stdin: "ignore",
  });
  if (r.exitCode !== 0) throw new Error("ffprobe failed");
  return (JSON.parse(String(r.stdout)) as { streams?: ProbeStream[] }).streams ?? [];
}

/** Whether a live input has video/audio; undefined when it could not be probed in time. */
export async function probeInput(
  url: string,
  timeoutMs = 8000,
): Promise<{ hasVideo: boolean; hasAudio: boolean; frameRate?: number } | undefined> {
  try {
    // A live input's tracks show up in its first packets: half a second of analysis is plenty,
    // and every millisecond here delays the first segment (bench/latency.ts).
    const streams = await ffprobeStreams(url, timeoutMs, [
      "-analyzeduration",
      "500000",
      "-probesize",
      "1000000",
    ]);
    if (streams.length === 0) return undefined;
    const v = streams.find((s) => s.codec_type === "video");
    const frameRate = v ? (rate(v.avg_frame_rate) ?? rate(v.r_frame_rate)) : undefined;
    return {
      hasVideo: v !== undefined,
      hasAudio: streams.some((s) => s.codec_type === "audio"),
      ...(frameRate ? { frameRate } : {}),
    };
  } catch {
    return undefined;
  }
}

function rate(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const [n, d] = s.split("/").map(Number);
  if (!n || !d) return undefined;
  return n / d;
}

/** Codec, size and rate of a segment (fMP4: pass init + segment, read as one concatenation). */
export async function probeSegment(files: string[], durationSec: number): Promise<ProbedVariant> {
  const target = files.length > 1 ? `concat:${files.join("|")}` : files[0]!;
  const streams = await ffprobeStreams(target, 10_000);
  const v = streams.find((s) => s.codec_type === "video") ?? streams[0];
  if (!v) return {};
  let bitrate: number | undefined = v.bit_rate ? Number(v.bit_rate) : undefined;
  if (!bitrate && durationSec > 0) {
    const last = files[files.length - 1]!;
    bitrate = Math.round((Bun.file(last).size * 8) / durationSec);
  }
  return {
    codecs: codecStringFromProbe(v),
    width: v.width,
    height: v.height,
    frameRate: rate(v.avg_frame_rate) ?? rate(v.r_frame_rate),
    bitrate,
  };
}
