/**
 * The supervisor reconciles running transcoders to what is desired and what is live:
 * a stream runs when it is desired on this node (role origin or transcode) and its input is live.
 * One run's lifecycle (start, back-off, stop) is in run.ts, the output watch (served playlists,
 * master, stuck/slow judgement) in outputs.ts with its rules in overload.ts and served.ts, status
 * events in status.ts. It removes a stream's files after a grace period when its publisher leaves.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import {
  type DesiredStream,
  profileCost,
  SAFE_ID,
  type StreamStats,
  type StreamStatusValue,
} from "@dionysia/shared";
import type { StreamUsage } from "../agent/capacity-correction.ts";
import type { MediaStreamSpec, PublishEvent } from "../media/types.ts";
import { processCpuSeconds } from "../proc-cpu.ts";
import type { AssetMeta } from "../recording/recording.ts";
import { listAssets, removeAsset, removeUnfinished } from "../recording/store.ts";
import type { LowLatencyRun } from "./low-latency.ts";
import { endServed, flushRun, watchRun } from "./outputs.ts";
import { diskRoomCheck, finishRecording } from "./recording.ts";
import { profileKey, startRun, stopRun } from "./run.ts";
import { newEntry, StatusEvents } from "./status.ts";
import type { Entry, ResolvedOptions, RunContext, StreamStatusEvent, SupervisorOptions } from "./types.ts";

export type { StreamStatusEvent, SupervisorOptions } from "./types.ts";

const RUNNABLE_ROLES = new Set(["origin", "transcode"]);

export class Supervisor {
  private desired = new Map<string, DesiredStream>();
  /** Authorized by control at publish time, not yet in the desired state (until next setDesired). */
  private provisional = new Map<string, DesiredStream>();
  private inputs = new Map<string, PublishEvent>();
  private entries = new Map<string, Entry>();
  private readonly assetListeners = new Set<(a: AssetMeta) => void>();
  private readonly events: StatusEvents;
  private unsubscribe: (() => void)[] = [];
  private poller?: ReturnType<typeof setInterval>;
  private polling = false;
  private stopped = false;
  private readonly o: ResolvedOptions;
  private readonly ctx: RunContext;

  constructor(opts: SupervisorOptions) {
    this.o = {
      backoffInitialMs: 1000,
      backoffMaxMs: 30_000,
      stallFactor: 3,
      startupGraceMs: 15_000,
      cleanupGraceMs: 0,
      pollMs: 250,
      slowBelow: 0.9,
      recoverHoldMs: 30_000,
      ...opts,
    };
    this.events = new StatusEvents(this.o.logger);
    this.ctx = {
      o: this.o,
      isStopped: () => this.stopped,
      setStatus: (e, status, lastError) => this.events.set(e, status, lastError),
      desiredProfile: (id) => this.specOf(id)?.profile,
      desiredSpec: (id) => this.specOf(id),
      diskRoom: diskRoomCheck(opts.dataDir, opts.recordingMinFreeBytes),
      reconcile: (id) => this.reconcile(id),
      updateActive: () => this.updateActive(),
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
    // A recording an earlier process left mid-session cannot be finished: its folder goes.
    void removeUnfinished(this.vodRoot);
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
    return this.events.on(cb);
  }

  /** A recording became an asset (ADR 0095): its report, for the agent to publish. */
  onAsset(cb: (a: AssetMeta) => void): () => void {
    this.assetListeners.add(cb);
    return () => this.assetListeners.delete(cb);
  }

  /** The assets this node holds (vod/), as reported when they were made. */
  assets(): Promise<AssetMeta[]> {
    return listAssets(this.vodRoot);
  }

  /** Removes an asset's files (control deleted it); false for a bad id. */
  async removeAsset(id: string): Promise<boolean> {
    const ok = await removeAsset(this.vodRoot, id);
    if (ok) this.o.logger.info({ assetId: id }, "asset removed");
    return ok;
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
      const at = this.position(e);
      if (at) {
        s.nextMediaSequence = at.next;
        s.discontinuitySequence = at.discontinuity;
      }
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

  /** Cumulative CPU and media seconds of each running transcoder (capacity correction, ADR 0044). */
  usage(): StreamUsage[] {
    const out: StreamUsage[] = [];
    for (const e of this.entries.values()) {
      if (!e.run) continue;
      out.push({
        id: e.id,
        runId: e.run.job.runId ?? "0",
        cost: profileCost(e.run.job.profile),
        cpuSeconds: processCpuSeconds(e.run.proc.pid),
        mediaSeconds: e.stats.outTimeSec,
      });
    }
    return out;
  }

  /** A low-latency stream's packagers (the origin's HTTP serves its playlists from them). */
  lowLatencyRun(id: string): LowLatencyRun | undefined {
    return this.entries.get(id)?.ll;
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
        if (e.reconnect) clearTimeout(e.reconnect.timer);
        await stopRun(this.ctx, e);
      }),
    );
  }

  // ---------------------------------------------------------------------------------------------

  /** Where the stream's playlists stand (the numbers a node taking it over goes on from). */
  private position(e: Entry): { next: number; discontinuity: number } | undefined {
    if (e.ll) return { next: e.ll.nextMsn(), discontinuity: e.ll.discontinuitySequence };
    let at: { next: number; discontinuity: number } | undefined;
    for (const pl of e.served.values()) {
      const p = pl.position();
      if (!at || p.next > at.next) at = p;
    }
    return at;
  }

  private get vodRoot(): string {
    return join(this.o.dataDir, "vod");
  }

  private async finishRecording(e: Entry, spec: DesiredStream | undefined): Promise<void> {
    const meta = await finishRecording(this.o, e, spec);
    if (meta) for (const l of this.assetListeners) l(meta);
  }

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
      srtPort: s.srtPort,
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
      e = newEntry(id);
      this.entries.set(id, e);
    }
    return e;
  }

  private reconcile(id: string): void {
    if (this.stopped) return;
    const spec = this.specOf(id);
    const input = this.inputs.get(id);
    const want = Boolean(spec && input && RUNNABLE_ROLES.has(spec.role));
    const e = this.entry(id);
    if (want && spec && input) {
      if (e.reconnect) {
        clearTimeout(e.reconnect.timer);
        e.reconnect = undefined;
        // One asset for every publish within the window.
        if (e.recording) e.recording.sessions++;
        this.o.logger.info({ streamId: id }, "input back within the reconnect window; playlists go on");
      }
      if (e.run && (e.run.profileKey !== profileKey(spec) || e.run.job.inputUrl !== input.inputUrl)) {
        // Profile or input changed: restart on the new settings (the whole new ladder).
        e.level = 0;
        const gen = ++e.gen;
        void stopRun(this.ctx, e).then(() => {
          if (e.gen === gen) this.reconcile(id);
        });
        return;
      }
      if (!e.run && !e.starting && !e.restartTimer) void startRun(this.ctx, e, spec, input);
      return;
    }
    e.gen++;
    if (e.restartTimer) {
      clearTimeout(e.restartTimer);
      e.restartTimer = undefined;
    }
    e.starting = false;
    e.failures = 0;
    // The next publish starts with the whole ladder; shedding starts over if the host is still short.
    e.level = 0;
    if (spec && RUNNABLE_ROLES.has(spec.role) && this.awaitReconnect(e, spec)) return;
    if (e.reconnect) {
      clearTimeout(e.reconnect.timer);
      e.reconnect = undefined;
    }
    // The stream ends here (no input and no window left, or not desired): its playlists say so.
    const wasUp = e.status !== "idle" || e.run !== undefined;
    if (e.ll) e.ll.endList = true;
    const run = e.run;
    const profile = run?.job.profile ?? spec?.profile;
    const gen = e.gen;
    void stopRun(this.ctx, e).then(async () => {
      if (run) await flushRun(this.ctx, e, run);
      if (wasUp && (e.served.size > 0 || e.ll) && !e.run && !e.starting) {
        e.ended = true;
        await endServed(this.ctx, e);
        await this.finishRecording(e, spec);
      }
      if (profile && (run || wasUp)) this.scheduleCleanup(e, profile.segmentDuration, profile.windowSize);
      // A publish that came while the run was stopping is started now.
      if (run && e.gen === gen && this.inputs.has(e.id)) this.reconcile(e.id);
    });
    this.events.set(e, "idle");
    if (!spec && !e.run) this.o.metrics?.encoderSpeed.remove({ stream: id });
  }

  /**
   * Its input dropped while it was up: `reconnecting` for the stream's window (from control's
   * desired state; absent: 0), the transcoder stopped, every playlist kept open so viewers wait
   * for the streamer instead of seeing the end. False when no window applies (or it is over).
   */
  private awaitReconnect(e: Entry, spec: DesiredStream): boolean {
    const ms = (spec.reconnectWindowSeconds ?? 0) * 1000;
    const now = Date.now();
    if (e.reconnect) return now < e.reconnect.until;
    const up = e.run !== undefined || e.status === "live" || e.status === "starting" || e.status === "error";
    if (ms <= 0 || !up) return false;
    // A publish that comes back while this run is still stopping finds it there and waits: it
    // is looked at again once the run is gone.
    const gen = e.gen;
    const run = e.run;
    void stopRun(this.ctx, e)
      .then(() => (run ? flushRun(this.ctx, e, run) : undefined))
      .then(() => {
        if (e.gen === gen) this.reconcile(e.id);
      });
    e.reconnect = {
      until: now + ms,
      timer: setTimeout(() => {
        if (e.reconnect) e.reconnect.until = 0;
        this.reconcile(e.id);
      }, ms),
    };
    this.o.logger.info({ streamId: e.id, windowSeconds: ms / 1000 }, "input gone; reconnect window open");
    this.events.set(e, "reconnecting");
    return true;
  }

  private scheduleCleanup(e: Entry, segmentDuration: number, windowSize = 6): void {
    if (e.run || e.starting || this.stopped) return;
    const grace = this.o.cleanupGraceMs || segmentDuration * windowSize * 2 * 1000;
    if (e.cleanupTimer) clearTimeout(e.cleanupTimer);
    e.cleanupTimer = setTimeout(() => {
      e.cleanupTimer = undefined;
      if (e.run || e.starting) return;
      // The files go: so do the served playlists' windows (the next publish starts new ones).
      e.served.clear();
      e.ll = undefined;
      e.manifests = [];
      e.retired.clear();
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
      await Promise.all(
        [...this.entries.values()].map((e) => (e.run ? watchRun(this.ctx, e, e.run) : undefined)),
      );
    } finally {
      this.polling = false;
    }
  }
}
