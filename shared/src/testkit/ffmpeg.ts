/**
 * The test media every suite uses: one live test pattern (testsrc2 + a 440 Hz tone, real time,
 * 1 s GOP), pushed by real ffmpeg over RTMP, SRT or UDP, or served as an SRT listener; and an
 * ffprobe reader. node:child_process only (no Bun.*), like the rest of the kit.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { findBinary } from "./binaries.ts";

export const FFMPEG = findBinary("ffmpeg");
export const FFPROBE = findBinary("ffprobe");
export const FFMPEG_INSTALL = "apt-get install ffmpeg";

export interface PatternOptions {
  /** WxH, default 320x180. */
  size?: string;
  /** Frames per second (and the GOP length, so one keyframe a second), default 15. */
  rate?: number;
  video?: boolean;
  audio?: boolean;
  /** Stop after this many seconds (default: until stopped). */
  seconds?: number;
}

/** ffmpeg input + encode arguments of the live test pattern. */
export function testPatternArgs(o: PatternOptions = {}): string[] {
  const size = o.size ?? "320x180";
  const rate = o.rate ?? 15;
  const video = o.video ?? true;
  const audio = o.audio ?? true;
  const args = ["-hide_banner", "-loglevel", "error", "-nostdin", "-re"];
  if (video) args.push("-f", "lavfi", "-i", `testsrc2=size=${size}:rate=${rate}`);
  if (audio) args.push("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000");
  if (o.seconds) args.push("-t", String(o.seconds));
  if (video)
    args.push(
      "-c:v",
      "libx264",
      "-preset",
      "ultrafast",
      "-tune",
      "zerolatency",
      "-g",
      String(rate),
      "-pix_fmt",
      "yuv420p",
    );
  if (audio) args.push("-c:a", "aac", "-b:a", "64k");
  return args;
}

export interface Publisher {
  readonly pid: number | undefined;
  /** Resolves with ffmpeg's exit code (null when a signal ended it). */
  readonly done: Promise<number | null>;
  /** SIGTERM (SIGKILL after 2 s), then waits for the exit. */
  stop(): Promise<void>;
  /** Sends a signal without waiting (`done` tells when it is gone). */
  kill(signal?: NodeJS.Signals): void;
  /** What ffmpeg printed on stderr so far (first 8000 characters). */
  stderr(): string;
}

/** `via`: a command that runs the binary elsewhere, e.g. `["ip", "netns", "exec", ns]`. */
function command(bin: string, args: string[], via: string[]): [string, string[]] {
  return via.length ? [via[0] as string, [...via.slice(1), bin, ...args]] : [bin, args];
}

/** Runs ffmpeg with these arguments as a Publisher (stderr kept for the error message). */
export function runFfmpeg(args: string[], via: string[] = []): Publisher {
  const [cmd, argv] = command(FFMPEG ?? "ffmpeg", args, via);
  const child: ChildProcess = spawn(cmd, argv, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d) => {
    if (stderr.length < 8000) stderr += d;
  });
  const done = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code));
    // A missing binary: report it as a failed run rather than an unhandled error event.
    child.once("error", (err) => {
      stderr += String(err);
      resolve(127);
    });
  });
  return {
    pid: child.pid,
    done,
    kill: (signal = "SIGTERM") => void child.kill(signal),
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 2000);
      await done;
      clearTimeout(t);
    },
  };
}

export interface PublishOptions extends PatternOptions {
  /** Container: flv for rtmp://, mpegts otherwise (the default follows the URL). */
  format?: "flv" | "mpegts";
  /** RTMP only: leave out onMetaData (some encoders send none). */
  metadata?: boolean;
  /** Run ffmpeg through this command (e.g. in a network namespace). */
  via?: string[];
}

/** Pushes the test pattern to `url` (rtmp://, srt://, udp://, tcp://). */
export function publish(url: string, o: PublishOptions = {}): Publisher {
  const format = o.format ?? (url.startsWith("rtmp") ? "flv" : "mpegts");
  const args = testPatternArgs(o);
  if (o.metadata === false) args.push("-flvflags", "no_metadata");
  args.push("-f", format);
  if (format === "mpegts" && url.startsWith("udp:")) args.push("-pkt_size", "1316");
  return runFfmpeg([...args, url], o.via);
}

/** A small, fast pattern for media tests: 160x90 over RTMP for `seconds`. */
export function publishRtmp(url: string, seconds = 6, o: PublishOptions = {}): Publisher {
  return publish(url, { size: "160x90", seconds, ...o, format: "flv" });
}

/** The small pattern as MPEG-TS over SRT (caller) with a passphrase. */
export function publishSrt(host: string, port: number, passphrase: string, seconds = 6): Publisher {
  const q = new URLSearchParams({ passphrase, pbkeylen: "16", mode: "caller" });
  return publish(`srt://${host}:${port}?${q}`, { size: "160x90", seconds, format: "mpegts" });
}

/** An ffmpeg SRT listener serving the small pattern to whoever connects (a pull source). */
export function serveSrtListener(port: number, seconds = 30): Publisher {
  return publish(`srt://127.0.0.1:${port}?mode=listener`, { size: "160x90", seconds, format: "mpegts" });
}

export interface ProbeStream {
  codec_name?: string;
  codec_type?: string;
  width?: number;
  height?: number;
}

/** ffprobe of a (live) URL: its streams, or none when it cannot be read within `timeoutMs`. */
export function probe(
  url: string,
  timeoutMs = 15_000,
  via: string[] = [],
): Promise<{ streams: ProbeStream[]; exitCode?: number }> {
  const args = [
    "-hide_banner",
    "-v",
    "error",
    "-rw_timeout",
    "8000000",
    "-show_entries",
    "stream=codec_name,codec_type,width,height",
    "-of",
    "json",
    url,
  ];
  return new Promise((resolve) => {
    const [cmd, argv] = command(FFPROBE ?? "ffprobe", args, via);
    const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout?.on("data", (d) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    const finish = (exitCode: number | undefined) => {
      clearTimeout(timer);
      let streams: ProbeStream[] = [];
      try {
        streams = (JSON.parse(out) as { streams?: ProbeStream[] }).streams ?? [];
      } catch {
        streams = [];
      }
      resolve({ streams, exitCode });
    };
    child.once("exit", (code) => finish(code ?? undefined));
    child.once("error", () => finish(127));
  });
}

/** A small ladder that transcodes fast on 2 cores: 320x180 + 160x90 at 15 fps, 1 s segments. */
export function smallLadder(name = "e2e small ladder") {
  return {
    name,
    renditions: [
      {
        name: "180p",
        codec: "h264",
        width: 320,
        height: 180,
        fps: 15,
        bitrateKbps: 400,
        preset: "ultrafast",
      },
      { name: "90p", codec: "h264", width: 160, height: 90, fps: 15, bitrateKbps: 150, preset: "ultrafast" },
    ],
    audio: { codec: "aac", bitrateKbps: 64, channels: 2, sampleRate: 48000 },
    segmentDuration: 1,
    windowSize: 6,
    formats: ["hls", "dash"],
    container: "fmp4",
  };
}
