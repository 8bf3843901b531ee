/**
 * A running transcoder's outputs: reads the media playlists each poll, counts new segments, writes
 * the master once every playlist has a segment (status `live`), kills a stalled process, and sweeps
 * segments older runs left behind.
 */
import { readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { buildMasterPlaylist, masterFromProfile, type ProbedVariant } from "../transcoder/master.ts";
import { parseMediaPlaylist, playlistEnd } from "./playlist.ts";
import { probeSegment } from "./probe.ts";
import type { Entry, Run, RunContext } from "./types.ts";

type PlaylistInfo = ReturnType<typeof parseMediaPlaylist>;

export async function watchRun(ctx: RunContext, e: Entry, run: Run): Promise<void> {
  const { o } = ctx;
  const { layout, job } = run;
  const playlists = [
    ...layout.variants.map((v) => v.playlist),
    ...(layout.audio ? [layout.audio.playlist] : []),
  ];
  let ready = playlists.length > 0;
  let fresh = 0;
  const infos = new Map<string, PlaylistInfo>();
  for (const p of playlists) {
    const text = await readFile(join(job.outDir, p), "utf8").catch(() => "");
    const info = parseMediaPlaylist(text);
    infos.set(p, info);
    if (info.segments.length === 0) {
      ready = false;
      continue;
    }
    const end = playlistEnd(info);
    const prev = run.ends.get(p) ?? info.mediaSequence;
    if (end > prev) fresh += end - prev;
    run.ends.set(p, end);
  }
  if (run.stopping || e.run !== run) return;
  const now = Date.now();
  if (fresh > 0) {
    run.lastSegmentAt = now;
    e.segments += fresh;
    o.metrics?.segmentsWritten.inc({ stream: e.id }, fresh);
  }
  if (ready && !run.masterWritten) {
    run.masterWritten = true;
    try {
      await writeMaster(run, infos);
      if (e.run === run && !run.stopping) {
        e.failures = 0;
        ctx.setStatus(e, "live");
      }
    } catch (err) {
      run.masterWritten = false;
      o.logger.warn({ streamId: e.id, err: (err as Error).message }, "master playlist not written yet");
    }
  }
  const segMs = job.profile.segmentDuration * 1000;
  const since = run.lastSegmentAt ?? run.startedAt;
  const limit = o.stallFactor * segMs + (run.lastSegmentAt ? 0 : o.startupGraceMs);
  if (now - since > limit && !run.killedFor) {
    run.killedFor = "stall";
    o.logger.warn({ streamId: e.id, sinceMs: now - since }, "transcoder stalled; restarting");
    void run.proc.stop(500);
  }
  if (fresh > 0 && e.segments % 20 < fresh) void sweep(run);
}

async function writeMaster(run: Run, infos: Map<string, PlaylistInfo>): Promise<void> {
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
  const text = buildMasterPlaylist(masterFromProfile(job.profile, layout, probed));
  const target = join(job.outDir, layout.master);
  await writeFile(`${target}.tmp`, text);
  await rename(`${target}.tmp`, target);
}

/** Deletes segments left by earlier runs of this stream once no playlist can list them. */
async function sweep(run: Run): Promise<void> {
  const maxAge = run.job.profile.segmentDuration * (run.job.profile.windowSize ?? 6) * 2 * 1000;
  const now = Date.now();
  for (const d of run.layout.dirs) {
    const dir = join(run.job.outDir, d);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const n of names) {
      if (n.includes(`-${run.job.runId}`) || !/\.(m4s|ts|mp4)$/.test(n)) continue;
      const st = await stat(join(dir, n)).catch(() => undefined);
      if (st && now - st.mtimeMs > maxAge) await rm(join(dir, n), { force: true });
    }
  }
}
