/** ABR ladder profiles: one definition for API validation, OpenAPI and the desired-state payload. */
import { type Static, Type as T } from "@sinclair/typebox";
import { MAX_RECONNECT_WINDOW_S } from "../profile/reconnect-window.ts";

export const RenditionName = T.String({
  pattern: "^[a-z0-9][a-z0-9_-]{0,31}$",
  description: "Unique within the profile; becomes a folder name",
  examples: ["720p"],
});

export const VideoCodec = T.Union([T.Literal("h264"), T.Literal("hevc"), T.Literal("copy")], {
  description: "`copy` passes the source video through untouched",
});

export const Preset = T.Union(
  [
    T.Literal("ultrafast"),
    T.Literal("superfast"),
    T.Literal("veryfast"),
    T.Literal("faster"),
    T.Literal("fast"),
    T.Literal("medium"),
  ],
  { description: "x264/x265 speed preset" },
);

export const Rendition = T.Object(
  {
    name: RenditionName,
    codec: VideoCodec,
    width: T.Optional(T.Integer({ minimum: 2, maximum: 7680, description: "Even; omitted for copy" })),
    height: T.Optional(T.Integer({ minimum: 2, maximum: 4320, description: "Even; omitted for copy" })),
    fps: T.Optional(T.Number({ minimum: 1, maximum: 120, description: "Output frame rate; default 30" })),
    bitrateKbps: T.Optional(T.Integer({ minimum: 50, maximum: 80000, description: "Target video bitrate" })),
    preset: T.Optional(Preset),
  },
  { additionalProperties: false },
);

export const AudioCodec = T.Union([T.Literal("aac"), T.Literal("opus"), T.Literal("copy")]);

export const AudioSettings = T.Object(
  {
    codec: AudioCodec,
    bitrateKbps: T.Optional(T.Integer({ minimum: 16, maximum: 512 })),
    channels: T.Optional(T.Union([T.Literal(1), T.Literal(2)])),
    sampleRate: T.Optional(T.Union([T.Literal(44100), T.Literal(48000)])),
  },
  { additionalProperties: false },
);

export const OutputFormat = T.Union([T.Literal("hls"), T.Literal("dash"), T.Literal("ll-hls")]);
export const SegmentContainer = T.Union([T.Literal("fmp4"), T.Literal("ts")], {
  description: "fmp4 (CMAF, shared by HLS and DASH) or MPEG-TS (HLS only)",
});

/** The ladder itself: what a user submits (POST/PUT) and what an origin receives. */
export const ProfileSpec = T.Object(
  {
    name: T.String({ minLength: 1, maxLength: 100 }),
    description: T.Optional(T.String({ maxLength: 500 })),
    renditions: T.Array(Rendition, { maxItems: 10 }),
    audio: T.Union([AudioSettings, T.Null()], { description: "null for video-only output" }),
    segmentDuration: T.Number({ minimum: 1, maximum: 10, description: "Seconds" }),
    partDuration: T.Optional(
      T.Number({
        minimum: 0.1,
        maximum: 2,
        description:
          "LL-HLS part (CMAF chunk), seconds; default 0.5. At most segmentDuration, which must be a whole multiple of it",
      }),
    ),
    windowSize: T.Optional(
      T.Integer({ minimum: 3, maximum: 60, description: "Segments kept in the live playlist; default 6" }),
    ),
    reconnectWindowSeconds: T.Optional(
      T.Integer({
        minimum: 0,
        maximum: MAX_RECONNECT_WINDOW_S,
        description:
          "Seconds a stream stays `reconnecting` after its publisher drops before it goes idle and its playlists end; default 60, 0 ends it at once. A stream may set its own",
      }),
    ),
    formats: T.Array(OutputFormat, { minItems: 1, uniqueItems: true }),
    container: T.Optional(SegmentContainer),
    degrade: T.Optional(
      T.Boolean({
        description:
          "Default true: when no node can fit the whole ladder, admit the stream with its most expensive rungs dropped (never below one). false: refuse instead",
      }),
    ),
  },
  { additionalProperties: false },
);

export const Profile = T.Composite([
  T.Object({
    id: T.String(),
    builtIn: T.Boolean(),
    createdAt: T.String({ format: "date-time" }),
    updatedAt: T.String({ format: "date-time" }),
  }),
  ProfileSpec,
]);

export type Rendition = Static<typeof Rendition>;
export type AudioSettings = Static<typeof AudioSettings>;
export type ProfileSpec = Static<typeof ProfileSpec>;
export type Profile = Static<typeof Profile>;
export type OutputFormat = Static<typeof OutputFormat>;
