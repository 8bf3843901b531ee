/** Prometheus metrics of an origin node (one registry per node, so tests can run several). */
import { Counter, Gauge, Registry } from "prom-client";

export interface OriginMetrics {
  registry: Registry;
  activeStreams: Gauge;
  encoderSpeed: Gauge<"stream">;
  encoderFps: Gauge<"stream">;
  segmentsWritten: Counter<"stream">;
  transcoderRestarts: Counter<"stream" | "reason">;
  bytesServed: Counter<"kind">;
  httpRequests: Counter<"method" | "status">;
}

export function createOriginMetrics(): OriginMetrics {
  const registry = new Registry();
  const registers = [registry];
  return {
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
    bytesServed: new Counter({
      name: "dionysia_origin_bytes_served_total",
      help: "Response body bytes served under /live",
      labelNames: ["kind"],
      registers,
    }),
    httpRequests: new Counter({
      name: "dionysia_origin_http_requests_total",
      help: "HTTP requests by method and status",
      labelNames: ["method", "status"],
      registers,
    }),
  };
}
