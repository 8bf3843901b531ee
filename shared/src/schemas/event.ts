/**
 * Platform events (ADR 0090): the one schema of an event, used by the API (`GET /v1/events`), the
 * webhook body, and the MQTT event feed (`dionysia/v1/events/{type}`, ADR 0097).
 */
import { FormatRegistry, type Static, Type as T } from "@sinclair/typebox";

// TypeBox checks no format by itself: Elysia registers date-time in control, but the MQTT codec
// also runs in the origin, the router and the browser console.
if (!FormatRegistry.Has("date-time"))
  FormatRegistry.Set("date-time", (v) => /^\d{4}-\d{2}-\d{2}T/.test(v) && !Number.isNaN(Date.parse(v)));

/**
 * Every event type: the one list the API, the outbox and the docs use. Literals, not an enum: an
 * optional enum in a query string would be filled with its first value.
 */
export const EventTypeSchema = T.Union(
  [
    T.Literal("stream.created"),
    T.Literal("stream.connected"),
    T.Literal("stream.active"),
    T.Literal("stream.disconnected"),
    T.Literal("stream.idle"),
    T.Literal("stream.error"),
    T.Literal("stream.deleted"),
    T.Literal("recording.ready"),
    T.Literal("node.online"),
    T.Literal("node.offline"),
  ],
  { description: "Event type" },
);
export type EventType = Static<typeof EventTypeSchema>;
export const EVENT_TYPES: readonly EventType[] = EventTypeSchema.anyOf.map((s) => s.const);

export const PlatformEvent = T.Object(
  {
    id: T.String({ pattern: "^evt_[A-Za-z0-9]{1,40}$" }),
    type: EventTypeSchema,
    createdAt: T.String({ format: "date-time" }),
    data: T.Record(T.String(), T.Unknown(), { description: "The object the event is about" }),
  },
  { description: "Also the JSON body of every webhook delivery and of every MQTT event message" },
);
export type PlatformEvent = Static<typeof PlatformEvent>;
