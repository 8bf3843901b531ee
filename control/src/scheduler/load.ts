/**
 * What a node carries (docs/adr/0003-load-units.md, "What a node carries"): pure, no I/O. A
 * stream holds its served ladder's cost on its nodes while it is live, while a reservation runs
 * (the ingest reservation made when a publish is authorized, the reconnect grace after the
 * publisher leaves), and always when it is a pull stream (control keeps those running). An idle
 * push stream holds nothing, even while it stays assigned to the node it last published to.
 */
import { COPY_COST, type ProfileSpec, type StreamStatusValue } from "@dionysia/shared";
import { servedCost } from "./ladder.ts";

export interface CarriedStream {
  id: string;
  nodeId: string | null;
  transcodeNodeId: string | null;
  status: StreamStatusValue;
  /** Pull input (a source URL): desired running whatever its status. */
  pull: boolean;
  /** Epoch ms until which the stream's capacity is held even when not live. */
  reservedUntil: number | null;
  profile: ProfileSpec;
  /** Rungs admitted by control (null: the whole ladder). */
  admitted: readonly string[] | null;
}

export function holdsCapacity(
  s: Pick<CarriedStream, "status" | "pull" | "reservedUntil">,
  now: number,
): boolean {
  return s.pull || s.status === "live" || (s.reservedUntil ?? 0) > now;
}

/**
 * Load units each node carries. An overflow stream costs its ladder on the transcoding node and
 * only the relay (a copy) on the ingest node.
 */
export function carriedLoads(
  streams: Iterable<CarriedStream>,
  now: number,
  exceptStreamId?: string,
): Map<string, number> {
  const loads = new Map<string, number>();
  const add = (id: string, v: number) => loads.set(id, (loads.get(id) ?? 0) + v);
  for (const s of streams) {
    if (!s.nodeId || s.id === exceptStreamId || !holdsCapacity(s, now)) continue;
    const cost = servedCost(s.profile, s.admitted);
    if (s.transcodeNodeId) {
      add(s.transcodeNodeId, cost);
      add(s.nodeId, COPY_COST);
    } else add(s.nodeId, cost);
  }
  return loads;
}
