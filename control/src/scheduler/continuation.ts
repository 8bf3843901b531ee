/**
 * A session that moved to another node goes on from where the old node's playlists stood (ADR
 * 0091): the last position a node reported for the stream, when the stream is now served by a
 * different node and its session is not over. Pure.
 */
import type { StreamStatusValue } from "@dionysia/shared";

export interface Position {
  /** The node that reported it. */
  nodeId: string;
  mediaSequence: number;
  discontinuitySequence: number;
}

export function continueFromFor(
  s: { status: StreamStatusValue; nodeId: string | null; transcodeNodeId: string | null },
  at: Position | undefined,
): { mediaSequence: number; discontinuitySequence: number } | undefined {
  const serving = s.transcodeNodeId ?? s.nodeId;
  if (!at || !serving || at.nodeId === serving || s.status === "idle") return undefined;
  return { mediaSequence: at.mediaSequence, discontinuitySequence: at.discontinuitySequence };
}
