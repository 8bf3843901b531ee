import { type Static, Type as T } from "@sinclair/typebox";
import { ID_PATTERN } from "../id-pattern.ts";
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
    nodeId: T.String({ pattern: ID_PATTERN }),
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
