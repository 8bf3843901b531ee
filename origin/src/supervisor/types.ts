/** The supervisor's options and its per-stream bookkeeping, shared by its modules. */
import type { DesiredStream, Logger, ProfileSpec, StreamStatusValue } from "@dionysia/shared";
import type { MediaServer } from "../media/types.ts";
import type { OriginMetrics } from "../metrics/index.ts";
import type { Recording } from "../recording/recording.ts";
import type { RunningTranscoder } from "../transcoder/process.ts";
import type { OutputLayout, TranscodeJob, TranscoderBackend, TranscoderStats } from "../transcoder/types.ts";
import type { LowLatencyRun } from "./low-latency.ts";
import type { ProgressSample } from "./overload.ts";
import type { RunManifest, ServedPlaylist } from "./served.ts";

export interface StreamStatusEvent {
  id: string;
  status: StreamStatusValue;
  lastError?: string;
  stats: TranscoderStats;
  /** Why the session's recording stopped (a full disk) while the live stream goes on. */
  recordingError?: string;
  /** Rendition names served now (the desired profile's less any shed rung), while a run exists. */
  renditions?: string[];
}

export interface SupervisorOptions {
  dataDir: string;
  backend: TranscoderBackend;
  mediaServer: MediaServer;
  logger: Logger;
  metrics?: OriginMetrics;
  /** This node's id (named in the asset reports of recordings). */
  nodeId?: string;
  /** Recordings stop taking segments when the data dir's disk has less free than this (bytes). */
  recordingMinFreeBytes?: number;
  /** Named in every DASH manifest's `<UTCTiming>` (DASH_UTC_TIMING_URL, default PUBLIC_URL/time). */
  utcTimingUrl?: string;
  /** Restart back-off: initial delay, doubled per consecutive failure up to max. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Stall = no new segment for stallFactor × segment duration (plus startup grace before the first). */
  stallFactor?: number;
  startupGraceMs?: number;
  /** How long a stopped stream's files stay (players finishing the window). Default 2 × window. */
  cleanupGraceMs?: number;
  pollMs?: number;
  /** A run whose encoder speed over the last window is below this is slow (default 0.9). */
  slowBelow?: number;
  /** Speed window (default max(8 s, 4 segments)). */
  speedWindowMs?: number;
  /** Time at a shed level before the step back is considered (default 30 s; doubles on relapse). */
  recoverHoldMs?: number;
  /**
   * Probe the input for audio/video before starting, when the publish event carries no `tracks`;
   * false to trust the profile.
   */
  probeInput?: boolean | ((url: string) => Promise<{ hasVideo: boolean; hasAudio: boolean } | undefined>);
}

/** Options with their defaults filled in. */
export type ResolvedOptions = Required<
  Omit<
    SupervisorOptions,
    "metrics" | "probeInput" | "speedWindowMs" | "utcTimingUrl" | "nodeId" | "recordingMinFreeBytes"
  >
> &
  SupervisorOptions;

/** CPU counters at one moment: this run's process and the whole host (all cores, ms). */
export interface CpuSample {
  at: number;
  own: number | undefined;
  hostIdleMs: number;
  hostTotalMs: number;
}

/** One running transcoder process and what it was started for. */
export interface Run {
  proc: RunningTranscoder;
  /** As started: `profile` is the served (possibly shed) one, `outDir` the run's own folder. */
  job: TranscodeJob;
  layout: OutputLayout;
  /** The run folder relative to the stream folder (`run-{runId}`). */
  dir: string;
  startedAt: number;
  lastSegmentAt?: number;
  /** Last time the encoder's output time advanced. */
  lastProgressAt?: number;
  progress: ProgressSample[];
  cpu: CpuSample[];
  ends: Map<string, number>;
  /** Segments this run has written (all playlists). */
  segments: number;
  masterWritten: boolean;
  stopping: boolean;
  /** Why the supervisor ended it: stuck (restart with back-off), or shed/recover (restart now). */
  killedFor?: "stall" | "shed" | "recover";
  slowLogged?: boolean;
  profileKey: string;
  /** A low-latency job's packagers (the transcoder writes CMAF chunks to them, not files). */
  ll?: LowLatencyRun;
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
  /** Shed level (overload.ts): 0 = the desired ladder. */
  level: number;
  shedAt: number;
  holdMs: number;
  lastRecoverAt?: number;
  /** Served rendition names of the current or last run. */
  renditions?: string[];
  /** Served media playlists by path, and the DASH Periods of recent runs. */
  served: Map<string, ServedPlaylist>;
  manifests: RunManifest[];
  /** The newest low-latency run's packagers: they serve its playlists until the next run's do. */
  ll?: LowLatencyRun;
  /** Folders of ended runs (relative to the stream folder) → when they ended. */
  retired: Map<string, number>;
  restartTimer?: ReturnType<typeof setTimeout>;
  cleanupTimer?: ReturnType<typeof setTimeout>;
  /** Its input dropped: the reconnect window runs until `until` (status `reconnecting`). */
  reconnect?: { until: number; timer: ReturnType<typeof setTimeout> };
  /** The stream ended (ENDLIST written): the next publish starts new playlists. */
  ended?: boolean;
  /** Where this session's first playlists here went on from (another node's numbers, ADR 0091). */
  continueFrom?: { mediaSequence: number; discontinuitySequence: number };
  /** The session's recording, while the stream records (ADR 0095). */
  recording?: Recording;
}

/** What a run's lifecycle and output watch need from the supervisor. */
export interface RunContext {
  readonly o: ResolvedOptions;
  isStopped(): boolean;
  setStatus(e: Entry, status: StreamStatusValue, lastError?: string): void;
  /** The desired (unshed) profile of a stream, while it is desired. */
  desiredProfile(id: string): ProfileSpec | undefined;
  /** The stream's desired entry (role, profile, record, policy), while it is desired. */
  desiredSpec(id: string): DesiredStream | undefined;
  /** A recording may take more segments (free disk above RECORDING_MIN_FREE_MB); cached briefly. */
  diskRoom(): Promise<boolean>;
  /** Re-decides one stream (after a back-off delay, for instance). */
  reconcile(id: string): void;
  /** Number of running transcoders changed. */
  updateActive(): void;
}
