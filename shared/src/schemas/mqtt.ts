/**
 * MQTT payloads (docs/architecture.md, "MQTT contract"). Every message is JSON and validated on receipt
 * with `decodeMessage` (codec.ts); MQTT 3.1.1 only, so nothing here relies on v5 properties.
 */
import { CloneType, type Static, Type as T, type TSchema } from "@sinclair/typebox";
import { ID_PATTERN } from "../id-pattern.ts";
import { MAX_RECONNECT_WINDOW_S } from "../profile/reconnect-window.ts";
import { ProfileSpec } from "./profile.ts";
import { SourceUrl, StreamStatusValue } from "./stream.ts";

const Id = T.String({ pattern: ID_PATTERN });
const Lat = T.Number({ minimum: -90, maximum: 90 });
const Lon = T.Number({ minimum: -180, maximum: 180 });
/** The same schema with a description of its own (docs/telemetry.md is generated from these). */
const about = <S extends TSchema>(s: S, description: string): S => CloneType(s, { description });
const StreamStatus = about(
  StreamStatusValue,
  "The stream's state on this node; `error`: see the status topic's lastError",
);

export const NodeIngestEndpoints = T.Object({
  rtmp: T.Optional(T.String({ description: "e.g. rtmp://host:1935/live" })),
  srt: T.Optional(T.String({ description: "host:port or port range of SRT listeners" })),
  rtsp: T.Optional(T.String({ description: "RTSP ingest URL (mediamtx)" })),
  whip: T.Optional(T.String({ description: "WHIP ingest URL (mediamtx)" })),
  /** Where a peer node pulls this node's ingested streams from (overflow transcoding). */
  relay: T.Optional(T.String({ description: "e.g. rtmp://host:1935/live" })),
});
export type NodeIngestEndpoints = Static<typeof NodeIngestEndpoints>;

export const NodeCapacity = T.Object({
  loadUnits: T.Number({ minimum: 0, description: "Transcode budget in pixel-rate units (see profile cost)" }),
  maxStreams: T.Optional(
    T.Integer({ minimum: 0, description: "Most streams the node takes, whatever their cost" }),
  ),
  measured: T.Optional(T.Boolean({ description: "true when found by a calibration encode" })),
});

export const NodeAnnounce = T.Object({
  id: about(Id, "Node id (also its MQTT user name)"),
  region: T.String({ maxLength: 64, description: "Operator-chosen region label" }),
  lat: about(Lat, "Latitude of the node, degrees"),
  lon: about(Lon, "Longitude of the node, degrees"),
  publicUrl: T.String({ description: "Base URL serving /live/{id}/..." }),
  ingest: about(NodeIngestEndpoints, "Where streamers and peer nodes push or pull"),
  capacity: about(NodeCapacity, "What the node can carry (placement uses it)"),
  encoders: T.Array(T.String(), {
    maxItems: 32,
    description: "Video encoders the node can run (e.g. libx264)",
  }),
  mediaServer: T.Union([T.Literal("embedded"), T.Literal("mediamtx")], {
    description: "Which media server takes RTMP/SRT pushes",
  }),
  version: T.String({ maxLength: 64, description: "Origin software version" }),
  ts: T.Number({ description: "When it was sent, ms since the Unix epoch" }),
});
export type NodeAnnounce = Static<typeof NodeAnnounce>;

export const NodeStateValue = T.Union([T.Literal("online"), T.Literal("offline")]);
export const NodeState = T.Object({
  state: about(
    NodeStateValue,
    "`offline` is also the node's last will: the broker sends it when the node vanishes",
  ),
  ts: T.Optional(T.Number({ description: "ms since the Unix epoch (absent in the will)" })),
});
export type NodeState = Static<typeof NodeState>;

export const StreamStats = T.Object({
  id: about(Id, "Stream id"),
  status: StreamStatus,
  role: T.Optional(T.String({ description: "origin, ingest or transcode (see desired state)" })),
  bitrateKbps: T.Optional(T.Number({ minimum: 0, description: "Output bit rate of the ladder, kbit/s" })),
  fps: T.Optional(T.Number({ minimum: 0, description: "Frames per second the transcoder produces" })),
  speed: T.Optional(
    T.Number({ minimum: 0, description: "Encoder speed, multiple of real time (under 1 = falling behind)" }),
  ),
  segments: T.Optional(
    T.Integer({ minimum: 0, description: "Segments written since the stream started here" }),
  ),
  load: T.Optional(T.Number({ minimum: 0, description: "Load units the stream holds on this node" })),
  nextMediaSequence: T.Optional(
    T.Integer({
      minimum: 0,
      description:
        "The media sequence number its next segment gets (a node that takes the stream over goes on from it)",
    }),
  ),
  discontinuitySequence: T.Optional(
    T.Integer({ minimum: 0, description: "The discontinuity sequence of its newest segment" }),
  ),
});
export type StreamStats = Static<typeof StreamStats>;

export const NodeTelemetry = T.Object({
  ts: T.Number({ description: "When it was sampled, ms since the Unix epoch" }),
  cpu: T.Number({ minimum: 0, description: "Busy fraction of all cores, 0..1" }),
  memory: T.Object(
    {
      usedBytes: T.Number({ minimum: 0, description: "Memory in use (total less available), bytes" }),
      totalBytes: T.Number({ minimum: 0, description: "Memory of the host, bytes" }),
    },
    { description: "Host memory" },
  ),
  loadUsed: T.Number({ minimum: 0, description: "Load units held by the streams on this node" }),
  loadCapacity: T.Number({ minimum: 0, description: "Load units the node announced it can carry" }),
  ingressBps: T.Number({
    minimum: 0,
    description: "Bits per second received (pushes, pulls), since the last sample",
  }),
  egressBps: T.Number({ minimum: 0, description: "Bits per second served over HTTP, since the last sample" }),
  streams: T.Array(StreamStats, { maxItems: 10000, description: "One entry per stream the node runs" }),
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
  /**
   * Seconds the origin keeps the stream `reconnecting` (playlists open) after its input drops,
   * already resolved by control (stream, else profile, else 60). Absent: 0, the stream ends at once.
   */
  reconnectWindowSeconds: T.Optional(T.Integer({ minimum: 0, maximum: MAX_RECONNECT_WINDOW_S })),
  /**
   * The stream's session moved here from another node (it died; the streamer reconnected within
   * the window): its playlists go on from these numbers, so a player's media sequence never goes
   * back (ADR 0091). Used only when this node starts the stream's playlists afresh.
   */
  continueFrom: T.Optional(
    T.Object({
      mediaSequence: T.Integer({ minimum: 0 }),
      discontinuitySequence: T.Integer({ minimum: 0 }),
    }),
  ),
  /** Keep every segment of each session and make it a VOD asset when the session ends (ADR 0095). */
  record: T.Optional(T.Boolean()),
});
export type DesiredStream = Static<typeof DesiredStream>;

export const NodeDesired = T.Object({
  version: T.Integer({ minimum: 0 }),
  nodeId: Id,
  streams: T.Array(DesiredStream, { maxItems: 10000 }),
  /** Assets deleted through the API (or past their retention) that this node still holds: remove them. */
  deleteAssets: T.Optional(T.Array(Id, { maxItems: 10000 })),
});
export type NodeDesired = Static<typeof NodeDesired>;

export const StreamStatusMessage = T.Object({
  id: about(Id, "Stream id"),
  nodeId: about(Id, "Node that sent it (the one in the topic)"),
  status: StreamStatus,
  ts: T.Number({ description: "ms since the Unix epoch" }),
  bitrateKbps: T.Optional(T.Number({ minimum: 0, description: "Output bit rate of the ladder, kbit/s" })),
  fps: T.Optional(T.Number({ minimum: 0, description: "Frames per second the transcoder produces" })),
  speed: T.Optional(T.Number({ minimum: 0, description: "Encoder speed, multiple of real time" })),
  lastError: T.Optional(T.String({ maxLength: 2000, description: "Why the stream is in `error`" })),
  srtPort: T.Optional(T.Integer({ minimum: 1, maximum: 65535, description: "UDP port of its SRT listener" })),
  recordingError: T.Optional(
    T.String({
      maxLength: 500,
      description: "Why the stream's recording stopped (a full disk) while the live stream goes on",
    }),
  ),
  /**
   * Rendition names the node serves now (the desired profile's, less any rung the supervisor shed
   * under overload). Absent: all of the desired profile's.
   */
  renditions: T.Optional(
    T.Array(T.String({ maxLength: 32 }), {
      maxItems: 32,
      description:
        "Renditions served now (a rung shed under overload is missing); absent = all of the profile's",
    }),
  ),
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
