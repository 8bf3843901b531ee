/**
 * One stream's transcode lifecycle: start (input tracks, output folders, spawn), unexpected exit
 * (status `error`, restart after exponential back-off) and stop.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { DesiredStream } from "@dionysia/shared";
import type { PublishEvent } from "../media/types.ts";
import { runTranscoder, type TranscoderExit } from "../transcoder/process.ts";
import type { TranscodeJob } from "../transcoder/types.ts";
import { probeInput } from "./probe.ts";
import type { Entry, ResolvedOptions, Run, RunContext } from "./types.ts";

/** A running transcoder is restarted when this changes. */
export const profileKey = (s: DesiredStream) => JSON.stringify(s.profile);

/** What the input carries: as the media server reported it, else probed (unless disabled). */
async function inputTracks(o: ResolvedOptions, input: PublishEvent): Promise<TranscodeJob["input"]> {
  // The embedded RTMP server already parsed the tracks: no ffprobe, the transcoder starts now.
  if (input.tracks) return { hasVideo: input.tracks.video, hasAudio: input.tracks.audio };
  if (o.probeInput === false) return undefined;
  if (typeof o.probeInput === "function") return o.probeInput(input.inputUrl);
  return probeInput(input.inputUrl);
}

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
  ctx.setStatus(e, "starting");
  const log = o.logger.child({ streamId: e.id });
  const job: TranscodeJob = {
    streamId: e.id,
    profile: spec.profile,
    inputUrl: input.inputUrl,
    outDir: join(o.dataDir, "live", e.id),
    runId: Date.now().toString(36),
  };
  try {
    const probe = await inputTracks(o, input);
    if (probe) job.input = probe;
    if (e.gen !== gen || ctx.isStopped()) return;
    const layout = o.backend.layout(job);
    const cmd = o.backend.buildCommand(job);
    await mkdir(job.outDir, { recursive: true });
    await Promise.all(layout.dirs.map((d) => mkdir(join(job.outDir, d), { recursive: true })));
    // A master from an earlier run would point players at playlists about to be replaced.
    await rm(join(job.outDir, layout.master), { force: true });
    if (e.gen !== gen || ctx.isStopped()) return;
    // Progress counters (out_time, frames) start again with the process.
    e.stats = {};
    const proc = runTranscoder(cmd, {
      secret: input.inputUrl,
      logger: log,
      onStats: (s) => {
        e.stats = { ...e.stats, ...s };
        if (s.speed !== undefined) o.metrics?.encoderSpeed.set({ stream: e.id }, s.speed);
        if (s.fps !== undefined) o.metrics?.encoderFps.set({ stream: e.id }, s.fps);
      },
    });
    const run: Run = {
      proc,
      job,
      layout,
      startedAt: Date.now(),
      ends: new Map(),
      masterWritten: false,
      stopping: false,
      profileKey: profileKey(spec),
    };
    e.run = run;
    e.starting = false;
    ctx.updateActive();
    log.info({ backend: o.backend.name, pid: proc.pid, runId: job.runId }, "transcoder started");
    void proc.exited.then((exit) => handleExit(ctx, e, run, exit));
  } catch (err) {
    e.starting = false;
    if (e.gen !== gen) return;
    // A job that cannot be built (e.g. nothing to transcode) will not fix itself by retrying.
    log.error({ err: (err as Error).message }, "transcoder could not start");
    ctx.setStatus(e, "error", (err as Error).message);
  }
}

function handleExit(ctx: RunContext, e: Entry, run: Run, exit: TranscoderExit): void {
  const { o } = ctx;
  if (e.run === run) e.run = undefined;
  ctx.updateActive();
  if (run.stopping || ctx.isStopped()) return;
  const reason = run.killedFor ?? "crash";
  const msg =
    reason === "stall"
      ? `stalled: no new segment in ${o.stallFactor} x ${run.job.profile.segmentDuration}s`
      : `transcoder exited (code ${exit.code}, signal ${exit.signal})${exit.stderrTail ? `: ${exit.stderrTail.split("\n").slice(-3).join(" | ")}` : ""}`;
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
