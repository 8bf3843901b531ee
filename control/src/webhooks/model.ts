/** Webhooks, deliveries and events (ADR 0090): one set of schemas for validation and OpenAPI. */

import { EVENT_TYPES, EventTypeSchema, PlatformEvent } from "@dionysia/shared";
import { t } from "elysia";

export type { EventType } from "@dionysia/shared";
export { EVENT_TYPES, EventTypeSchema };

const EventTypes = t.Union(
  [t.Array(EventTypeSchema, { minItems: 1, maxItems: EVENT_TYPES.length, uniqueItems: true }), t.Null()],
  { description: "Event types delivered to this endpoint; null: every type" },
);

const Url = t.String({
  minLength: 1,
  maxLength: 2048,
  description:
    "http or https URL; loopback and private destinations are refused unless WEBHOOK_ALLOW_PRIVATE allows them",
});

export const Webhook = t.Object({
  id: t.String(),
  url: t.String(),
  description: t.String(),
  eventTypes: EventTypes,
  enabled: t.Boolean(),
  createdAt: t.String({ format: "date-time" }),
  updatedAt: t.String({ format: "date-time" }),
});

export const WebhookWithSecret = t.Composite([
  Webhook,
  t.Object({
    secret: t.String({
      description: "Signing secret (HMAC-SHA256 key of the Dionysia-Signature header); shown once",
    }),
  }),
]);

export const CreateWebhook = t.Object(
  {
    url: Url,
    description: t.Optional(t.String({ maxLength: 200 })),
    eventTypes: t.Optional(EventTypes),
    enabled: t.Optional(t.Boolean()),
  },
  { additionalProperties: false },
);

export const UpdateWebhook = t.Object(
  {
    url: t.Optional(Url),
    description: t.Optional(t.String({ maxLength: 200 })),
    eventTypes: t.Optional(EventTypes),
    enabled: t.Optional(t.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const WebhookList = t.Object({ items: t.Array(Webhook) });
export const WebhookParams = t.Object({ id: t.String({ maxLength: 128 }) });
export const DeliveryParams = t.Object({
  id: t.String({ maxLength: 128 }),
  deliveryId: t.String({ maxLength: 128 }),
});

export const DeliveryState = t.Union(
  [t.Literal("pending"), t.Literal("sending"), t.Literal("delivered"), t.Literal("failed")],
  { description: "pending: waiting for its next attempt; sending: an attempt is in flight" },
);

export const DeliveryAttempt = t.Object({
  n: t.Integer({ minimum: 1 }),
  at: t.String({ format: "date-time" }),
  durationMs: t.Integer({ minimum: 0 }),
  statusCode: t.Union([t.Integer(), t.Null()], { description: "HTTP status; null when none came" }),
  error: t.Union([t.String(), t.Null()], { description: "Why the attempt failed; null on 2xx" }),
  responseExcerpt: t.String({ description: "The first bytes of the answer (at most 256 characters)" }),
});

export const Delivery = t.Object({
  id: t.String(),
  webhookId: t.String(),
  eventId: t.String(),
  eventType: EventTypeSchema,
  state: DeliveryState,
  attempts: t.Integer({ minimum: 0 }),
  nextAttemptAt: t.Union([t.String({ format: "date-time" }), t.Null()]),
  deliveredAt: t.Union([t.String({ format: "date-time" }), t.Null()]),
  lastStatusCode: t.Union([t.Integer(), t.Null()]),
  lastError: t.Union([t.String(), t.Null()]),
  createdAt: t.String({ format: "date-time" }),
  history: t.Array(DeliveryAttempt, { description: "The last 10 attempts, newest first" }),
});

const Limit = t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 20 }));
const Cursor = t.Optional(t.String({ maxLength: 256, description: "nextCursor of the previous page" }));

export const DeliveryQuery = t.Object({
  limit: Limit,
  cursor: Cursor,
  state: t.Optional(DeliveryState),
});
export const DeliveryPage = t.Object({
  items: t.Array(Delivery),
  nextCursor: t.Union([t.String(), t.Null()]),
});

export const Event = PlatformEvent;

export const EventQuery = t.Object({
  limit: Limit,
  cursor: Cursor,
  type: t.Optional(EventTypeSchema),
  streamId: t.Optional(t.String({ maxLength: 128 })),
});
export const EventPage = t.Object({ items: t.Array(Event), nextCursor: t.Union([t.String(), t.Null()]) });
