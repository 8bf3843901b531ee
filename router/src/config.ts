/**
 * Router configuration. Declared with shared's `v.*` builders; the entries pass the environment in
 * as a plain object (Deno.env.toObject() / process.env), so nothing here reads a runtime global.
 */
import { type ConfigOf, loadConfig, optional, v } from "../../shared/src/config.ts";

export const routerSpecs = {
  host: v.string("ROUTER_HOST", { default: "0.0.0.0", doc: "Interface to listen on" }),
  port: v.port("ROUTER_PORT", { default: 8000, doc: "HTTP port (0 = ephemeral)" }),
  controlUrl: v.url("CONTROL_URL", {
    default: "http://127.0.0.1:8080",
    protocols: ["http", "https"],
    doc: "Control base URL; the route table is bootstrapped from `GET {CONTROL_URL}/v1/routes`",
  }),
  routerKey: v.secret("DIONYSIA_ROUTER_KEY", {
    doc: "Router credential sent as `Authorization: Bearer` to control (never logged)",
  }),
  mqttUrl: optional(
    v.url("MQTT_URL", {
      protocols: ["mqtt", "mqtts", "ws", "wss", "tcp"],
      doc: "Broker for live route / node-state updates; unset = bootstrap-only (no live updates)",
    }),
  ),
  mqttUsername: optional(
    v.string("MQTT_USERNAME", {
      doc: "Broker user name (default: `dionysia.router` when a password is set)",
    }),
  ),
  mqttPassword: optional(
    v.string("MQTT_PASSWORD", {
      secret: true,
      doc: "The router's MQTT password (control's MQTT_ROUTER_PASSWORD; never logged)",
    }),
  ),
  mqttCaFile: optional(
    v.string("MQTT_CA_FILE", { doc: "PEM CA bundle trusted for an `mqtts://` broker (default: system CAs)" }),
  ),
  mode: v.enumOf("ROUTER_MODE", ["redirect", "proxy"] as const, {
    default: "redirect",
    doc: "`redirect`: 302 to the origin; `proxy`: stream the origin's response through the router",
  }),
  latHeader: v.string("ROUTER_GEO_LAT_HEADER", {
    default: "cloudfront-viewer-latitude",
    doc: "Header carrying the client's latitude (CDN-provided)",
  }),
  lonHeader: v.string("ROUTER_GEO_LON_HEADER", {
    default: "cloudfront-viewer-longitude",
    doc: "Header carrying the client's longitude (CDN-provided)",
  }),
  fallbackLatHeader: v.string("ROUTER_GEO_FALLBACK_LAT_HEADER", {
    default: "x-client-lat",
    doc: "Second latitude header, tried after ROUTER_GEO_LAT_HEADER",
  }),
  fallbackLonHeader: v.string("ROUTER_GEO_FALLBACK_LON_HEADER", {
    default: "x-client-lon",
    doc: "Second longitude header, tried after ROUTER_GEO_LON_HEADER",
  }),
  countryHeaders: v.list("ROUTER_GEO_COUNTRY_HEADERS", {
    default: ["cf-ipcountry", "cloudfront-viewer-country"],
    doc: "Headers carrying an ISO 3166-1 alpha-2 country code, mapped to the country's centroid",
  }),
  clientIpHeader: optional(
    v.string("ROUTER_CLIENT_IP_HEADER", {
      doc: "Signed playback: header with the viewer's address (first entry), for tokens' `allow_ips`; unset: such tokens are refused",
    }),
  ),
  redirectMaxAge: v.int("ROUTER_REDIRECT_MAX_AGE", {
    default: 0,
    min: 0,
    max: 3600,
    doc: "Seconds a 302 may be cached (`0` = `Cache-Control: no-store`)",
  }),
  proxyTimeoutMs: v.int("ROUTER_PROXY_TIMEOUT_MS", {
    default: 10000,
    min: 100,
    doc: "Proxy mode: time allowed for the origin's response headers (a blocking LL-HLS reload, `_HLS_msn`, 30 s more)",
  }),
  requireBootstrap: v.bool("ROUTER_REQUIRE_BOOTSTRAP", {
    default: false,
    doc: "`/health` answers 503 until the first successful bootstrap from control",
  }),
  bootstrapRetryMaxMs: v.int("ROUTER_BOOTSTRAP_RETRY_MAX_MS", {
    default: 30000,
    min: 100,
    doc: "Upper bound of the exponential back-off between bootstrap attempts",
  }),
  logLevel: v.enumOf("LOG_LEVEL", ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const, {
    default: "info",
    doc: "Log level (JSON lines on stdout)",
  }),
};

export type RouterConfig = ConfigOf<typeof routerSpecs>;

/** Validates every variable; throws a ConfigError naming each bad one. Header names are lower-cased. */
export function loadRouterConfig(env: Record<string, string | undefined>): RouterConfig {
  const c = loadConfig(routerSpecs, env);
  return {
    ...c,
    latHeader: c.latHeader.toLowerCase(),
    lonHeader: c.lonHeader.toLowerCase(),
    fallbackLatHeader: c.fallbackLatHeader.toLowerCase(),
    fallbackLonHeader: c.fallbackLonHeader.toLowerCase(),
    countryHeaders: c.countryHeaders.map((h) => h.toLowerCase()),
    clientIpHeader: c.clientIpHeader?.toLowerCase(),
  };
}
