/**
 * One stream's transcode lifecycle: start (input tracks, the run's own folder, spawn), unexpected
 * exit (status `error`, restart after exponential back-off), restarts the supervisor asked for
 * (shed or recover a rung: at once, status kept) and stop. A back end is judged by what it wrote:
 * an exit without a single segment is an error carrying its log, whatever the exit code.
 */
import { mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { DesiredStream } from "@dionysia/shared";
import type { PublishEvent } from "../media/types.ts";
import { planOutputs } from "../transcoder/plan.ts";
import { runTranscoder, type TranscoderExit } from "../transcoder/process.ts";
import type { TranscodeJob } from "../transcoder/types.ts";
import { LowLatencyRun } from "./low-latency.ts";
import { record } from "./outputs.ts";
import { shedProfile } from "./overload.ts";
import { probeInput } from "./probe.ts";
import type { Entry, ResolvedOptions, Run, RunContext } from "./types.ts";

/** A running transcoder is restarted when this changes. */
export const profileKey = (s: DesiredStream) => JSON.stringify(s.profile);

/** Terminal colour and cursor codes (gpac colours its errors): not for a status message. */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[ -/]*[@-~]`, "g");
export const stripAnsi = (s: string) => s.replace(ANSI, "");

/** What the input carries: as the media server reported it, else probed (unless disabled). */
async function inputTracks(o: ResolvedOptions, input: PublishEvent): Promise<TranscodeJob["input"]> {
  // The embedded RTMP server already parsed the tracks: no ffprobe, the transcoder starts now.
  if (input.tracks) {
    const { video, audio, frameRate } = input.tracks;
    return { hasVideo: video, hasAudio: audio, ...(frameRate ? { frameRate } : {}) };
  }
  if (o.probeInput === false) return undefined;
  if (typeof o.probeInput === "function") return o.probeInput(input.inputUrl);
  return probeInput(input.inputUrl);
}

export const streamDir = (o: ResolvedOptions, id: string) => join(o.dataDir, "live", id);

export async function startRun(
  ctx: RunContext,
  e: Entry,
  spec: DesiredStream,
  input: PublishEvent,
): Promise<void> {
  const { o } = ctx;
  const gen = ++e.gen;
  e.starting = true;
  if (e.cleanupTimer) {
    clearTimeout(e.cleanupTimer);
    e.cleanupTimer = undefined;
  }
  if (e.ended) {
    // A new session after the last one ended: new playlists (players saw ENDLIST on the old ones).
    e.ended = false;
    e.continueFrom = undefined;
    e.served.clear();
    e.ll = undefined;
    e.manifests = [];
  }
  // A restart the supervisor chose (shed, recover) keeps the stream live: players go on reading.
  // So does a streamer back within the reconnect window: its playlists are served until the new
  // run's segments join them, so routers must keep sending viewers here (not a 503 for `starting`).
  if (e.status !== "live" && e.status !== "reconnecting") ctx.setStatus(e, "starting");
  const log = o.logger.child({ streamId: e.id });
  const runId = Date.now().toString(36);
  const dir = `run-${runId}`;
  const outDir = streamDir(o, e.id);
  const job: TranscodeJob = {
    streamId: e.id,
    profile: shedProfile(spec.profile, e.level),
    inputUrl: input.inputUrl,
    outDir: join(outDir, dir),
    runId,
    ...(o.utcTimingUrl ? { utcTimingUrl: o.utcTimingUrl } : {}),
  };
  try {
    const probe = await inputTracks(o, input);
    if (probe) job.input = probe;
    if (e.gen !== gen || ctx.isStopped()) return;
    const layout = o.backend.layout(job);
    const cmd = o.backend.buildCommand(job);
    const served = o.backend.layout({ ...job, profile: spec.profile, outDir });
    // Low latency: the packagers write straight into the served folders, the run's id in each name.
    const ll = layout.cmaf
      ? new LowLatencyRun(job, layout, outDir, e.ll, e.ll ? undefined : spec.continueFrom)
      : undefined;
    if (e.served.size === 0 && !e.ll) {
      // A fresh stream: nothing of an earlier process (an origin restart) is continued.
      await rm(join(outDir, layout.master), { force: true });
      if (served.dash) await rm(join(outDir, served.dash), { force: true });
    }
    await mkdir(job.outDir, { recursive: true });
    await Promise.all(layout.dirs.map((d) => mkdir(join(job.outDir, d), { recursive: true })));
    const playlists = [
      ...served.variants.map((v) => v.playlist),
      ...(served.audio ? [served.audio.playlist] : []),
    ];
    await Promise.all(playlists.map((p) => mkdir(dirname(join(outDir, p)), { recursive: true })));
    if (e.gen !== gen || ctx.isStopped()) return;
    // Progress counters (out_time, frames) start again with the process.
    e.stats = {};
    e.renditions = planOutputs(job).video.map((r) => r.name);
    let run: Run | undefined;
    const proc = runTranscoder(cmd, {
      secret: input.inputUrl,
      logger: log,
      ...(layout.cmaf ? { cmaf: layout.cmaf } : {}),
      onStats: (s) => {
        e.stats = { ...e.stats, ...s };
        if (run) {
          const now = Date.now();
          const last = run.progress[run.progress.length - 1];
          const out = s.outTimeSec;
          if (out !== undefined && out > 0 && (!last || out > last.outSec)) {
            run.lastProgressAt = now;
            run.progress.push({ at: now, outSec: out });
          } else if (!last) {
            // Before the first output a report alone shows life: the encoders fill their pipelines
            // (x264's lookahead), and ffmpeg reports nothing while its input read blocks.
            run.lastProgressAt = now;
          }
        }
        if (s.speed !== undefined) o.metrics?.encoderSpeed.set({ stream: e.id }, s.speed);
        if (s.fps !== undefined) o.metrics?.encoderFps.set({ stream: e.id }, s.fps);
      },
    });
    run = {
      proc,
      job,
      layout,
      dir,
      startedAt: Date.now(),
      progress: [],
      cpu: [],
      ends: new Map(),
      segments: 0,
      masterWritten: false,
      stopping: false,
      profileKey: profileKey(spec),
      ...(ll ? { ll } : {}),
    };
    if (ll) {
      e.ll = ll;
      // A recording keeps each segment as it completes (ADR 0095).
      ll.onSegment = (playlist, seg) => void record(ctx, e, playlist, [seg]);
      void ll.consume(proc.pipes, log);
    }
    e.run = run;
    e.starting = false;
    ctx.updateActive();
    // A shed or recover restart keeps the status `live`: tell listeners the new served renditions
    // now (otherwise they come with the next status change).
    if (e.status === "live") ctx.setStatus(e, "live");
    log.info(
      { backend: o.backend.name, pid: proc.pid, runId, level: e.level, renditions: e.renditions },
      "transcoder started",
    );
    const started = run;
    void proc.exited.then((exit) => handleExit(ctx, e, started, exit));
  } catch (err) {
    e.starting = false;
    if (e.gen !== gen) return;
    // A job that cannot be built (e.g. nothing to transcode) will not fix itself by retrying.
    log.error({ err: (err as Error).message }, "transcoder could not start");
    ctx.setStatus(e, "error", (err as Error).message);
  }
}

/** The status message for an exit nobody asked for (pure). */
export function exitMessage(
  exit: TranscoderExit,
  wroteSegments: boolean,
  stall?: { factor: number; segmentDuration: number },
): string {
  if (stall) return `stalled: no output in ${stall.factor} x ${stall.segmentDuration}s`;
  const tail = stripAnsi(exit.stderrTail).split("\n").filter(Boolean).slice(-5).join(" | ");
  const how = `code ${exit.code}, signal ${exit.signal}`;
  if (!wroteSegments) {
    return `transcoder exited (${how}) without writing any playlist or segment${tail ? `: ${tail}` : ""}`;
  }
  return `transcoder exited (${how})${tail ? `: ${tail}` : ""}`;
}

function handleExit(ctx: RunContext, e: Entry, run: Run, exit: TranscoderExit): void {
  const { o } = ctx;
  if (e.run === run) e.run = undefined;
  e.retired.set(run.dir, Date.now());
  ctx.updateActive();
  if (run.stopping || ctx.isStopped()) return;
  if (run.killedFor === "shed" || run.killedFor === "recover") {
    // Asked for by the overload handling: start the new ladder now, no back-off.
    ctx.reconcile(e.id);
    return;
  }
  const reason = run.killedFor ?? (run.segments === 0 ? "no_output" : "crash");
  const msg = exitMessage(
    exit,
    run.segments > 0,
    reason === "stall"
      ? { factor: o.stallFactor, segmentDuration: run.job.profile.segmentDuration }
      : undefined,
  );
  o.metrics?.transcoderRestarts.inc({ stream: e.id, reason });
  const delay = Math.min(o.backoffMaxMs, o.backoffInitialMs * 2 ** e.failures);
  e.failures++;
  o.logger.warn({ streamId: e.id, reason, delayMs: delay, failures: e.failures }, msg.slice(0, 500));
  ctx.setStatus(e, "error", msg.slice(0, 2000));
  e.restartTimer = setTimeout(() => {
    e.restartTimer = undefined;
    ctx.reconcile(e.id);
  }, delay);
}

export async function stopRun(ctx: RunContext, e: Entry): Promise<void> {
  const run = e.run;
  if (!run) return;
  run.stopping = true;
  await run.proc.stop();
  if (e.run === run) e.run = undefined;
  ctx.updateActive();
  ctx.o.logger.info({ streamId: e.id }, "transcoder stopped");
}
