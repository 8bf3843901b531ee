/**
 * Signed playback API (ADR 0060): signing keys (admin), the public key list for routers and
 * origins, and playback tokens signed by control for one stream.
 */

import { ErrorBody, PlaybackKeys } from "@dionysia/shared";
import { Elysia, t } from "elysia";
import { getAsset, toAsset } from "../assets/service.ts";
import { authPlugin } from "../auth/index.ts";
import type { Deps } from "../deps.ts";
import { getStream } from "../streams/service.ts";
import {
  CreatePlaybackToken,
  CreateSigningKey,
  PlaybackToken,
  SigningKey,
  SigningKeyList,
  SigningKeyParams,
  SigningKeyWithPrivate,
} from "./model.ts";
import {
  createSigningKey,
  getSigningKey,
  issuePlaybackToken,
  listSigningKeys,
  playbackKeysMessage,
  revokeSigningKey,
} from "./service.ts";

const authErrors = { 401: ErrorBody, 403: ErrorBody };

/** What both playback-token routes (a stream's, an asset's) take and answer. */
const tokenRoute = {
  auth: "user" as const,
  params: SigningKeyParams,
  body: CreatePlaybackToken,
  response: {
    201: PlaybackToken,
    400: ErrorBody,
    404: ErrorBody,
    413: ErrorBody,
    422: ErrorBody,
    ...authErrors,
  },
};

export function signingKeyRoutes(deps: Deps) {
  const urls = {
    playbackBaseUrl: deps.config.playbackBaseUrl,
    defaultIngestHost: deps.config.defaultIngestHost,
    srtPortRange: deps.config.srtPortRange,
  };
  return new Elysia({ tags: ["signing-keys"] })
    .use(authPlugin(deps))
    .post(
      "/v1/signing-keys",
      async ({ body, set }) => {
        const key = await createSigningKey(deps.db, body, deps.events);
        deps.log.info({ kid: key.id, alg: key.alg }, "signing key created");
        set.status = 201;
        return key;
      },
      {
        auth: "admin",
        body: CreateSigningKey,
        response: {
          201: SigningKeyWithPrivate,
          400: ErrorBody,
          413: ErrorBody,
          422: ErrorBody,
          ...authErrors,
        },
        detail: {
          summary: "Create a playback signing key pair (ES256 default, RS256); the private key is shown once",
        },
      },
    )
    .get("/v1/signing-keys", async () => ({ items: await listSigningKeys(deps.db) }), {
      auth: "admin",
      response: { 200: SigningKeyList, ...authErrors },
      detail: { summary: "List live signing keys (public keys only)" },
    })
    .get("/v1/signing-keys/:id", async ({ params }) => getSigningKey(deps.db, params.id), {
      auth: "admin",
      params: SigningKeyParams,
      response: { 200: SigningKey, 404: ErrorBody, ...authErrors },
      detail: { summary: "One signing key (public key only)" },
    })
    .delete(
      "/v1/signing-keys/:id",
      async ({ params, set }) => {
        await revokeSigningKey(deps.db, params.id, deps.events);
        deps.log.info({ kid: params.id }, "signing key revoked");
        set.status = 204;
      },
      {
        auth: "admin",
        params: SigningKeyParams,
        response: { 204: t.Void(), 404: ErrorBody, ...authErrors },
        detail: {
          summary: "Revoke a signing key: its tokens stop working on every router and origin within seconds",
        },
      },
    )
    .get("/v1/playback-keys", async () => playbackKeysMessage(deps.db), {
      auth: "router",
      response: { 200: PlaybackKeys, ...authErrors },
      detail: { summary: "Routers: the live public verification keys (router credential or admin key)" },
    })
    .post(
      "/v1/streams/:id/playback-tokens",
      async ({ params, body, set }) => {
        const stream = await getStream(deps.db, params.id, urls);
        const issued = await issuePlaybackToken(deps.db, stream.id, stream.playback, body, deps.events);
        deps.log.info({ streamId: stream.id, ttlSeconds: body.ttlSeconds }, "playback token issued");
        set.status = 201;
        return issued;
      },
      {
        ...tokenRoute,
        detail: {
          tags: ["streams"],
          summary: "A playback token for a signed stream (signed by control's own key) and tokenised URLs",
        },
      },
    )
    .post(
      "/v1/assets/:id/playback-tokens",
      async ({ params, body, set }) => {
        // An asset of a signed stream is signed too; its token names the asset (ADR 0095).
        const asset = toAsset(await getAsset(deps.db, params.id), deps.config.playbackBaseUrl);
        const issued = await issuePlaybackToken(deps.db, asset.id, asset.playback, body, deps.events);
        deps.log.info({ assetId: asset.id, ttlSeconds: body.ttlSeconds }, "playback token issued");
        set.status = 201;
        return issued;
      },
      {
        ...tokenRoute,
        detail: { tags: ["assets"], summary: "A playback token for an asset of a signed stream" },
      },
    );
}
