/** Webhook and event-log settings (docs/configuration.md, ADR 0090). */
import { v } from "@dionysia/shared";

export const WEBHOOK_ALLOW_PRIVATE = ["none", "loopback", "private"] as const;
export type WebhookAllowPrivate = (typeof WEBHOOK_ALLOW_PRIVATE)[number];

export const webhookConfigSpecs = {
  webhookAllowPrivate: v.enumOf("WEBHOOK_ALLOW_PRIVATE", WEBHOOK_ALLOW_PRIVATE, {
    default: "none",
    doc: "Webhook URLs that may point inside the network: `none` (public addresses only), `loopback` (also 127.0.0.0/8 and ::1), `private` (also RFC 1918, CGNAT and unique-local). Link-local, metadata, unspecified and multicast addresses are always refused",
  }),
  webhookTimeoutMs: v.int("WEBHOOK_TIMEOUT_MS", {
    default: 10_000,
    min: 100,
    max: 60_000,
    doc: "Per-request timeout of a webhook delivery (connect to last byte read)",
  }),
  webhookConcurrency: v.int("WEBHOOK_CONCURRENCY", {
    default: 8,
    min: 1,
    max: 256,
    doc: "Deliveries in flight at once on the instance that holds the `webhooks` lease",
  }),
  webhookRetryBaseMs: v.int("WEBHOOK_RETRY_BASE_MS", {
    default: 5_000,
    min: 1,
    max: 3_600_000,
    doc: "First retry delay; attempt n waits a random time in [0, min(base·2^(n-1), WEBHOOK_RETRY_MAX_MS)] (full jitter)",
  }),
  webhookRetryMaxMs: v.int("WEBHOOK_RETRY_MAX_MS", {
    default: 3_600_000,
    min: 1,
    max: 86_400_000,
    doc: "Longest wait between two attempts",
  }),
  webhookRetryForMs: v.int("WEBHOOK_RETRY_FOR_MS", {
    default: 86_400_000,
    min: 1_000,
    max: 7 * 86_400_000,
    doc: "A delivery is retried for this long after its event (or its resend), then marked failed",
  }),
  webhookPollMs: v.int("WEBHOOK_POLL_MS", {
    default: 500,
    min: 10,
    max: 60_000,
    doc: "How often the lease holder looks for due deliveries",
  }),
  eventRetentionDays: v.int("EVENT_RETENTION_DAYS", {
    default: 30,
    min: 2,
    max: 3650,
    doc: "Events (GET /v1/events) and their deliveries are deleted after this many days",
  }),
  eventFeedIntervalMs: v.int("EVENT_FEED_INTERVAL_MS", {
    default: 500,
    min: 50,
    max: 60_000,
    doc: "How often the scheduler lease holder publishes new events on MQTT `dionysia/v1/events/{type}` (ADR 0097)",
  }),
};
