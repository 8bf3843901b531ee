/** VOD assets (ADR 0095): `GET /v1/assets`, `GET/DELETE /v1/assets/{id}`, `GET /v1/streams/{id}/assets`. */
import { ErrorBody } from "@dionysia/shared";
import { Elysia, t } from "elysia";
import { authPlugin } from "../auth/index.ts";
import type { Deps } from "../deps.ts";
import { notFound } from "../errors/index.ts";
import { getStreamRow } from "../streams/service.ts";
import { Asset, AssetPage, AssetParams, AssetQuery } from "./model.ts";
import { deleteAsset, getAsset, listAssets, toAsset } from "./service.ts";

const authErrors = { 401: ErrorBody, 403: ErrorBody };

export function assetRoutes(deps: Deps) {
  const base = deps.config.playbackBaseUrl;
  const page = async (q: { limit?: number; cursor?: string; streamId?: string }) => {
    const r = await listAssets(deps.db, q);
    return { items: r.items.map((a) => toAsset(a, base)), nextCursor: r.nextCursor };
  };
  return new Elysia({ tags: ["assets"] })
    .use(authPlugin(deps))
    .get("/v1/assets", ({ query }) => page(query), {
      auth: "user",
      query: AssetQuery,
      response: { 200: AssetPage, 422: ErrorBody, ...authErrors },
      detail: {
        summary: "Recordings as VOD assets, newest first",
        description:
          "A stream with `record: true` keeps every segment of a session (its publishes within one reconnect window) and, when the window closes, becomes an asset played at `playback.hls` through the router.",
      },
    })
    .get("/v1/assets/:id", async ({ params }) => toAsset(await getAsset(deps.db, params.id), base), {
      auth: "user",
      params: AssetParams,
      response: { 200: Asset, 404: ErrorBody, ...authErrors },
      detail: { summary: "One asset" },
    })
    .delete(
      "/v1/assets/:id",
      async ({ params, set }) => {
        const row = await deleteAsset(deps.db, params.id);
        deps.log.info({ assetId: row.id, streamId: row.streamId, nodeId: row.nodeId }, "asset deleted");
        // Its route goes, and its node is told to remove the files (desired state).
        deps.events.emit("asset.deleted", { assetId: row.id, nodeId: row.nodeId });
        set.status = 204;
      },
      {
        auth: "user",
        params: AssetParams,
        response: { 204: t.Void(), 404: ErrorBody, ...authErrors },
        detail: { summary: "Delete an asset: unplayable at once, its files removed from its node" },
      },
    )
    .get(
      "/v1/streams/:id/assets",
      async ({ params, query }) => {
        if (!(await getStreamRow(deps.db, params.id))) throw notFound("stream", params.id);
        return page({ ...query, streamId: params.id });
      },
      {
        auth: "user",
        params: AssetParams,
        query: t.Omit(AssetQuery, ["streamId"]),
        response: { 200: AssetPage, 404: ErrorBody, 422: ErrorBody, ...authErrors },
        detail: { summary: "A stream's assets, newest first" },
      },
    );
}
