/** Schemas of the telemetry API (ADR 0070): what a browser dashboard needs to read MQTT itself. */
import { t } from "elysia";

export const DashboardMqtt = t.Object({
  url: t.String({
    description:
      "MQTT over WebSockets URL for mqtt.js (`MQTT_WS_PUBLIC_URL`, else the embedded broker's WebSocket listener)",
    examples: ["ws://127.0.0.1:1884/mqtt"],
  }),
  username: t.String({
    description: "The read-only dashboard MQTT user (`dionysia.dashboard`)",
    examples: ["dionysia.dashboard"],
  }),
  password: t.String({ description: "Its password (`MQTT_DASHBOARD_PASSWORD`); not stored by the browser" }),
  topics: t.Array(t.String(), {
    description:
      "Every subscription filter the user may use: node telemetry, state, announce and stream status. Publishing and any other filter are refused",
    examples: [["dionysia/v1/nodes/+/telemetry", "dionysia/v1/nodes/+/state"]],
  }),
});
