/** The supervisor's options and its per-stream bookkeeping, shared by its modules. */
import type { Logger, StreamStatusValue } from "@dionysia/shared";
import type { MediaServer } from "../media/types.ts";
import type { OriginMetrics } from "../metrics/index.ts";
import type { RunningTranscoder } from "../transcoder/process.ts";
import type { OutputLayout, TranscodeJob, TranscoderBackend, TranscoderStats } from "../transcoder/types.ts";

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

/** Options with their defaults filled in. */
export type ResolvedOptions = Required<Omit<SupervisorOptions, "metrics" | "probeInput">> & SupervisorOptions;

/** One running transcoder process and what it was started for. */
export interface Run {
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

/** Everything the supervisor keeps about one stream. */
export interface Entry {
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

/** What a run's lifecycle and output watch need from the supervisor. */
export interface RunContext {
  readonly o: ResolvedOptions;
  isStopped(): boolean;
  setStatus(e: Entry, status: StreamStatusValue, lastError?: string): void;
  /** Re-decides one stream (after a back-off delay, for instance). */
  reconcile(id: string): void;
  /** Number of running transcoders changed. */
  updateActive(): void;
}
