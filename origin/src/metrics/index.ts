/** Prometheus metrics of an origin node (one registry per node, so tests can run several). */
import { Counter, Gauge, Registry } from "prom-client";
import { PUBLISH_REFUSALS } from "../auth/publish-refusal.ts";

/**
 * The HTTP server's counters as plain numbers: the hot path adds to a field or a map entry and
 * never looks labels up in prom-client; `collect()` copies them into the counters at scrape time.
 */
export interface HttpCounters {
  /** Body bytes served under /live, by kind. */
  bytes: { manifest: number; segment: number };
  /** Requests by `"${method} ${status}"`. */
  requests: Map<string, number>;
  /**
   * Live thumbnails (ADR 0093): JPEGs answered (as written or resized), resizes run (an ffmpeg
   * each; cache hits are not counted), and resizes refused because all slots were busy (503).
   */
  thumbnails: { served: number; resized: number; busy: number };
}

export interface OriginMetrics {
  registry: Registry;
  activeStreams: Gauge;
  encoderSpeed: Gauge<"stream">;
  encoderFps: Gauge<"stream">;
  segmentsWritten: Counter<"stream">;
  transcoderRestarts: Counter<"stream" | "reason">;
  bytesServed: Counter<"kind">;
  httpRequests: Counter<"method" | "status">;
  thumbnails: Counter<"kind">;
  /** Publishes refused by the access policy, by reason (wrong_key, no_capacity, already_live...). */
  publishRejected: Counter<"reason">;
  /** Written by the HTTP server; `bytesServed`/`httpRequests` read them on scrape. */
  http: HttpCounters;
  /** Body bytes served under /live so far (all kinds): the egress telemetry reads this. */
  egressBytes(): number;
}

export function createOriginMetrics(): OriginMetrics {
  const registry = new Registry();
  const registers = [registry];
  const http: HttpCounters = {
    bytes: { manifest: 0, segment: 0 },
    requests: new Map(),
    thumbnails: { served: 0, resized: 0, busy: 0 },
  };
  return {
    http,
    egressBytes: () => http.bytes.manifest + http.bytes.segment,
    registry,
    activeStreams: new Gauge({
      name: "dionysia_origin_active_streams",
      help: "Streams with a running transcoder",
      registers,
    }),
    encoderSpeed: new Gauge({
      name: "dionysia_origin_encoder_speed",
      help: "Encoder speed as a multiple of real time (>= 1 keeps up)",
      labelNames: ["stream"],
      registers,
    }),
    encoderFps: new Gauge({
      name: "dionysia_origin_encoder_fps",
      help: "Frames encoded per second",
      labelNames: ["stream"],
      registers,
    }),
    segmentsWritten: new Counter({
      name: "dionysia_origin_segments_written_total",
      help: "Media segments written, all renditions",
      labelNames: ["stream"],
      registers,
    }),
    transcoderRestarts: new Counter({
      name: "dionysia_origin_transcoder_restarts_total",
      help: "Transcoder restarts after a crash or stall",
      labelNames: ["stream", "reason"],
      registers,
    }),
    publishRejected: publishRejectedCounter(registers),
    bytesServed: new Counter({
      name: "dionysia_origin_bytes_served_total",
      help: "Response body bytes served under /live",
      labelNames: ["kind"],
      registers,
      collect() {
        this.reset();
        this.inc({ kind: "manifest" }, http.bytes.manifest);
        this.inc({ kind: "segment" }, http.bytes.segment);
      },
    }),
    thumbnails: new Counter({
      name: "dionysia_origin_thumbnails_total",
      help: "Live thumbnails: served (JPEGs answered), resized (ffmpeg resizes run), busy (503, no slot)",
      labelNames: ["kind"],
      registers,
      collect() {
        this.reset();
        for (const [kind, n] of Object.entries(http.thumbnails)) this.inc({ kind }, n);
      },
    }),
    httpRequests: new Counter({
      name: "dionysia_origin_http_requests_total",
      help: "HTTP requests by method and status",
      labelNames: ["method", "status"],
      registers,
      collect() {
        this.reset();
        for (const [key, n] of http.requests) {
          const sp = key.indexOf(" ");
          this.inc({ method: key.slice(0, sp), status: key.slice(sp + 1) }, n);
        }
      },
    }),
  };
}

function publishRejectedCounter(registers: Registry[]): Counter<"reason"> {
  const c = new Counter({
    name: "dionysia_origin_publish_rejected_total",
    help: "Publishes refused, by reason (wrong_key, no_capacity, already_live, node_unavailable, control_*)",
    labelNames: ["reason"],
    registers,
  });
  // Every reason is exported from the start (at 0), so a rate() over it has a series to read.
  for (const reason of PUBLISH_REFUSALS) c.inc({ reason }, 0);
  return c;
}
