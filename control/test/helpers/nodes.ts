/** A placement view of a healthy node with room, and a stream as the reconcile pass sees it (scheduler tests). */
import { BUILTIN_PROFILES, type ProfileSpec } from "@dionysia/shared";
import type { NodeView } from "../../src/scheduler/placement.ts";
import type { StreamSnapshot } from "../../src/scheduler/reconcile.ts";

export function nodeView(id: string, lat: number, lon: number, o: Partial<NodeView> = {}): NodeView {
  return {
    id,
    lat,
    lon,
    region: "eu",
    online: true,
    cordoned: false,
    draining: false,
    capacity: 100,
    used: 0,
    relayUrl: `rtmp://${id}:1935/live`,
    ...o,
  };
}

/** A live public push stream on the 360p built-in, unplaced; `o` overrides. */
export function streamSnapshot(id: string, o: Partial<StreamSnapshot> = {}): StreamSnapshot {
  return {
    id,
    playbackPolicy: "public",
    status: "live",
    profile: BUILTIN_PROFILES["builtin-360p"] as ProfileSpec,
    reconnectWindowSeconds: null,
    record: false,
    keyHash: "a".repeat(64),
    srtPassphrase: "p".repeat(32),
    source: null,
    location: null,
    region: null,
    nodeId: null,
    transcodeNodeId: null,
    admitted: null,
    srtPort: null,
    liveNodeId: null,
    reservedUntil: null,
    ...o,
  };
}
