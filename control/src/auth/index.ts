/**
 * Bearer guard as an Elysia macro: `{ auth: "user" }` on a route. admin > user for API keys;
 * `node` and `router` are the service credentials from the environment (admin keys also pass
 * `router`, so an operator can inspect routes). `preAuthPlugin` runs first, on `onRequest`, before
 * the body is read, parsed or validated: every /v1 request needs some valid credential (ADR 0015).
 */
import { addressKey } from "@dionysia/shared";
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { ApiError } from "../errors/index.ts";
import { authLimiterOf } from "./limit.ts";
import { bearerToken, findApiKey, matchesSecret, type Need } from "./service.ts";

const forbidden = (msg: string) => new ApiError(403, "forbidden", msg);

/** The shape of a key this API generated (`newApiKey`: dk_ + 40 base62, ~238 bits). */
const GENERATED_KEY = /^dk_[0-9A-Za-z]{40}$/;

/** `any`: some valid credential, whatever its role (the pre-check before the body is touched). */
export type Requirement = Need | "any";

export async function authorize(
  deps: Deps,
  header: string | null | undefined,
  need: Requirement,
  remoteAddr?: string,
): Promise<void> {
  const { limiter, failures, limited } = authLimiterOf(deps);
  const addr = addressKey(remoteAddr);
  const now = Date.now();
  const blocked = limiter.check(addr, now);
  const unauthorized = (reason: string, msg: string) => {
    failures.inc({ reason });
    const next = limiter.fail(addr, now);
    // Once an address is limited its flood is counted, not logged line by line.
    deps.log[blocked.blocked ? "debug" : "warn"](
      { remoteAddr: addr, reason, limited: next.blocked },
      "API authentication refused",
    );
    if (blocked.blocked) {
      limited.inc();
      const retryAfterS = Math.max(1, Math.ceil((next.blocked ? next.retryAfterMs : 1000) / 1000));
      return new ApiError(
        429,
        "rate_limited",
        `too many failed authentications from this address; retry in ${retryAfterS} s`,
        { retryAfterSeconds: retryAfterS },
        { "retry-after": String(retryAfterS) },
      );
    }
    return new ApiError(401, "unauthorized", msg);
  };
  const token = bearerToken(header);
  if (!token) throw unauthorized("missing", "missing bearer token");
  if (!blocked.blocked) {
    if ((need === "node" || need === "any") && matchesSecret(token, deps.config.nodeKey)) return;
    if (need === "node") throw unauthorized("invalid", "invalid node credential");
    if ((need === "router" || need === "any") && matchesSecret(token, deps.config.routerKey)) return;
  } else if (need === "node" || !GENERATED_KEY.test(token)) {
    // Limited: operator-chosen secrets (node, router, a bootstrap DIONYSIA_ADMIN_KEY) are not even
    // looked at, so they cannot be guessed through the answers; only generated keys still work.
    throw unauthorized("limited", "invalid credential");
  }
  const key = await findApiKey(deps.db, token);
  if (!key) throw unauthorized(blocked.blocked ? "limited" : "invalid", "invalid or revoked API key");
  if ((need === "admin" || need === "router") && key.role !== "admin")
    throw forbidden(
      `this endpoint needs an ${need === "router" ? "admin key or router credential" : "admin key"}`,
    );
}

type ServerLike = { requestIP(r: Request): { address: string } | null } | null | undefined;

export function remoteAddress(server: ServerLike, request: Request): string | undefined {
  try {
    return server?.requestIP(request)?.address ?? undefined;
  } catch {
    return undefined;
  }
}

/** Every /v1 request presents a valid credential before its body is read (no unauthenticated cost). */
export function preAuthPlugin(deps: Deps) {
  // onRequest runs before routing, for every route of the app (it is global by nature).
  return new Elysia({ name: "pre-auth", seed: deps.instanceId }).onRequest(async ({ request, server }) => {
    const path = new URL(request.url).pathname;
    if (!path.startsWith("/v1/") && path !== "/v1") return;
    await authorize(deps, request.headers.get("authorization"), "any", remoteAddress(server, request));
  });
}

export function authPlugin(deps: Deps) {
  return new Elysia({ name: "auth", seed: deps.instanceId }).macro({
    auth: (need: Need) => ({
      async beforeHandle({ request, server }) {
        await authorize(deps, request.headers.get("authorization"), need, remoteAddress(server, request));
      },
    }),
  });
}
