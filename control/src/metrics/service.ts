/** Prometheus metrics, one registry per control instance (tests run several in one process). */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export interface ControlMetrics {
  registry: Registry;
  httpRequests: Counter<"method" | "route" | "status">;
  httpDuration: Histogram<"method" | "route">;
  streamsByStatus: Gauge<"status">;
  ingestAuthFailures: Counter<"reason">;
}

export function createMetrics(): ControlMetrics {
  const registry = new Registry();
  return {
    registry,
    httpRequests: new Counter({
      name: "dionysia_control_http_requests_total",
      help: "HTTP requests by route template and status",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "dionysia_control_http_request_duration_seconds",
      help: "HTTP request latency",
      labelNames: ["method", "route"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    streamsByStatus: new Gauge({
      name: "dionysia_control_streams",
      help: "Streams by status",
      labelNames: ["status"],
      registers: [registry],
    }),
    ingestAuthFailures: new Counter({
      name: "dionysia_control_ingest_auth_failures_total",
      help: "Rejected ingest authorizations",
      labelNames: ["reason"],
      registers: [registry],
    }),
  };
}
