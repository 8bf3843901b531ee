/**
 * Bearer guard as an Elysia macro: `{ auth: "user" }` on a route. admin > user for API keys;
 * `node` and `router` are the service credentials from the environment (admin keys also pass
 * `router`, so an operator can inspect routes).
 */
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { ApiError } from "../errors/index.ts";
import { bearerToken, findApiKey, matchesSecret, type Need } from "./service.ts";

const unauthorized = (msg: string) => new ApiError(401, "unauthorized", msg);
const forbidden = (msg: string) => new ApiError(403, "forbidden", msg);

export async function authorize(deps: Deps, header: string | null | undefined, need: Need): Promise<void> {
  const token = bearerToken(header);
  if (!token) throw unauthorized("missing bearer token");
  if (need === "node") {
    if (matchesSecret(token, deps.config.nodeKey)) return;
    throw unauthorized("invalid node credential");
  }
  if (need === "router" && matchesSecret(token, deps.config.routerKey)) return;
  const key = await findApiKey(deps.db, token);
  if (!key) throw unauthorized("invalid or revoked API key");
  if ((need === "admin" || need === "router") && key.role !== "admin")
    throw forbidden(
      `this endpoint needs an ${need === "router" ? "admin key or router credential" : "admin key"}`,
    );
}

export function authPlugin(deps: Deps) {
  return new Elysia({ name: "auth", seed: deps.instanceId }).macro({
    auth: (need: Need) => ({
      async beforeHandle({ request }) {
        await authorize(deps, request.headers.get("authorization"), need);
      },
    }),
  });
}
