/**
 * Recordings as VOD assets (issue 15, ADR 0095): what an origin reports of an asset it holds
 * (MQTT, retained under its own tree) and what the API shows. One schema each, shared by the
 * origin's codec, control's validation and the OpenAPI page.
 */
import { type Static, Type as T } from "@sinclair/typebox";
import { ID_PATTERN } from "../id-pattern.ts";

const Id = T.String({ pattern: ID_PATTERN });

/** `dionysia/v1/nodes/{nodeId}/assets/{assetId}` (retained; an empty payload: the node removed it). */
export const AssetReport = T.Object({
  id: T.String({ pattern: ID_PATTERN, description: "Asset id (its /vod/{id}/ path)" }),
  streamId: T.String({ pattern: ID_PATTERN, description: "The stream it recorded" }),
  nodeId: T.String({ pattern: ID_PATTERN, description: "The node that holds its files" }),
  startedAt: T.Number({ description: "First segment's wall clock, ms since the Unix epoch" }),
  endedAt: T.Number({ description: "When the session ended (its reconnect window closed), ms" }),
  durationSeconds: T.Number({ minimum: 0, description: "Sum of the top rendition's segment durations" }),
  renditions: T.Array(T.String({ maxLength: 32 }), {
    maxItems: 32,
    description: "Video renditions recorded",
  }),
  segments: T.Integer({ minimum: 0, description: "Segments of the top rendition" }),
  bytes: T.Integer({ minimum: 0, description: "Bytes on the node's disk, every rendition and audio" }),
  sessions: T.Integer({
    minimum: 1,
    description: "Publishes it spans: sessions within one reconnect window are one asset",
  }),
});
export type AssetReport = Static<typeof AssetReport>;

export const AssetStatus = T.Union([T.Literal("ready"), T.Literal("deleted")]);

export const Asset = T.Object({
  id: Id,
  streamId: T.String({ description: "The stream it recorded (kept after the stream is deleted)" }),
  nodeId: T.Union([Id, T.Null()]),
  status: AssetStatus,
  durationSeconds: T.Number(),
  renditions: T.Array(T.String()),
  bytes: T.Integer(),
  sessions: T.Integer(),
  startedAt: T.String({ format: "date-time" }),
  endedAt: T.String({ format: "date-time" }),
  createdAt: T.String({ format: "date-time" }),
  playback: T.Object({
    hls: T.String({ description: "VOD master playlist through the router (EXT-X-ENDLIST)" }),
  }),
});
export type Asset = Static<typeof Asset>;
