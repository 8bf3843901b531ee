/**
 * The supervisor reconciles running transcoders to what is desired and what is live:
 * a stream runs when it is desired on this node (role origin or transcode) and its input is live.
 * It restarts crashed or stalled transcoders with exponential back-off, writes the master playlist
 * once the first segments exist (status `live`), and removes a stream's files after a grace period
 * when its publisher leaves.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  type DesiredStream,
  type Logger,
  profileCost,
  SAFE_ID,
  type StreamStats,
  type StreamStatusValue,
} from "@dionysia/shared";
import type { MediaServer, MediaStreamSpec, PublishEvent } from "../media/types.ts";
import type { OriginMetrics } from "../metrics/index.ts";
import { buildMasterPlaylist, masterFromProfile, type ProbedVariant } from "../transcoder/master.ts";
import { type RunningTranscoder, runTranscoder, type TranscoderExit } from "../transcoder/process.ts";
import type { OutputLayout, TranscodeJob, TranscoderBackend, TranscoderStats } from "../transcoder/types.ts";
import { parseMediaPlaylist, playlistEnd } from "./playlist.ts";
import { probeInput, probeSegment } from "./probe.ts";

export interface StreamStatusEvent {
  id: string;
  status: StreamStatusValue;
  lastError?: string;
  stats: TranscoderStats;
}

export interface SupervisorOptions {
  dataDir: string;
  backend: TranscoderBackend;
  mediaServer: MediaServer;
  logger: Logger;
  metrics?: OriginMetrics;
  /** Restart back-off: initial delay, doubled per consecutive failure up to max. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Stall = no new segment for stallFactor × segment duration (plus startup grace before the first). */
  stallFactor?: number;
  startupGraceMs?: number;
  /** How long a stopped stream's files stay (players finishing the window). Default 2 × window. */
  cleanupGraceMs?: number;
  pollMs?: number;
  /**
   * Probe the input for audio/video before starting, when the publish event carries no `tracks`;
   * false to trust the profile.
   */
  probeInput?: boolean | ((url: string) => Promise<{ hasVideo: boolean; hasAudio: boolean } | undefined>);
}

interface Run {
  proc: RunningTranscoder;
  job: TranscodeJob;
  layout: OutputLayout;
  startedAt: number;
  lastSegmentAt?: number;
  ends: Map<string, number>;
  masterWritten: boolean;
  stopping: boolean;
  killedFor?: "stall";
  profileKey: string;
}

interface Entry {
  id: string;
  status: StreamStatusValue;
  lastError?: string;
  stats: TranscoderStats;
  segments: number;
  failures: number;
  run?: Run;
  /** Bumped on every start/stop decision: async work from an older decision is dropped. */
  gen: number;
  starting: boolean;
  restartTimer?: ReturnType<typeof setTimeout>;
  cleanupTimer?: ReturnType<typeof setTimeout>;
}

const RUNNABLE_ROLES = new Set(["origin", "transcode"]);
const profileKey = (s: DesiredStream) => JSON.stringify(s.profile);

export class Supervisor {
  private desired = new Map<string, DesiredStream>();
  /** Authorized by control at publish time, not yet in the desired state (until next setDesired). */
  private provisional = new Map<string, DesiredStream>();
  private inputs = new Map<string, PublishEvent>();
  private entries = new Map<string, Entry>();
  private listeners = new Set<(e: StreamStatusEvent) => void>();
  private unsubscribe: (() => void)[] = [];
  private poller?: ReturnType<typeof setInterval>;
  private polling = false;
  private stopped = false;
  private readonly o: Required<Omit<SupervisorOptions, "metrics" | "probeInput">> & SupervisorOptions;

  constructor(opts: SupervisorOptions) {
    this.o = {
      backoffInitialMs: 1000,
      backoffMaxMs: 30_000,
      stallFactor: 3,
      startupGraceMs: 15_000,
      cleanupGraceMs: 0,
      pollMs: 250,
      ...opts,
    };
  }

  /** Subscribes to the media server and starts watching outputs. */
  start(): void {
    const ms = this.o.mediaServer;
    this.unsubscribe.push(ms.onPublish((e) => this.handlePublish(e)));
    this.unsubscribe.push(
      ms.onUnpublish((e) => {
        this.inputs.delete(e.streamId);
        this.o.logger.info({ streamId: e.streamId, reason: e.reason }, "input gone");
        this.reconcile(e.streamId);
      }),
    );
    for (const e of ms.active()) this.handlePublish(e);
    this.poller = setInterval(() => void this.poll(), this.o.pollMs);
  }

  /** Replaces the desired set (declarative) and tells the media server what to accept or pull. */
  async setDesired(streams: DesiredStream[]): Promise<void> {
    this.desired = new Map(streams.filter((s) => SAFE_ID.test(s.id)).map((s) => [s.id, s]));
    this.provisional.clear();
    await this.configureMediaServer();
    const ids = new Set([...this.entries.keys(), ...this.desired.keys()]);
    for (const id of ids) this.reconcile(id);
  }

  onStatus(cb: (e: StreamStatusEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  status(id: string): StreamStatusValue {
    return this.entries.get(id)?.status ?? "idle";
  }

  lastError(id: string): string | undefined {
    return this.entries.get(id)?.lastError;
  }

  /** Per-stream stats for telemetry; `load` is the profile cost while a transcoder runs. */
  stats(): StreamStats[] {
    const out: StreamStats[] = [];
    for (const [id, e] of this.entries) {
      const spec = this.specOf(id);
      if (!spec && !e.run) continue;
      const s: StreamStats = { id, status: e.status, segments: e.segments };
      if (spec) s.role = spec.role;
      if (e.run) {
        s.load = profileCost(e.run.job.profile);
        if (e.stats.bitrateKbps !== undefined) s.bitrateKbps = e.stats.bitrateKbps;
        if (e.stats.fps !== undefined) s.fps = e.stats.fps;
        if (e.stats.speed !== undefined) s.speed = e.stats.speed;
      }
      out.push(s);
    }
    return out;
  }

  /** Load units in use (sum of running profiles' costs). */
  loadUsed(): number {
    let sum = 0;
    for (const e of this.entries.values()) if (e.run) sum += profileCost(e.run.job.profile);
    return Math.round(sum * 1000) / 1000;
  }

  /** Running transcoder processes (tests check them for orphans). */
  processes(): { id: string; pid: number | undefined }[] {
    return [...this.entries.values()].filter((e) => e.run).map((e) => ({ id: e.id, pid: e.run?.proc.pid }));
  }

  /** Stops every transcoder and timer; resolves when the processes are gone. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    await Promise.all(
      [...this.entries.values()].map(async (e) => {
        e.gen++;
        if (e.restartTimer) clearTimeout(e.restartTimer);
        if (e.cleanupTimer) clearTimeout(e.cleanupTimer);
        await this.stopRun(e);
      }),
    );
  }

  // ---------------------------------------------------------------------------------------------

  private specOf(id: string): DesiredStream | undefined {
    return this.desired.get(id) ?? this.provisional.get(id);
  }

  private handlePublish(e: PublishEvent): void {
    if (!SAFE_ID.test(e.streamId)) {
      this.o.logger.warn({ streamId: e.streamId.slice(0, 80) }, "publish with unsafe stream id dropped");
      return;
    }
    this.inputs.set(e.streamId, e);
    if (!this.desired.has(e.streamId) && e.profile && e.keyHash) {
      this.provisional.set(e.streamId, {
        id: e.streamId,
        role: "origin",
        profile: e.profile,
        keyHash: e.keyHash,
      });
    }
    this.o.logger.info({ streamId: e.streamId, protocol: e.protocol }, "input live");
    this.reconcile(e.streamId);
  }

  private async configureMediaServer(): Promise<void> {
    const specs: MediaStreamSpec[] = [...this.desired.values(), ...this.provisional.values()].map((s) => ({
      id: s.id,
      keyHash: s.keyHash,
      srtPassphrase: s.srtPassphrase,
      source: s.source ?? null,
      pullFrom: s.pullFrom,
      profile: s.profile,
    }));
    try {
      await this.o.mediaServer.configure(specs);
    } catch (err) {
      this.o.logger.error({ err: (err as Error).message }, "media server configure failed");
    }
  }

  private entry(id: string): Entry {
    let e = this.entries.get(id);
    if (!e) {
      e = { id, status: "idle", stats: {}, segments: 0, failures: 0, gen: 0, starting: false };
      this.entries.set(id, e);
    }
    return e;
  }

  private setStatus(e: Entry, status: StreamStatusValue, lastError?: string): void {
    if (lastError !== undefined) e.lastError = lastError;
    if (e.status === status && lastError === undefined) return;
    e.status = status;
    this.o.logger.info({ streamId: e.id, status }, "stream status");
    const ev: StreamStatusEvent = { id: e.id, status, stats: { ...e.stats, segmentsWritten: e.segments } };
    if (e.lastError && status === "error") ev.lastError = e.lastError;
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch (err) {
        this.o.logger.error({ err: (err as Error).message }, "status listener threw");
      }
    }
  }

  private reconcile(id: string): void {
    if (this.stopped) return;
    const spec = this.specOf(id);
    const input = this.inputs.get(id);
    const want = Boolean(spec && input && RUNNABLE_ROLES.has(spec.role));
    const e = this.entry(id);
    if (want && spec && input) {
      if (e.run && (e.run.profileKey !== profileKey(spec) || e.run.job.inputUrl !== input.inputUrl)) {
        // Profile or input changed: restart on the new settings.
        const gen = ++e.gen;
        void this.stopRun(e).then(() => {
          if (e.gen === gen) this.reconcile(id);
        });
        return;
      }
      if (!e.run && !e.starting && !e.restartTimer) void this.startRun(e, spec, input);
      return;
    }
    e.gen++;
    if (e.restartTimer) {
      clearTimeout(e.restartTimer);
      e.restartTimer = undefined;
    }
    e.starting = false;
    e.failures = 0;
    if (e.run) {
      const profile = e.run.job.profile;
      void this.stopRun(e).then(() => this.scheduleCleanup(e, profile.segmentDuration, profile.windowSize));
    }
    this.setStatus(e, "idle");
    if (!spec && !e.run) this.o.metrics?.encoderSpeed.remove({ stream: id });
  }

  private async startRun(e: Entry, spec: DesiredStream, input: PublishEvent): Promise<void> {
    const gen = ++e.gen;
    e.starting = true;
    if (e.cleanupTimer) {
      clearTimeout(e.cleanupTimer);
      e.cleanupTimer = undefined;
    }
    this.setStatus(e, "starting");
    const log = this.o.logger.child({ streamId: e.id });
    const job: TranscodeJob = {
      streamId: e.id,
      profile: spec.profile,
      inputUrl: input.inputUrl,
      outDir: join(this.o.dataDir, "live", e.id),
      runId: Date.now().toString(36),
    };
    try {
      const probe = await this.inputTracks(input);
      if (probe) job.input = probe;
      if (e.gen !== gen || this.stopped) return;
      const layout = this.o.backend.layout(job);
      const cmd = this.o.backend.buildCommand(job);
      await mkdir(job.outDir, { recursive: true });
      await Promise.all(layout.dirs.map((d) => mkdir(join(job.outDir, d), { recursive: true })));
      // A master from an earlier run would point players at playlists about to be replaced.
      await rm(join(job.outDir, layout.master), { force: true });
      if (e.gen !== gen || this.stopped) return;
      const proc = runTranscoder(cmd, {
        secret: input.inputUrl,
        logger: log,
        onStats: (s) => {
          e.stats = { ...e.stats, ...s };
          if (s.speed !== undefined) this.o.metrics?.encoderSpeed.set({ stream: e.id }, s.speed);
          if (s.fps !== undefined) this.o.metrics?.encoderFps.set({ stream: e.id }, s.fps);
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
      this.updateActive();
      log.info({ backend: this.o.backend.name, pid: proc.pid, runId: job.runId }, "transcoder started");
      void proc.exited.then((exit) => this.handleExit(e, run, exit));
    } catch (err) {
      e.starting = false;
      if (e.gen !== gen) return;
      // A job that cannot be built (e.g. nothing to transcode) will not fix itself by retrying.
      log.error({ err: (err as Error).message }, "transcoder could not start");
      this.setStatus(e, "error", (err as Error).message);
    }
  }

  /** What the input carries: as the media server reported it, else probed (unless disabled). */
  private async inputTracks(input: PublishEvent): Promise<TranscodeJob["input"]> {
    // The embedded RTMP server already parsed the tracks: no ffprobe, the transcoder starts now.
    if (input.tracks) return { hasVideo: input.tracks.video, hasAudio: input.tracks.audio };
    if (this.o.probeInput === false) return undefined;
    if (typeof this.o.probeInput === "function") return this.o.probeInput(input.inputUrl);
    return probeInput(input.inputUrl);
  }

  private handleExit(e: Entry, run: Run, exit: TranscoderExit): void {
    if (e.run === run) e.run = undefined;
    this.updateActive();
    if (run.stopping || this.stopped) return;
    const reason = run.killedFor ?? "crash";
    const msg =
      reason === "stall"
        ? `stalled: no new segment in ${this.o.stallFactor} x ${run.job.profile.segmentDuration}s`
        : `transcoder exited (code ${exit.code}, signal ${exit.signal})${exit.stderrTail ? `: ${exit.stderrTail.split("\n").slice(-3).join(" | ")}` : ""}`;
    this.o.metrics?.transcoderRestarts.inc({ stream: e.id, reason });
    const delay = Math.min(this.o.backoffMaxMs, this.o.backoffInitialMs * 2 ** e.failures);
    e.failures++;
    this.o.logger.warn({ streamId: e.id, reason, delayMs: delay, failures: e.failures }, msg.slice(0, 500));
    this.setStatus(e, "error", msg.slice(0, 2000));
    e.restartTimer = setTimeout(() => {
      e.restartTimer = undefined;
      this.reconcile(e.id);
    }, delay);
  }

  private async stopRun(e: Entry): Promise<void> {
    const run = e.run;
    if (!run) return;
    run.stopping = true;
    await run.proc.stop();
    if (e.run === run) e.run = undefined;
    this.updateActive();
    this.o.logger.info({ streamId: e.id }, "transcoder stopped");
  }

  private scheduleCleanup(e: Entry, segmentDuration: number, windowSize = 6): void {
    if (e.run || e.starting || this.stopped) return;
    const grace = this.o.cleanupGraceMs || segmentDuration * windowSize * 2 * 1000;
    if (e.cleanupTimer) clearTimeout(e.cleanupTimer);
    e.cleanupTimer = setTimeout(() => {
      e.cleanupTimer = undefined;
      if (e.run || e.starting) return;
      void rm(join(this.o.dataDir, "live", e.id), { recursive: true, force: true });
      if (!this.specOf(e.id)) this.entries.delete(e.id);
    }, grace);
  }

  private updateActive(): void {
    let n = 0;
    for (const e of this.entries.values()) if (e.run) n++;
    this.o.metrics?.activeStreams.set(n);
  }

  private async poll(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    try {
      await Promise.all([...this.entries.values()].map((e) => (e.run ? this.watch(e, e.run) : undefined)));
    } finally {
      this.polling = false;
    }
  }

  /** Reads the media playlists: counts new segments, writes the master once, detects stalls. */
  private async watch(e: Entry, run: Run): Promise<void> {
    const { layout, job } = run;
    const playlists = [
      ...layout.variants.map((v) => v.playlist),
      ...(layout.audio ? [layout.audio.playlist] : []),
    ];
    let ready = playlists.length > 0;
    let fresh = 0;
    const infos = new Map<string, ReturnType<typeof parseMediaPlaylist>>();
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
      this.o.metrics?.segmentsWritten.inc({ stream: e.id }, fresh);
    }
    if (ready && !run.masterWritten) {
      run.masterWritten = true;
      try {
        await this.writeMaster(run, infos);
        if (e.run === run && !run.stopping) {
          e.failures = 0;
          this.setStatus(e, "live");
        }
      } catch (err) {
        run.masterWritten = false;
        this.o.logger.warn(
          { streamId: e.id, err: (err as Error).message },
          "master playlist not written yet",
        );
      }
    }
    const segMs = job.profile.segmentDuration * 1000;
    const since = run.lastSegmentAt ?? run.startedAt;
    const limit = this.o.stallFactor * segMs + (run.lastSegmentAt ? 0 : this.o.startupGraceMs);
    if (now - since > limit && !run.killedFor) {
      run.killedFor = "stall";
      this.o.logger.warn({ streamId: e.id, sinceMs: now - since }, "transcoder stalled; restarting");
      void run.proc.stop(500);
    }
    if (fresh > 0 && e.segments % 20 < fresh) void this.sweep(run);
  }

  private async writeMaster(
    run: Run,
    infos: Map<string, ReturnType<typeof parseMediaPlaylist>>,
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
    const text = buildMasterPlaylist(masterFromProfile(job.profile, layout, probed));
    const target = join(job.outDir, layout.master);
    await writeFile(`${target}.tmp`, text);
    await rename(`${target}.tmp`, target);
  }

  /** Deletes segments left by earlier runs of this stream once no playlist can list them. */
  private async sweep(run: Run): Promise<void> {
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
}
