/**
 * The router's series. Outcomes are pre-resolved children so a request only adds to a number.
 * `/live/` and `/vod/` requests share the outcomes (ADR 0096): a VOD 302 is a `redirect` too.
 */
import type { RouteTable } from "../table/store.ts";
import { Counter, Gauge, Histogram, Registry } from "./metrics.ts";

export const OUTCOMES = [
  "redirect",
  "proxy",
  "not_found",
  "unavailable",
  "bad_request",
  "bad_gateway",
  "method_not_allowed",
  "preflight",
  "health",
  "metrics",
  "time",
  // Signed playback (ADR 0060): no token / a token that does not grant the request.
  "token_required",
  "token_invalid",
] as const;
export type Outcome = (typeof OUTCOMES)[number];

export function createRouterMetrics(table: RouteTable) {
  const registry = new Registry();
  const requests = registry.register(
    new Counter("dionysia_router_requests_total", "HTTP requests by outcome"),
  );
  const byOutcome = Object.fromEntries(OUTCOMES.map((o) => [o, requests.child({ outcome: o })])) as Record<
    Outcome,
    (n?: number) => void
  >;
  const duration = registry.register(
    new Histogram(
      "dionysia_router_request_duration_seconds",
      "Proxy mode: time until the origin's response head (redirects are counted, not timed)",
      [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1],
    ),
  );
  registry.register(
    new Gauge(
      "dionysia_router_routes",
      "Routes (live streams and VOD assets) in the route table",
      () => table.size,
    ),
  );
  registry.register(
    new Gauge("dionysia_router_nodes_offline", "Nodes currently reported offline", () => table.offlineNodes),
  );
  const updates = registry.register(
    new Counter("dionysia_router_mqtt_messages_total", "MQTT messages by effect (dropped = invalid)"),
  );
  const bootstraps = registry.register(
    new Counter("dionysia_router_bootstrap_total", "Bootstrap attempts against control by result"),
  );
  const mqttConnected = registry.register(
    new Gauge("dionysia_router_mqtt_connected", "1 while connected to the MQTT broker"),
  );
  return { registry, requests, byOutcome, duration, updates, bootstraps, mqttConnected };
}

export type RouterMetrics = ReturnType<typeof createRouterMetrics>;
