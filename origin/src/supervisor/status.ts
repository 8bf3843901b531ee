/** Stream status: the per-stream entry, and status events to listeners (the MQTT agent). */
import type { Logger, StreamStatusValue } from "@dionysia/shared";
import type { Entry, StreamStatusEvent } from "./types.ts";

export function newEntry(id: string): Entry {
  return {
    id,
    status: "idle",
    stats: {},
    segments: 0,
    failures: 0,
    gen: 0,
    starting: false,
    level: 0,
    shedAt: 0,
    holdMs: 0,
    served: new Map(),
    manifests: [],
    retired: new Map(),
  };
}

export class StatusEvents {
  private readonly listeners = new Set<(e: StreamStatusEvent) => void>();

  constructor(private readonly logger: Logger) {}

  on(cb: (e: StreamStatusEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private readonly told = new Map<string, string | undefined>();

  /** Records the status (and error) and tells listeners when it or the served renditions changed. */
  set(e: Entry, status: StreamStatusValue, lastError?: string): void {
    if (lastError !== undefined) e.lastError = lastError;
    const names = status === "idle" ? undefined : e.renditions?.join(",");
    if (e.status === status && lastError === undefined && this.told.get(e.id) === names) return;
    e.status = status;
    this.told.set(e.id, names);
    this.logger.info({ streamId: e.id, status, renditions: names }, "stream status");
    const ev: StreamStatusEvent = { id: e.id, status, stats: { ...e.stats, segmentsWritten: e.segments } };
    if (names !== undefined && e.renditions) ev.renditions = [...e.renditions];
    if (e.lastError && status === "error") ev.lastError = e.lastError;
    if (e.recording?.stopped) ev.recordingError = e.recording.stopped;
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch (err) {
        this.logger.error({ err: (err as Error).message }, "status listener threw");
      }
    }
  }
}
