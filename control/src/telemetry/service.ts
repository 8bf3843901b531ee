/**
 * The dashboard MQTT credential for browsers (ADR 0070): where the WebSocket listener is and the
 * read-only user's name, password and filters. The filters are the dashboard role's row of the
 * one permission table (shared/src/mqtt-auth.ts), so what is offered is exactly what is allowed.
 */
import { PERMISSIONS, ROLE_USERNAMES } from "@dionysia/shared";
import type { Static } from "elysia";
import type { Deps } from "../deps.ts";
import { ApiError } from "../errors/index.ts";
import type { DashboardMqtt } from "./model.ts";

type Credential = Static<typeof DashboardMqtt>;

const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "[::]"]);

const unavailable = (why: string) => new ApiError(404, "mqtt_dashboard_unavailable", why);

export interface WsListenerSeen {
  port: number;
  path: string;
}

/**
 * Pure: the credential, or the reason there is none. A listener on every interface is reached
 * under the host name the browser used for this API (same process, same host).
 */
export function dashboardCredential(
  c: Pick<Deps["config"], "dashboardPassword" | "wsPublicUrl" | "embeddedHost">,
  ws: WsListenerSeen | undefined,
  requestHost: string,
): Credential {
  if (!c.dashboardPassword)
    throw unavailable("no dashboard MQTT credential: set MQTT_DASHBOARD_PASSWORD on control");
  let url = c.wsPublicUrl;
  if (!url) {
    if (!ws)
      throw unavailable(
        "no MQTT over WebSockets listener: set MQTT_EMBEDDED_WS_PORT (embedded broker) or MQTT_WS_PUBLIC_URL (external broker)",
      );
    const bound = c.embeddedHost;
    const host = WILDCARD_HOSTS.has(bound) ? requestHost : bound.includes(":") ? `[${bound}]` : bound;
    url = `ws://${host}:${ws.port}${ws.path}`;
  }
  return {
    url,
    username: ROLE_USERNAMES.dashboard,
    password: c.dashboardPassword,
    topics: [...PERMISSIONS.dashboard.subscribe],
  };
}

/** Remembers the embedded WebSocket listener once the network layer has started it. */
export function telemetryService(deps: Deps) {
  let ws: WsListenerSeen | undefined;
  deps.events.on("mqtt.started", (e) => {
    ws = e.ws;
  });
  return {
    credential: (requestHost: string) => dashboardCredential(deps.config, ws, requestHost),
  };
}
