import { type Static, Type as T } from "@sinclair/typebox";
import { MAX_RECONNECT_WINDOW_S } from "../profile/reconnect-window.ts";

export const StreamStatusValue = T.Union([
  T.Literal("idle"),
  T.Literal("starting"),
  T.Literal("live"),
  T.Literal("error"),
  T.Literal("reconnecting"),
]);
export type StreamStatusValue = Static<typeof StreamStatusValue>;

/** A stream's own reconnect window; absent or null: its profile's (default 60 s). */
export const ReconnectWindowSeconds = T.Integer({
  minimum: 0,
  maximum: MAX_RECONNECT_WINDOW_S,
  description:
    "Seconds a stream stays `reconnecting` after its publisher drops (playlists kept open, capacity held) before it goes idle; 0 ends it at once",
});

export const DEFAULT_RETENTION_DAYS = 30;
const RetentionDays = T.Integer({
  minimum: 1,
  maximum: 3650,
  description: `Days an asset is kept after its session ended (default ${DEFAULT_RETENTION_DAYS})`,
});

export const PlaybackPolicy = T.Union([T.Literal("public"), T.Literal("signed")]);

/** A pull input: the origin fetches this URL instead of waiting for a push. */
export const SourceUrl = T.String({
  pattern: "^(rtsp|rtsps|rtmp|rtmps|srt|http|https)://",
  maxLength: 2048,
  description: "rtsp://, rtmp://, srt:// or http(s) HLS URL to pull",
});

export const Location = T.Object(
  {
    lat: T.Number({ minimum: -90, maximum: 90 }),
    lon: T.Number({ minimum: -180, maximum: 180 }),
  },
  { additionalProperties: false },
);

export const IngestUrls = T.Object({
  rtmp: T.Optional(T.String()),
  srt: T.Optional(T.String()),
  rtsp: T.Optional(T.String()),
  whip: T.Optional(T.String()),
});

export const PlaybackUrls = T.Object({
  hls: T.String(),
  dash: T.Optional(T.String()),
});

export const StreamLadder = T.Object(
  {
    requested: T.Array(T.String(), { description: "Rung names of the stream's profile, in ladder order" }),
    served: T.Array(T.String(), {
      description:
        "Rungs served: the ladder admitted at the last publish (trimmed to fit a node) less any rung the node shed under overload",
    }),
  },
  { description: "Requested vs served renditions (ADR 0014)" },
);
export type StreamLadder = Static<typeof StreamLadder>;

export const StreamWarning = T.Object({
  code: T.Union([T.Literal("exceeds_capacity"), T.Literal("srt_ports_exhausted")], {
    description:
      "exceeds_capacity: no known node could carry this profile, even trimmed to one rung; srt_ports_exhausted: no SRT port was free for the stream",
  }),
  message: T.String(),
});
export type StreamWarning = Static<typeof StreamWarning>;

export const Stream = T.Object({
  id: T.String({ description: "Public playback id" }),
  name: T.String(),
  profileId: T.String(),
  playbackPolicy: PlaybackPolicy,
  status: StreamStatusValue,
  region: T.Union([T.String(), T.Null()]),
  location: T.Union([Location, T.Null()]),
  source: T.Union([SourceUrl, T.Null()]),
  nodeId: T.Union([T.String(), T.Null()], { description: "Node currently carrying the stream" }),
  reconnectWindowSeconds: T.Union([ReconnectWindowSeconds, T.Null()], {
    description: "The stream's own reconnect window; null: its profile's (default 60 s)",
  }),
  record: T.Boolean({
    description: "Each session (publishes within one reconnect window) becomes a VOD asset",
  }),
  recordingRetentionDays: T.Integer({ description: "Its assets are deleted this many days after they end" }),
  stats: T.Optional(
    T.Object(
      {
        bitrateKbps: T.Optional(T.Number()),
        fps: T.Optional(T.Number()),
        speed: T.Optional(T.Number({ description: "Encoder speed, multiple of real time" })),
        lastError: T.Optional(T.String()),
        reportedAt: T.String({ format: "date-time" }),
      },
      { description: "Last status report of the carrying node" },
    ),
  ),
  ladder: StreamLadder,
  ingest: IngestUrls,
  playback: PlaybackUrls,
  warnings: T.Optional(
    T.Array(StreamWarning, { description: "On create and update replies: problems worth knowing now" }),
  ),
  createdAt: T.String({ format: "date-time" }),
  updatedAt: T.String({ format: "date-time" }),
});
export type Stream = Static<typeof Stream>;

/** Creation reply: the only place (with rotation) where the stream key is shown. */
export const StreamWithKey = T.Composite([
  Stream,
  T.Object({
    streamKey: T.String({ description: "Secret; shown once" }),
    srtPassphrase: T.String({ description: "Secret SRT passphrase for the embedded SRT listener" }),
  }),
]);
export type StreamWithKey = Static<typeof StreamWithKey>;

export const CreateStream = T.Object(
  {
    name: T.String({ minLength: 1, maxLength: 200 }),
    profileId: T.Optional(T.String({ description: "Default: builtin-720p" })),
    playbackPolicy: T.Optional(PlaybackPolicy),
    region: T.Optional(T.String({ maxLength: 64 })),
    location: T.Optional(Location),
    source: T.Optional(SourceUrl),
    reconnectWindowSeconds: T.Optional(ReconnectWindowSeconds),
    record: T.Optional(T.Boolean({ description: "Default false" })),
    recordingRetentionDays: T.Optional(RetentionDays),
  },
  { additionalProperties: false },
);
export type CreateStream = Static<typeof CreateStream>;

export const UpdateStream = T.Object(
  {
    name: T.Optional(T.String({ minLength: 1, maxLength: 200 })),
    profileId: T.Optional(T.String()),
    playbackPolicy: T.Optional(PlaybackPolicy),
    region: T.Optional(T.Union([T.String({ maxLength: 64 }), T.Null()])),
    location: T.Optional(T.Union([Location, T.Null()])),
    source: T.Optional(T.Union([SourceUrl, T.Null()])),
    reconnectWindowSeconds: T.Optional(T.Union([ReconnectWindowSeconds, T.Null()])),
    record: T.Optional(T.Boolean()),
    recordingRetentionDays: T.Optional(RetentionDays),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateStream = Static<typeof UpdateStream>;
