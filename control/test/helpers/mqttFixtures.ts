/** Valid sample payloads for the MQTT contract (shared schemas), for bus and agent tests. */
import type {
  DesiredStream,
  NodeAnnounce,
  NodeTelemetry,
  ProfileSpec,
  StreamStatusMessage,
} from "@dionysia/shared";
import { BUILTIN_PROFILES } from "@dionysia/shared";

export function sampleAnnounce(id: string, o: Partial<NodeAnnounce> = {}): NodeAnnounce {
  return {
    id,
    region: "eu",
    lat: 48.85,
    lon: 2.35,
    publicUrl: `http://${id}.example:8090`,
    ingest: { rtmp: `rtmp://${id}.example:1935/live`, relay: `rtmp://${id}.example:1935/live` },
    capacity: { loadUnits: 100, measured: false },
    encoders: ["libx264"],
    mediaServer: "embedded",
    version: "0.1.0",
    ts: Date.now(),
    ...o,
  };
}

export function sampleTelemetry(o: Partial<NodeTelemetry> = {}): NodeTelemetry {
  return {
    ts: Date.now(),
    cpu: 0.25,
    memory: { usedBytes: 1e9, totalBytes: 4e9 },
    loadUsed: 10,
    loadCapacity: 100,
    ingressBps: 3e6,
    egressBps: 9e6,
    streams: [{ id: "s1", status: "live", bitrateKbps: 3000, fps: 30, speed: 1.02, load: 10 }],
    ...o,
  };
}

export function sampleStatus(id: string, nodeId: string): StreamStatusMessage {
  return { id, nodeId, status: "live", ts: Date.now(), bitrateKbps: 2500, fps: 30, speed: 1 };
}

export function sampleProfile(): ProfileSpec {
  return BUILTIN_PROFILES["builtin-360p"] as ProfileSpec;
}

export function sampleDesiredStream(id: string, o: Partial<DesiredStream> = {}): DesiredStream {
  return { id, role: "origin", profile: sampleProfile(), keyHash: "a".repeat(64), ...o };
}
