/**
 * Builder for the desired state control publishes per node (routes: scheduler/routes.ts).
 * Pure; it validates against the shared schema so a bug surfaces here, not on every origin.
 */
import { type DesiredStream, NodeDesired, validate } from "@dionysia/shared";

/** Full desired state of one node; streams sorted by id (stable payloads, easy diffs). */
export function buildDesired(
  nodeId: string,
  version: number,
  assignments: readonly DesiredStream[],
  deleteAssets: readonly string[] = [],
): NodeDesired {
  const seen = new Set<string>();
  for (const a of assignments) {
    if (seen.has(a.id)) throw new Error(`stream ${a.id} assigned twice to node ${nodeId}`);
    seen.add(a.id);
  }
  const desired: NodeDesired = {
    version,
    nodeId,
    streams: [...assignments].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    ...(deleteAssets.length > 0 ? { deleteAssets: [...deleteAssets] } : {}),
  };
  const err = validate(NodeDesired, desired);
  if (err) throw new Error(`invalid desired state for node ${nodeId}: ${err}`);
  return desired;
}
