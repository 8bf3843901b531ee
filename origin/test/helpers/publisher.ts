/**
 * A live test-pattern publisher: ffmpeg with lavfi testsrc2 (+ sine) in real time, pushing MPEG-TS
 * to a URL (UDP by default, so the publisher outlives any reader crashing or restarting).
 */
import { execa, type ResultPromise } from "execa";

export interface PublisherOptions {
  url: string;
  size?: string;
  rate?: number;
  video?: boolean;
  audio?: boolean;
  /** Output format; mpegts for udp/srt/tcp, flv for rtmp. */
  format?: string;
  /** Seconds; default: until stopped. */
  durationSec?: number;
}

export interface Publisher {
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

export function startPublisher(o: PublisherOptions): Publisher {
  const args = ["-hide_banner", "-loglevel", "error", "-nostdin", "-re"];
  const video = o.video ?? true;
  const audio = o.audio ?? true;
  if (video) args.push("-f", "lavfi", "-i", `testsrc2=size=${o.size ?? "320x180"}:rate=${o.rate ?? 15}`);
  if (audio) args.push("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000");
  if (o.durationSec) args.push("-t", String(o.durationSec));
  if (video)
    args.push(
      "-c:v",
      "libx264",
      "-preset",
      "ultrafast",
      "-tune",
      "zerolatency",
      "-g",
      String(o.rate ?? 15),
      "-pix_fmt",
      "yuv420p",
    );
  if (audio) args.push("-c:a", "aac", "-b:a", "64k");
  const format = o.format ?? "mpegts";
  args.push("-f", format);
  if (format === "mpegts" && o.url.startsWith("udp:")) args.push("-pkt_size", "1316");
  args.push(o.url);
  const sub: ResultPromise = execa("ffmpeg", args, {
    reject: false,
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
    cleanup: true,
  });
  return {
    pid: sub.pid,
    async stop() {
      sub.kill("SIGKILL");
      await sub;
    },
  };
}
