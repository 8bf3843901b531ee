/**
 * A running transcoder's outputs: each poll reads the run's media playlists, carries new segments
 * into the served playlists and DASH manifest (served.ts), writes the master once every served
 * rung of the run has a segment (status `live`), judges the run (overload.ts: stuck → restart
 * with back-off, slow → shed a step, healthy at a shed level with CPU to spare → recover a step)
 * and removes folders of ended runs once nothing served lists them.
 */
import { readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { dirname, join, posix } from "node:path";
import { profileCost } from "@dionysia/shared";
import { processCpuSeconds, usableCores } from "../proc-cpu.ts";
import { Recording } from "../recording/recording.ts";
import { buildMasterPlaylist, masterFromProfile, type ProbedVariant } from "../transcoder/master.ts";
import type { OutputLayout } from "../transcoder/types.ts";
import {
  canRecover,
  classifyRun,
  maxShedLevel,
  shedProfile,
  trimSamples,
  windowedSpeed,
} from "./overload.ts";
import { parseMediaPlaylist } from "./playlist.ts";
import { probeSegment } from "./probe.ts";
import { streamDir } from "./run.ts";
import { composeManifest, readRunManifest, ServedPlaylist, type ServedSegment } from "./served.ts";
import type { CpuSample, Entry, Run, RunContext } from "./types.ts";

type PlaylistInfo = ReturnType<typeof parseMediaPlaylist>;

/** Served path ← run path, for every served playlist this run feeds (a shed rung: the top rung). */
function feeds(run: Run, served: OutputLayout): [string, string][] {
  const out: [string, string][] = [];
  const top = run.layout.variants[0];
  for (const v of served.variants) {
    const own = run.layout.variants.find((x) => x.rendition.name === v.rendition.name) ?? top;
    if (own) out.push([v.playlist, own.playlist]);
  }
  if (served.audio && run.layout.audio) out.push([served.audio.playlist, run.layout.audio.playlist]);
  return out;
}

async function writeAtomic(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

/** A recording stream's new segments go into its session's recording (ADR 0095). */
export async function record(
  ctx: RunContext,
  e: Entry,
  servedPath: string,
  segs: ServedSegment[],
): Promise<void> {
  if (!ctx.desiredSpec(e.id)?.record) return;
  const log = ctx.o.logger.child({ streamId: e.id });
  e.recording ??= new Recording(join(ctx.o.dataDir, "vod"), streamDir(ctx.o, e.id), e.id);
  const r = e.recording;
  if (r.stopped) return;
  if (!(await ctx.diskRoom())) {
    r.stopped = "the disk is nearly full";
    log.error({ assetId: r.id }, "recording stopped: the disk is nearly full; the live stream goes on");
    ctx.setStatus(e, e.status, `recording stopped: ${r.stopped}`);
    return;
  }
  try {
    await r.add(servedPath, segs);
  } catch (err) {
    r.stopped = (err as Error).message;
    log.error({ assetId: r.id, err: r.stopped }, "recording stopped: a segment could not be kept");
    ctx.setStatus(e, e.status, `recording stopped: ${r.stopped}`);
  }
}

/** The stream ended: every served media playlist gets `EXT-X-ENDLIST` (written once more). */
export async function endServed(ctx: RunContext, e: Entry): Promise<void> {
  const outDir = streamDir(ctx.o, e.id);
  await Promise.all(
    [...e.served.values()].map((pl) => {
      pl.ended = true;
      return writeAtomic(join(outDir, pl.path), pl.render()).catch(() => undefined);
    }),
  );
}

function hostCpu(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const c of cpus()) {
    idle += c.times.idle;
    total += c.times.user + c.times.nice + c.times.sys + c.times.irq + c.times.idle;
  }
  return { idle, total };
}

/** Cores this run used and cores idle on the host over the samples' span (undefined: too short). */
function cpuOver(samples: CpuSample[], minMs: number): { own: number; idle: number } | undefined {
  const a = samples[0];
  const b = samples[samples.length - 1];
  if (!a || !b || b.at - a.at < minMs || a.own === undefined || b.own === undefined) return undefined;
  const wall = (b.at - a.at) / 1000;
  const n = usableCores();
  const dTotal = b.hostTotalMs - a.hostTotalMs;
  const idleFraction = dTotal > 0 ? (b.hostIdleMs - a.hostIdleMs) / dTotal : 0;
  return { own: (b.own - a.own) / wall, idle: idleFraction * n };
}

/**
 * A stopped run's last segments: its encoder wrote them as it exited (the segment in progress,
 * closed), after the output watch last looked. They go into the served playlists (and the
 * recording) before the stream waits for its streamer or ends.
 */
export async function flushRun(ctx: RunContext, e: Entry, run: Run): Promise<void> {
  if (run.ll) return; // the packagers saw every byte themselves
  const { job, layout } = run;
  const outDir = streamDir(ctx.o, e.id);
  const servedLayout = ctx.o.backend.layout({
    ...job,
    profile: ctx.desiredProfile(e.id) ?? job.profile,
    outDir,
  });
  const infos = new Map<string, PlaylistInfo>();
  for (const p of [
    ...layout.variants.map((v) => v.playlist),
    ...(layout.audio ? [layout.audio.playlist] : []),
  ])
    infos.set(p, parseMediaPlaylist(await readFile(join(job.outDir, p), "utf8").catch(() => "")));
  await publishServed(ctx, e, run, servedLayout, infos).catch((err) =>
    ctx.o.logger.warn(
      { streamId: e.id, err: (err as Error).message },
      "last segments of a stopped run not served",
    ),
  );
}

export async function watchRun(ctx: RunContext, e: Entry, run: Run): Promise<void> {
  const { o } = ctx;
  const { layout, job } = run;
  const outDir = streamDir(o, e.id);
  const full = ctx.desiredProfile(e.id) ?? job.profile;
  const servedLayout = o.backend.layout({ ...job, profile: full, outDir });
  const runPlaylists = [
    ...layout.variants.map((v) => v.playlist),
    ...(layout.audio ? [layout.audio.playlist] : []),
  ];
  let ready = runPlaylists.length > 0;
  let fresh = 0;
  const infos = new Map<string, PlaylistInfo>();
  if (run.ll) {
    // The packagers count what they wrote; their playlists are served from memory.
    ready = run.ll.ready();
    fresh = Math.max(0, run.ll.segments() - run.segments);
  }
  for (const p of run.ll ? [] : runPlaylists) {
    const text = await readFile(join(job.outDir, p), "utf8").catch(() => "");
    const info = parseMediaPlaylist(text);
    infos.set(p, info);
    if (info.segments.length === 0) {
      ready = false;
      continue;
    }
    const end = info.mediaSequence + info.segments.length;
    const prev = run.ends.get(p) ?? info.mediaSequence;
    if (end > prev) fresh += end - prev;
    run.ends.set(p, end);
  }
  if (run.stopping || e.run !== run) return;
  const now = Date.now();
  if (fresh > 0) {
    run.lastSegmentAt = now;
    run.segments += fresh;
    e.segments += fresh;
    o.metrics?.segmentsWritten.inc({ stream: e.id }, fresh);
    if (!run.ll) await publishServed(ctx, e, run, servedLayout, infos);
  }
  if (ready && !run.masterWritten) {
    run.masterWritten = true;
    try {
      await writeMaster(run, servedLayout, infos, outDir);
      if (e.run === run && !run.stopping) {
        e.failures = 0;
        ctx.setStatus(e, "live");
      }
    } catch (err) {
      run.masterWritten = false;
      o.logger.warn({ streamId: e.id, err: (err as Error).message }, "master playlist not written yet");
    }
  }
  judge(ctx, e, run, now, full);
  if (fresh > 0 && e.segments % 10 < fresh) void sweepRuns(ctx, e);
}

/** Stuck, slow or healthy: restart, shed or recover (see overload.ts). */
function judge(ctx: RunContext, e: Entry, run: Run, now: number, full: Run["job"]["profile"]): void {
  const { o } = ctx;
  if (run.killedFor || run.stopping) return;
  const segMs = run.job.profile.segmentDuration * 1000;
  const windowMs = o.speedWindowMs ?? Math.max(8000, 4 * segMs);
  const last = run.cpu[run.cpu.length - 1];
  if (!last || now - last.at >= 1000) {
    const h = hostCpu();
    run.cpu.push({ at: now, own: processCpuSeconds(run.proc.pid), hostIdleMs: h.idle, hostTotalMs: h.total });
    while (run.cpu.length > 2 && run.cpu[1]!.at < now - windowMs) run.cpu.shift();
  }
  trimSamples(run.progress, now, windowMs);
  const speed = windowedSpeed(run.progress, now, windowMs);
  const health = classifyRun({
    now,
    startedAt: run.startedAt,
    lastSegmentAt: run.lastSegmentAt,
    lastProgressAt: run.lastProgressAt,
    speed,
    segmentDurationSec: run.job.profile.segmentDuration,
    stallFactor: o.stallFactor,
    startupGraceMs: o.startupGraceMs,
    slowBelow: o.slowBelow,
  });
  const cpu = cpuOver(run.cpu, windowMs * 0.8);
  const log = o.logger.child({ streamId: e.id });
  if (health === "stuck") {
    run.killedFor = "stall";
    log.warn(
      { sinceMs: now - (run.lastSegmentAt ?? run.startedAt) },
      "transcoder stuck (no output); restarting",
    );
    void run.proc.stop(500);
    return;
  }
  if (health === "slow") {
    // Behind real time because the CPU is short, not because the input is: shed a step.
    const cpuBound = !cpu || cpu.idle < Math.max(0.5, 0.1 * usableCores());
    if (!cpuBound) return;
    if (e.level >= maxShedLevel(full)) {
      if (!run.slowLogged) log.warn({ speed, level: e.level }, "transcoder slow at its lightest ladder");
      run.slowLogged = true;
      return;
    }
    // A relapse soon after a recovery doubles the time before the next try (hysteresis).
    const base = o.recoverHoldMs;
    e.holdMs =
      e.lastRecoverAt !== undefined && now - e.lastRecoverAt < 2 * Math.max(e.holdMs, base)
        ? Math.min(10 * 60_000, Math.max(e.holdMs, base) * 2)
        : base;
    e.level++;
    e.shedAt = now;
    run.killedFor = "shed";
    const next = shedProfile(full, e.level).renditions.map((r) => r.name);
    log.warn(
      {
        speed: speed === undefined ? undefined : Math.round(speed * 100) / 100,
        level: e.level,
        renditions: next,
        cpu,
      },
      "transcoder slower than real time; shedding a step",
    );
    o.metrics?.transcoderRestarts.inc({ stream: e.id, reason: "shed" });
    void run.proc.stop(500);
    return;
  }
  if (e.level > 0 && cpu && run.masterWritten) {
    const fits = canRecover({
      now,
      shedAt: e.shedAt,
      holdMs: e.holdMs || o.recoverHoldMs,
      ownCores: cpu.own,
      idleCores: cpu.idle,
      costNow: profileCost(shedProfile(full, e.level)),
      costBack: profileCost(shedProfile(full, e.level - 1)),
      margin: 0.8,
    });
    if (!fits) return;
    e.level--;
    e.shedAt = now;
    e.lastRecoverAt = now;
    run.killedFor = "recover";
    log.info({ level: e.level, cpu }, "CPU to spare; recovering a shed step");
    o.metrics?.transcoderRestarts.inc({ stream: e.id, reason: "recover" });
    void run.proc.stop(500);
  }
}

/** Carries the run's new segments into the served playlists and the DASH manifest. */
async function publishServed(
  ctx: RunContext,
  e: Entry,
  run: Run,
  served: OutputLayout,
  infos: Map<string, PlaylistInfo>,
): Promise<void> {
  const outDir = streamDir(ctx.o, e.id);
  const window = run.job.profile.windowSize ?? 6;
  const writes: Promise<void>[] = [];
  for (const [servedPath, runPath] of feeds(run, served)) {
    const info = infos.get(runPath);
    if (!info || info.segments.length === 0) continue;
    let pl = e.served.get(servedPath);
    if (!pl) {
      // The stream's first playlists here: a session taken over from another node goes on from it.
      const from = e.served.size === 0 ? ctx.desiredSpec(e.id)?.continueFrom : undefined;
      pl = new ServedPlaylist(servedPath, window, run.job.profile.segmentDuration, from ?? e.continueFrom);
      if (from) e.continueFrom = from;
      e.served.set(servedPath, pl);
    }
    const sourceDir = posix.join(run.dir, posix.dirname(runPath));
    if (pl.ingest(`${run.dir}/${runPath}`, run.job.runId ?? "0", sourceDir, info) > 0) {
      // Kept before the served playlist names them: the encoder deletes its files as it slides.
      await record(ctx, e, servedPath, pl.lastAdded);
      writes.push(writeAtomic(join(outDir, servedPath), pl.render()));
    }
  }
  if (run.layout.dash && served.dash) {
    const text = await readFile(join(run.job.outDir, run.layout.dash), "utf8").catch(() => "");
    const m = readRunManifest(run.job.runId ?? "0", run.dir, text);
    if (m) {
      const i = e.manifests.findIndex((x) => x.runId === m.runId);
      if (i >= 0) e.manifests[i] = m;
      else e.manifests.push(m);
      // Earlier runs' Periods go once every served playlist has only this run's segments.
      const onlyThis = [...e.served.values()].every((p) => p.runs().size === 1 && p.runs().has(m.runId));
      if (onlyThis) e.manifests = [m];
      writes.push(writeAtomic(join(outDir, served.dash), composeManifest(e.manifests)));
    }
  }
  await Promise.all(writes);
}

async function writeMaster(
  run: Run,
  served: OutputLayout,
  infos: Map<string, PlaylistInfo>,
  outDir: string,
): Promise<void> {
  const { layout, job } = run;
  const probed: Record<string, ProbedVariant> = {};
  const copies = layout.variants
    .filter((v) => v.rendition.codec === "copy")
    .map((v) => [v.rendition.name, v.playlist]);
  if (job.profile.audio?.codec === "copy" && layout.audio) copies.push(["audio", layout.audio.playlist]);
  for (const [name, playlist] of copies) {
    const info = infos.get(playlist!);
    if (!info?.segments[0]) continue;
    const base = dirname(join(job.outDir, playlist!));
    const files = [...(info.mapUri ? [join(base, info.mapUri)] : []), join(base, info.segments[0])];
    probed[name!] = await probeSegment(files, info.durations[0] ?? job.profile.segmentDuration);
  }
  // Only the rungs this run serves, at their served (stable) playlist paths.
  const masterLayout: OutputLayout = {
    ...served,
    variants: layout.variants.map((v) => ({
      rendition: v.rendition,
      playlist: served.variants.find((s) => s.rendition.name === v.rendition.name)?.playlist ?? v.playlist,
    })),
    audio: layout.audio ? served.audio : undefined,
  };
  const text = buildMasterPlaylist(masterFromProfile(job.profile, masterLayout, probed));
  await writeAtomic(join(outDir, layout.master), text);
}

/** Removes folders of ended runs once no served playlist or manifest lists them, after a grace. */
async function sweepRuns(ctx: RunContext, e: Entry): Promise<void> {
  const run = e.run;
  if (!run) return;
  const graceMs = run.job.profile.segmentDuration * (run.job.profile.windowSize ?? 6) * 2 * 1000;
  const listed = new Set<string>();
  for (const p of e.served.values()) for (const r of p.runs()) listed.add(`run-${r}`);
  for (const m of e.manifests) listed.add(`run-${m.runId}`);
  const now = Date.now();
  const outDir = streamDir(ctx.o, e.id);
  const names = await readdir(outDir).catch(() => [] as string[]);
  for (const n of names) {
    if (!n.startsWith("run-") || n === run.dir || listed.has(n)) continue;
    const ended = e.retired.get(n);
    // A folder no run of this supervisor knows (an earlier origin process): as old as can be.
    if (ended !== undefined && now - ended < graceMs) continue;
    e.retired.delete(n);
    await rm(join(outDir, n), { recursive: true, force: true });
  }
}
