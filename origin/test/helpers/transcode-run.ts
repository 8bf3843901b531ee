/**
 * Runs a back end's command for a job, against a file or a live RTMP push through the embedded
 * media server, until it exits; for the behaviour suite that runs every back end through the same
 * cases. The live publisher is real ffmpeg in real time (`-re`): test pattern plus pink noise,
 * mono 44.1 kHz, so the ladder's 2 ch / 48 kHz audio needs a real resample, and the noise makes the
 * AAC encoder spend its whole bit rate (a sine wave leaves it ~15 % under).
 */

import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createLogger,
  newStreamId,
  newStreamKey,
  type ProfileSpec,
  sha256Hex,
  TIME_PATH,
  timeResponse,
} from "@dionysia/shared";
import { waitFor } from "@dionysia/shared/testkit";
import { execa } from "execa";
import { createKeyAuthority } from "../../src/auth/key-authority.ts";
import { EmbeddedMediaServer } from "../../src/media/embedded/index.ts";
import type { MediaStreamSpec, PublishEvent } from "../../src/media/types.ts";
import { LowLatencyRun } from "../../src/supervisor/low-latency.ts";
import { runTranscoder, type TranscoderExit } from "../../src/transcoder/process.ts";
import type { OutputLayout, TranscodeJob, TranscoderBackend } from "../../src/transcoder/types.ts";

const logger = createLogger({ service: "transcoder-suite", level: process.env.TEST_LOG ?? "silent" });

export interface SourceOptions {
  seconds: number;
  size?: string;
  rate?: number;
  video?: boolean;
  audio?: boolean;
}

function sourceArgs(o: SourceOptions): string[] {
  const args: string[] = [];
  const video = o.video ?? true;
  const audio = o.audio ?? true;
  if (video) args.push("-f", "lavfi", "-i", `testsrc2=size=${o.size ?? "320x180"}:rate=${o.rate ?? 30}`);
  if (audio) args.push("-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.2:sample_rate=44100");
  args.push("-t", String(o.seconds));
  if (video) {
    // One keyframe a second: passthrough segments can only cut there.
    const g = String(o.rate ?? 30);
    args.push(
      "-c:v",
      "libx264",
      "-preset",
      "ultrafast",
      "-tune",
      "zerolatency",
      "-g",
      g,
      "-pix_fmt",
      "yuv420p",
    );
  }
  if (audio) args.push("-c:a", "aac", "-b:a", "96k");
  return args;
}

/** A test-pattern file (as fast as ffmpeg can write it). */
export async function makeFile(dir: string, name: string, o: SourceOptions): Promise<string> {
  const f = join(dir, name);
  await execa("ffmpeg", ["-v", "error", "-y", ...sourceArgs(o), f]);
  return f;
}

/** The embedded RTMP server with one configured stream; `push` publishes to it in real time. */
export class LiveSource {
  private server: EmbeddedMediaServer | undefined;
  private readonly specs: MediaStreamSpec[] = [];
  private readonly events: PublishEvent[] = [];
  private readonly keys = new Map<string, string>();

  async start(): Promise<void> {
    this.server = new EmbeddedMediaServer({
      rtmpPort: 0,
      bindHost: "127.0.0.1",
      logger,
      authority: createKeyAuthority({ local: () => this.specs, nodeId: "suite", logger }),
    });
    this.server.onPublish((e) => this.events.push(e));
    await this.server.start();
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }

  /** Publishes `o` under a new stream; resolves with the local read URL once it is live. */
  async push(
    profile: ProfileSpec,
    o: SourceOptions,
  ): Promise<{ inputUrl: string; input?: TranscodeJob["input"]; done: Promise<unknown>; stop(): void }> {
    const server = this.server!;
    const id = newStreamId();
    const key = newStreamKey();
    this.keys.set(id, key);
    this.specs.push({ id, keyHash: sha256Hex(key), profile });
    await server.configure(this.specs);
    const pub = execa(
      "ffmpeg",
      [
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-re",
        ...sourceArgs(o),
        "-f",
        "flv",
        `rtmp://127.0.0.1:${server.rtmpPort()}/live/${key}`,
      ],
      { reject: false, stdin: "ignore", stdout: "ignore", stderr: "pipe", cleanup: true },
    );
    const ev = await waitFor("publish", () => this.events.find((e) => e.streamId === id), 20_000);
    // What the server read of the tracks (as the supervisor hands it to the back end).
    const t = ev.tracks;
    const input = t && {
      hasVideo: t.video,
      hasAudio: t.audio,
      ...(t.frameRate ? { frameRate: t.frameRate } : {}),
    };
    return { inputUrl: ev.inputUrl, ...(input ? { input } : {}), done: pub, stop: () => pub.kill("SIGKILL") };
  }
}

export interface Transcoded {
  outDir: string;
  layout: OutputLayout;
  exit: TranscoderExit;
  job: TranscodeJob;
}

let timeServer: ReturnType<typeof Bun.serve> | undefined;
/** A real time source (the origin's /time answer) for the manifests' <UTCTiming>: gpac's dasher
 * fetches it at start, players would too. */
export function suiteTimeUrl(): string {
  timeServer ??= Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => timeResponse(req.method, {}) });
  return `http://127.0.0.1:${timeServer.port}${TIME_PATH}`;
}

const suiteOutDir = (root: string | undefined, prefix: string) =>
  join(root ?? mkdtempSync(join(tmpdir(), prefix)), "out");

/** The suite's job for `profile` (stream "suite", run "r1"). */
function suiteJob(
  profile: ProfileSpec,
  inputUrl: string,
  outDir: string,
  input?: TranscodeJob["input"],
): TranscodeJob {
  return { streamId: "suite", profile, inputUrl, outDir, runId: "r1", ...(input ? { input } : {}) };
}

/** Runs the back end's command for a job until it exits on its own (end of input). */
export async function transcode(
  backend: TranscoderBackend,
  profile: ProfileSpec,
  inputUrl: string,
  o: { timeoutMs: number; input?: TranscodeJob["input"]; root?: string },
): Promise<Transcoded> {
  const outDir = suiteOutDir(o.root, `suite-${backend.name}-`);
  const job = { ...suiteJob(profile, inputUrl, outDir, o.input), utcTimingUrl: suiteTimeUrl() };
  const layout = backend.layout(job);
  for (const d of layout.dirs) mkdirSync(join(outDir, d), { recursive: true });
  const proc = runTranscoder(backend.buildCommand(job), { secret: inputUrl, logger });
  const timer = setTimeout(() => void proc.stop(1000), o.timeoutMs);
  const exit = await proc.exited;
  clearTimeout(timer);
  return { outDir, layout, exit, job };
}

export interface TranscodedLowLatency extends Transcoded {
  ll: LowLatencyRun;
}

/**
 * A low-latency job (`ll-hls`): the back end's command with its CMAF pipes, read by the
 * supervisor's packagers (LowLatencyRun) into `outDir`, until the input ends.
 */
export async function transcodeLowLatency(
  backend: TranscoderBackend,
  profile: ProfileSpec,
  inputUrl: string,
  o: { timeoutMs: number; root?: string; input?: TranscodeJob["input"] },
): Promise<TranscodedLowLatency> {
  const outDir = suiteOutDir(o.root, `suite-ll-${backend.name}-`);
  const job = suiteJob(profile, inputUrl, outDir, o.input);
  const layout = backend.layout(job);
  // The back end's own folder (gpac's named pipes go there); the packagers write beside it.
  mkdirSync(outDir, { recursive: true });
  const ll = new LowLatencyRun(job, layout, outDir);
  const proc = runTranscoder(backend.buildCommand(job), {
    secret: inputUrl,
    logger,
    ...(layout.cmaf ? { cmaf: layout.cmaf } : {}),
  });
  const consumed = ll.consume(proc.pipes, logger);
  const timer = setTimeout(() => void proc.stop(1000), o.timeoutMs);
  const exit = await proc.exited;
  clearTimeout(timer);
  await consumed;
  return { outDir, layout, exit, job, ll };
}
