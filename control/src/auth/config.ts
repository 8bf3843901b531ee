/** Limits on failed authentication per source address (ADR 0015). */
import { v } from "@dionysia/shared";

export const authConfigSpecs = {
  authFailureLimit: v.int("AUTH_FAILURE_LIMIT", {
    default: 20,
    min: 0,
    max: 1_000_000,
    doc: "Failed API authentications allowed per source address per AUTH_FAILURE_WINDOW_MS before 429 (0 disables)",
  }),
  authFailureWindowMs: v.int("AUTH_FAILURE_WINDOW_MS", {
    default: 60_000,
    min: 1000,
    max: 86_400_000,
    doc: "Window in which AUTH_FAILURE_LIMIT failures are allowed (the bucket refills over it)",
  }),
};
