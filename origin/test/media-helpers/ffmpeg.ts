/** Tiny real ffmpeg publishers and an ffprobe reader for media tests. */
import { execa, type ResultPromise } from "execa";

const TEST_INPUT = [
  "-re",
  "-f",
  "lavfi",
  "-i",
  "testsrc2=size=160x90:rate=15",
  "-f",
  "lavfi",
  "-i",
  "sine=frequency=440:sample_rate=48000",
];
const ENCODE = [
  "-c:v",
  "libx264",
  "-preset",
  "ultrafast",
  "-tune",
  "zerolatency",
  "-g",
  "15",
  "-pix_fmt",
  "yuv420p",
  "-c:a",
  "aac",
  "-b:a",
  "64k",
];

export interface Publisher {
  proc: ResultPromise;
  /** Resolves with the exit code. */
  done: Promise<number | undefined>;
  stop(): Promise<void>;
}

function wrap(proc: ResultPromise): Publisher {
  const done = proc.then(
    (r) => r.exitCode,
    () => undefined,
  );
  return {
    proc,
    done,
    async stop() {
      proc.kill("SIGTERM");
      await done;
    },
  };
}

function spawn(args: string[]): ResultPromise {
  return execa("ffmpeg", ["-hide_banner", "-nostdin", "-loglevel", "error", ...args], {
    reject: false,
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
    cleanup: true,
    forceKillAfterDelay: 2000,
  });
}

/** Publishes the test pattern for `seconds` to an RTMP URL. */
export function publishRtmp(url: string, seconds = 6): Publisher {
  return wrap(spawn([...TEST_INPUT, "-t", String(seconds), ...ENCODE, "-f", "flv", url]));
}

/** A 3 s RTMP publisher with only some tracks (and optionally no onMetaData), for the track report. */
export function publishTracks(
  url: string,
  o: { video: boolean; audio: boolean; metadata?: boolean },
): Publisher {
  const args = ["-re"];
  if (o.video) args.push("-f", "lavfi", "-i", "testsrc2=size=160x90:rate=15");
  if (o.audio) args.push("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000");
  args.push("-t", "3");
  if (o.video) args.push("-c:v", "libx264", "-preset", "ultrafast", "-g", "15", "-pix_fmt", "yuv420p");
  if (o.audio) args.push("-c:a", "aac", "-b:a", "64k");
  if (o.metadata === false) args.push("-flvflags", "no_metadata");
  return wrap(spawn([...args, "-f", "flv", url]));
}

/** Publishes the test pattern as MPEG-TS over SRT (caller). */
export function publishSrt(host: string, port: number, passphrase: string, seconds = 6): Publisher {
  const q = new URLSearchParams({ passphrase, pbkeylen: "16", mode: "caller" });
  return wrap(
    spawn([...TEST_INPUT, "-t", String(seconds), ...ENCODE, "-f", "mpegts", `srt://${host}:${port}?${q}`]),
  );
}

/** An ffmpeg SRT listener serving the test pattern to whoever connects (a pull source). */
export function serveSrtListener(port: number, seconds = 30): Publisher {
  return wrap(
    spawn([
      ...TEST_INPUT,
      "-t",
      String(seconds),
      ...ENCODE,
      "-f",
      "mpegts",
      `srt://127.0.0.1:${port}?mode=listener`,
    ]),
  );
}

export interface ProbeStream {
  codec_name?: string;
  codec_type?: string;
  width?: number;
  height?: number;
}

/** ffprobe of a live URL; reads a couple of seconds at most. */
export async function probe(
  url: string,
  timeoutMs = 15000,
): Promise<{ streams: ProbeStream[]; exitCode?: number }> {
  const r = await execa(
    "ffprobe",
    [
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
    ],
    { reject: false, timeout: timeoutMs, stdin: "ignore" },
  );
  let streams: ProbeStream[] = [];
  try {
    streams = (JSON.parse(String(r.stdout)) as { streams?: ProbeStream[] }).streams ?? [];
  } catch {
    streams = [];
  }
  return { streams, exitCode: r.exitCode };
}
