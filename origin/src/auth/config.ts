/** Wrong stream keys per source address (ADR 0035); spread into the media config. */
import { v } from "@dionysia/shared";

/** On by default: of the order of 20 wrong keys a minute per address (ADR 0035). */
export const DEFAULT_KEY_FAILURES = { limit: 20, windowMs: 60_000 } as const;

export const ingestLimitConfigSpecs = {
  ingestKeyFailureLimit: v.int("INGEST_KEY_FAILURE_LIMIT", {
    default: DEFAULT_KEY_FAILURES.limit,
    min: 0,
    max: 1_000_000,
    doc: "Wrong RTMP/SRT stream keys allowed per source address per window; past it publishes are refused (`rate_limited`) without asking control (0 disables)",
  }),
  ingestKeyFailureWindowMs: v.int("INGEST_KEY_FAILURE_WINDOW_MS", {
    default: DEFAULT_KEY_FAILURES.windowMs,
    min: 1000,
    max: 86_400_000,
    doc: "Window over which INGEST_KEY_FAILURE_LIMIT refills",
  }),
};
