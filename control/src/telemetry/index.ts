/**
 * Telemetry API (ADR 0070): `GET /v1/telemetry/mqtt` gives a signed-in console (any API key) the
 * read-only MQTT over WebSockets credential, so its charts subscribe to the broker directly
 * instead of polling this API.
 */
import { ErrorBody } from "@dionysia/shared";
import { Elysia } from "elysia";
import { authPlugin } from "../auth/index.ts";
import type { Deps } from "../deps.ts";
import { DashboardMqtt } from "./model.ts";
import { telemetryService } from "./service.ts";

export function telemetryRoutes(deps: Deps) {
  const service = telemetryService(deps);
  return new Elysia({ tags: ["telemetry"] }).use(authPlugin(deps)).get(
    "/v1/telemetry/mqtt",
    ({ request, set }) => {
      const credential = service.credential(new URL(request.url).hostname);
      // A password: never kept by a cache between the console and control.
      set.headers["cache-control"] = "no-store";
      return credential;
    },
    {
      auth: "user",
      response: { 200: DashboardMqtt, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      detail: {
        summary: "The read-only MQTT over WebSockets credential for dashboards (mqtt.js in a browser)",
        description:
          "URL of the broker's WebSocket listener, the `dionysia.dashboard` user and password, and the only filters it may subscribe to (node telemetry, state, announce, stream status; docs/telemetry.md). 404 `mqtt_dashboard_unavailable` when MQTT_DASHBOARD_PASSWORD or a WebSocket listener (MQTT_EMBEDDED_WS_PORT, or MQTT_WS_PUBLIC_URL for an external broker) is not configured.",
      },
    },
  );
}
