import { ErrorBody, Route } from "@dionysia/shared";
import { Elysia, t } from "elysia";
import { authPlugin } from "../auth/index.ts";
import type { Deps } from "../deps.ts";
import { listRoutes } from "./service.ts";

export function routeRoutes(deps: Deps) {
  return new Elysia({ prefix: "/v1/routes", tags: ["routes"] })
    .use(authPlugin(deps))
    .get("/", async () => ({ routes: await listRoutes(deps.db) }), {
      auth: "router",
      response: { 200: t.Object({ routes: t.Array(Route) }), 401: ErrorBody, 403: ErrorBody },
      detail: {
        summary: "Routers: every routed stream and its origins (router credential or admin key)",
        description:
          "The same routes as the retained MQTT `routes/{id}` topics. A route with no origins means the stream is starting or failing over: routers answer 503 (retry), not 404.",
      },
    });
}
