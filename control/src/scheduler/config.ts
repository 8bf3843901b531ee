/** Scheduler settings (docs/configuration.md). */
import { v } from "@dionysia/shared";

export const schedulerConfigSpecs = {
  leaseTtlMs: v.int("SCHEDULER_LEASE_TTL_MS", {
    default: 6000,
    min: 500,
    max: 120_000,
    doc: "Scheduler lease lifetime; renewed every third of it. A dead leader is replaced within TTL + TTL/3",
  }),
  placementTieKm: v.number("PLACEMENT_TIE_KM", {
    default: 1,
    min: 0,
    max: 20_000,
    doc: "Nodes this close in distance count as equally near; the least loaded wins",
  }),
  ingestReservationMs: v.int("INGEST_RESERVATION_MS", {
    default: 30_000,
    min: 1000,
    max: 600_000,
    doc: "An authorized publish holds its ladder's capacity this long before its node reports it live",
  }),
  reconnectGraceMs: v.int("RECONNECT_GRACE_MS", {
    default: 15_000,
    min: 0,
    max: 600_000,
    doc: "After a stream with no reconnect window (0) loses its publisher, it keeps its capacity this long so a reconnect finds room; streams with a window hold it for the window (ADR 0091)",
  }),
};
