import { ErrorBody } from "@dionysia/shared";
import { Elysia } from "elysia";
import { authPlugin } from "../auth/index.ts";
import type { Deps } from "../deps.ts";
import { IngestAuthorizeRequest, IngestAuthorizeResponse } from "./model.ts";
import { authorizeIngest } from "./service.ts";

export function ingestRoutes(deps: Deps) {
  return new Elysia({ prefix: "/v1/ingest", tags: ["ingest"] })
    .use(authPlugin(deps))
    .post("/authorize", ({ body }) => authorizeIngest(deps, body), {
      auth: "node",
      body: IngestAuthorizeRequest,
      response: {
        200: IngestAuthorizeResponse,
        400: ErrorBody,
        401: ErrorBody,
        403: ErrorBody,
        409: ErrorBody,
        413: ErrorBody,
        422: ErrorBody,
      },
      detail: {
        summary: "Origins: authorize a publish by stream key (node credential); claims the stream",
        description:
          "Admits the whole ladder, an overflow pair, or the ladder trimmed to what fits (the reply's `profile` is what to serve). Refusals: 403 `unknown_key` (no detail); 409 `no_capacity` (not even the cheapest rung fits, or the profile says `degrade: false`), `already_live`, `node_unavailable` (cordoned or draining).",
      },
    });
}
