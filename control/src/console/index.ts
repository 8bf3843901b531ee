/**
 * The operator console at /console (ADR 0076): a static page and its bundle, public like
 * /swagger (the page holds no data; every call it makes carries the API key the operator types).
 */
import { Elysia, t } from "elysia";
import type { Deps } from "../deps.ts";
import { consoleBundle } from "./service.ts";

/**
 * Scripts, styles, fonts and images only from this origin; the player and MQTT connect to the
 * router, origins and broker wherever they are (http/ws), and hls.js/dash.js use blob: media.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "media-src 'self' blob: http: https:",
  "worker-src 'self' blob:",
  "connect-src 'self' http: https: ws: wss:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

export function consoleRoutes(deps: Deps) {
  const page = async () => {
    const { html } = await consoleBundle(deps.log);
    return new Response(html, {
      headers: {
        "content-type": "text/html; charset=utf-8",
        "content-security-policy": CSP,
        "cache-control": "no-cache",
        "referrer-policy": "no-referrer",
      },
    });
  };
  return new Elysia({ name: "console", seed: deps.instanceId })
    .get("/console", page, { detail: { hide: true } })
    .get("/console/", page, { detail: { hide: true } })
    .get(
      "/console/assets/:name",
      async ({ params, set }) => {
        const asset = (await consoleBundle(deps.log)).assets.get(params.name);
        if (!asset) {
          set.status = 404;
          return "not found";
        }
        return new Response(asset.body, {
          // Content-hashed names (service.ts): a new build is a new name.
          headers: { "content-type": asset.type, "cache-control": "public, max-age=31536000, immutable" },
        });
      },
      { params: t.Object({ name: t.String({ maxLength: 200 }) }), detail: { hide: true } },
    );
}
