import { type Static, Type as T } from "@sinclair/typebox";
import { ProfileSpec } from "./profile.ts";

export const IngestProtocol = T.Union([
  T.Literal("rtmp"),
  T.Literal("srt"),
  T.Literal("rtsp"),
  T.Literal("webrtc"),
  T.Literal("pull"),
]);

/** POST /v1/ingest/authorize — an origin asks control about a key it does not know. */
export const IngestAuthorizeRequest = T.Object(
  {
    streamKey: T.String({ minLength: 1, maxLength: 256 }),
    nodeId: T.String({ pattern: "^[A-Za-z0-9_-]{1,64}$" }),
    protocol: IngestProtocol,
    remoteAddr: T.Optional(T.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);
export type IngestAuthorizeRequest = Static<typeof IngestAuthorizeRequest>;

export const IngestAuthorizeResponse = T.Object({
  streamId: T.String(),
  profileId: T.String(),
  profile: ProfileSpec,
  keyHash: T.String(),
});
export type IngestAuthorizeResponse = Static<typeof IngestAuthorizeResponse>;
