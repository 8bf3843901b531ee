/**
 * MQTT payloads (docs/architecture.md, "MQTT contract"). Every message is JSON and validated on receipt
 * with `decodeMessage` (codec.ts); MQTT 3.1.1 only, so nothing here relies on v5 properties.
 */
import { type Static, Type as T } from "@sinclair/typebox";
import { ID_PATTERN } from "../id-pattern.ts";
import { ProfileSpec } from "./profile.ts";
import { SourceUrl, StreamStatusValue } from "./stream.ts";

const Id = T.String({ pattern: ID_PATTERN });
const Lat = T.Number({ minimum: -90, maximum: 90 });
const Lon = T.Number({ minimum: -180, maximum: 180 });

export const NodeIngestEndpoints = T.Object({
  rtmp: T.Optional(T.String({ description: "e.g. rtmp://host:1935/live" })),
  srt: T.Optional(T.String({ description: "host:port or port range of SRT listeners" })),
  rtsp: T.Optional(T.String()),
  whip: T.Optional(T.String()),
  /** Where a peer node pulls this node's ingested streams from (overflow transcoding). */
  relay: T.Optional(T.String({ description: "e.g. rtmp://host:1935/live" })),
});
export type NodeIngestEndpoints = Static<typeof NodeIngestEndpoints>;

export const NodeCapacity = T.Object({
  loadUnits: T.Number({ minimum: 0, description: "Transcode budget in pixel-rate units (see profile cost)" }),
  maxStreams: T.Optional(T.Integer({ minimum: 0 })),
  measured: T.Optional(T.Boolean({ description: "true when found by a calibration encode" })),
});

export const NodeAnnounce = T.Object({
  id: Id,
  region: T.String({ maxLength: 64 }),
  lat: Lat,
  lon: Lon,
  publicUrl: T.String({ description: "Base URL serving /live/{id}/..." }),
  ingest: NodeIngestEndpoints,
  capacity: NodeCapacity,
  encoders: T.Array(T.String(), { maxItems: 32 }),
  mediaServer: T.Union([T.Literal("embedded"), T.Literal("mediamtx")]),
  version: T.String({ maxLength: 64 }),
  ts: T.Number(),
});
export type NodeAnnounce = Static<typeof NodeAnnounce>;

export const NodeStateValue = T.Union([T.Literal("online"), T.Literal("offline")]);
export const NodeState = T.Object({ state: NodeStateValue, ts: T.Optional(T.Number()) });
export type NodeState = Static<typeof NodeState>;

export const StreamStats = T.Object({
  id: Id,
  status: StreamStatusValue,
  role: T.Optional(T.String()),
  bitrateKbps: T.Optional(T.Number({ minimum: 0 })),
  fps: T.Optional(T.Number({ minimum: 0 })),
  speed: T.Optional(T.Number({ minimum: 0 })),
  segments: T.Optional(T.Integer({ minimum: 0 })),
  load: T.Optional(T.Number({ minimum: 0 })),
});
export type StreamStats = Static<typeof StreamStats>;

export const NodeTelemetry = T.Object({
  ts: T.Number(),
  cpu: T.Number({ minimum: 0, description: "Busy fraction of all cores, 0..1" }),
  memory: T.Object({ usedBytes: T.Number({ minimum: 0 }), totalBytes: T.Number({ minimum: 0 }) }),
  loadUsed: T.Number({ minimum: 0 }),
  loadCapacity: T.Number({ minimum: 0 }),
  ingressBps: T.Number({ minimum: 0 }),
  egressBps: T.Number({ minimum: 0 }),
  streams: T.Array(StreamStats, { maxItems: 10000 }),
});
export type NodeTelemetry = Static<typeof NodeTelemetry>;

/**
 * origin: ingests (push or pull) and transcodes on this node.
 * ingest: takes the push only; a `transcode` peer pulls from this node's media server.
 * transcode: pulls `pullFrom` (a peer's relay URL) and transcodes.
 */
export const StreamRole = T.Union([T.Literal("origin"), T.Literal("ingest"), T.Literal("transcode")]);
export type StreamRole = Static<typeof StreamRole>;

export const DesiredStream = T.Object({
  id: Id,
  role: StreamRole,
  profile: ProfileSpec,
  keyHash: T.String({ pattern: "^[0-9a-f]{64}$" }),
  srtPassphrase: T.Optional(T.String({ minLength: 10, maxLength: 79 })),
  source: T.Optional(T.Union([SourceUrl, T.Null()])),
  pullFrom: T.Optional(T.String()),
  /** Embedded media server: the stream's SRT listener port, assigned once by control (stable). */
  srtPort: T.Optional(T.Integer({ minimum: 1, maximum: 65535 })),
  /** Signed playback (ADR 0060): `signed` makes the origin require a token under /live/{id}/. Absent: public. */
  playbackPolicy: T.Optional(T.Union([T.Literal("public"), T.Literal("signed")])),
});
export type DesiredStream = Static<typeof DesiredStream>;

export const NodeDesired = T.Object({
  version: T.Integer({ minimum: 0 }),
  nodeId: Id,
  streams: T.Array(DesiredStream, { maxItems: 10000 }),
});
export type NodeDesired = Static<typeof NodeDesired>;

export const StreamStatusMessage = T.Object({
  id: Id,
  nodeId: Id,
  status: StreamStatusValue,
  ts: T.Number(),
  bitrateKbps: T.Optional(T.Number({ minimum: 0 })),
  fps: T.Optional(T.Number({ minimum: 0 })),
  speed: T.Optional(T.Number({ minimum: 0 })),
  lastError: T.Optional(T.String({ maxLength: 2000 })),
  srtPort: T.Optional(T.Integer({ minimum: 1, maximum: 65535 })),
  /**
   * Rendition names the node serves now (the desired profile's, less any rung the supervisor shed
   * under overload). Absent: all of the desired profile's.
   */
  renditions: T.Optional(T.Array(T.String({ maxLength: 32 }), { maxItems: 32 })),
});
export type StreamStatusMessage = Static<typeof StreamStatusMessage>;

export const RouteOrigin = T.Object({
  nodeId: Id,
  url: T.String({ description: "Origin base URL" }),
  region: T.String(),
  lat: Lat,
  lon: Lon,
  role: StreamRole,
});
export type RouteOrigin = Static<typeof RouteOrigin>;

export const Route = T.Object({
  id: Id,
  policy: T.Union([T.Literal("public"), T.Literal("signed")]),
  origins: T.Array(RouteOrigin, { maxItems: 64 }),
  ts: T.Optional(T.Number()),
});
export type Route = Static<typeof Route>;

/**
 * Signed playback (ADR 0060): the public half of a signing key, as routers and origins receive it.
 * `additionalProperties: false` keeps a private JWK member (`d`, `p`, `q`...) out of the contract.
 */
export const SigningAlg = T.Union([T.Literal("ES256"), T.Literal("RS256")]);
export type SigningAlg = Static<typeof SigningAlg>;

export const PublicJwk = T.Object(
  {
    kty: T.Union([T.Literal("EC"), T.Literal("RSA")]),
    crv: T.Optional(T.Literal("P-256")),
    x: T.Optional(T.String({ maxLength: 128 })),
    y: T.Optional(T.String({ maxLength: 128 })),
    n: T.Optional(T.String({ maxLength: 1400 })),
    e: T.Optional(T.String({ maxLength: 16 })),
  },
  { additionalProperties: false },
);
export type PublicJwk = Static<typeof PublicJwk>;

export const PublicSigningKey = T.Object({
  kid: Id,
  alg: SigningAlg,
  jwk: PublicJwk,
});
export type PublicSigningKey = Static<typeof PublicSigningKey>;

/** Retained on `dionysia/v1/keys`: every live (not deleted) playback verification key. */
export const PlaybackKeys = T.Object({
  keys: T.Array(PublicSigningKey, { maxItems: 1000 }),
  ts: T.Number(),
});
export type PlaybackKeys = Static<typeof PlaybackKeys>;
