import { ErrorBody } from "@dionysia/shared";
import { Elysia, t } from "elysia";
import { authPlugin } from "../auth/index.ts";
import type { Deps } from "../deps.ts";
import { ApiKeyList, ApiKeyWithSecret, CreateApiKey, IdParams } from "./model.ts";
import { createApiKey, listApiKeys, revokeApiKey } from "./service.ts";

const authErrors = { 401: ErrorBody, 403: ErrorBody };

export function apiKeyRoutes(deps: Deps) {
  return new Elysia({ prefix: "/v1/api-keys", tags: ["api-keys"] })
    .use(authPlugin(deps))
    .post(
      "/",
      async ({ body, set }) => {
        const key = await createApiKey(deps.db, body);
        deps.log.info({ apiKeyId: key.id, role: key.role }, "api key created");
        set.status = 201;
        return key;
      },
      {
        auth: "admin",
        body: CreateApiKey,
        response: { 201: ApiKeyWithSecret, 400: ErrorBody, 413: ErrorBody, 422: ErrorBody, ...authErrors },
        detail: { summary: "Create an API key (the key is shown once)" },
      },
    )
    .get("/", async () => ({ items: await listApiKeys(deps.db) }), {
      auth: "admin",
      response: { 200: ApiKeyList, ...authErrors },
      detail: { summary: "List API keys (never the key or its hash)" },
    })
    .delete(
      "/:id",
      async ({ params, set }) => {
        await revokeApiKey(deps.db, params.id);
        deps.log.info({ apiKeyId: params.id }, "api key revoked");
        set.status = 204;
      },
      {
        auth: "admin",
        params: IdParams,
        response: { 204: t.Void(), 404: ErrorBody, ...authErrors },
        detail: { summary: "Revoke an API key" },
      },
    );
}
