/** ffprobe wrapper for assertions on real output. */
import { execa } from "execa";

export interface ProbedStream {
  codec_type: string;
  codec_name: string;
  profile?: string;
  level?: number;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  sample_rate?: string;
  channels?: number;
}

export async function ffprobeStreams(target: string): Promise<ProbedStream[]> {
  const r = await execa("ffprobe", ["-v", "error", "-show_streams", "-of", "json", target], {
    reject: false,
    timeout: 20_000,
  });
  if (r.exitCode !== 0) throw new Error(`ffprobe ${target}: ${r.stderr}`);
  return (JSON.parse(String(r.stdout)) as { streams: ProbedStream[] }).streams;
}

/** Packet times and key flags of the first stream of a kind. */
export async function ffprobeKeyframes(
  target: string,
  kind: "v" | "a" = "v",
): Promise<{ pts: number; key: boolean }[]> {
  const r = await execa(
    "ffprobe",
    [
      "-v",
      "error",
      "-select_streams",
      `${kind}:0`,
      "-show_entries",
      "packet=pts_time,flags",
      "-of",
      "csv=p=0",
      target,
    ],
    { reject: false, timeout: 20_000 },
  );
  if (r.exitCode !== 0) throw new Error(`ffprobe ${target}: ${r.stderr}`);
  return String(r.stdout)
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [pts, flags] = l.split(",");
      return { pts: Number(pts), key: (flags ?? "").includes("K") };
    });
}

/** The container's duration in seconds (a playlist or manifest: what a player would play). */
export async function ffprobeDuration(target: string): Promise<number> {
  const r = await execa(
    "ffprobe",
    ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", target],
    {
      reject: false,
      timeout: 30_000,
    },
  );
  if (r.exitCode !== 0) throw new Error(`ffprobe ${target}: ${r.stderr}`);
  return Number(String(r.stdout).trim());
}
