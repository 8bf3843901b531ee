import { PublicJwk, SigningAlg } from "@dionysia/shared";
import { t } from "elysia";

export const SigningKey = t.Object({
  id: t.String({ description: "Key id: the `kid` header of tokens signed with this key" }),
  name: t.String(),
  alg: SigningAlg,
  publicKey: PublicJwk,
  managed: t.Boolean({
    description: "true for control's own key (signs POST /v1/streams/{id}/playback-tokens)",
  }),
  createdAt: t.String({ format: "date-time" }),
});

export const SigningKeyWithPrivate = t.Composite([
  SigningKey,
  t.Object({
    privateKey: t.String({ description: "PKCS8 PEM; shown once, never stored by control" }),
  }),
]);

export const CreateSigningKey = t.Object(
  {
    name: t.Optional(t.String({ minLength: 1, maxLength: 100 })),
    alg: t.Optional(SigningAlg),
  },
  { additionalProperties: false },
);

export const SigningKeyList = t.Object({ items: t.Array(SigningKey) });
export const SigningKeyParams = t.Object({ id: t.String({ maxLength: 128 }) });

export const CreatePlaybackToken = t.Object(
  {
    ttlSeconds: t.Integer({ minimum: 1, maximum: 7 * 24 * 3600, description: "At most 7 days" }),
    aud: t.Optional(
      t.Union([t.Literal("v"), t.Literal("t")], { description: "v: playback (default), t: thumbnail" }),
    ),
  },
  { additionalProperties: false },
);

export const PlaybackToken = t.Object({
  token: t.String(),
  expiresAt: t.String({ format: "date-time" }),
  hls: t.String({ description: "Master playlist URL with ?token=" }),
  dash: t.Optional(
    t.String({ description: "DASH manifest URL with ?token= (when the profile packages DASH)" }),
  ),
});
