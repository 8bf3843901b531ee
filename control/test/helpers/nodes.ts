/** A placement view of a healthy node with room (scheduler and network-plan tests). */
import type { NodeView } from "../../src/scheduler/placement.ts";

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
