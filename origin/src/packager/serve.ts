/**
 * One media-playlist request against a live Segmenter: the query decides (blocking.ts), a held
 * request waits for its part, then the playlist is rendered (a delta update when asked). Status
 * and body only: headers, caching and routes belong to the HTTP layer that wires this in.
 */
import { decideReload, holdLimitMs, parseReloadQuery, waitForPart } from "./blocking.ts";
import { type PlaylistNaming, type RenditionReport, targetDuration } from "./playlist.ts";
import type { Segmenter } from "./segmenter.ts";

export interface PlaylistAnswer {
  status: 200 | 400 | 503;
  body: string;
  /** Whether the request named a part or segment (a blocking reload). */
  blocking: boolean;
}

export interface PlaylistRequestOptions {
  /** The other rungs' reports, read after the wait so they are as new as this playlist. */
  renditionReports?: () => RenditionReport[];
  /** Aborts the wait when the client goes away. */
  signal?: AbortSignal;
  /** Overrides the hold limit (default three target durations). */
  holdMs?: number;
  /**
   * Whether an ended window is shown as ended (EXT-X-ENDLIST; default true). False while an
   * encoder restart is under way: the next run continues the same playlist.
   */
  ended?: boolean;
  /** File names as this playlist's URIs (another rung's files, served under a shed rung's path). */
  naming?: PlaylistNaming;
}

export async function answerPlaylist(
  seg: Segmenter,
  query: URLSearchParams,
  o: PlaylistRequestOptions = {},
): Promise<PlaylistAnswer> {
  const q = parseReloadQuery((n) => query.get(n));
  if ("bad" in q) return { status: 400, body: `${q.bad}\n`, blocking: true };
  const input = seg.playlistInput();
  const decision = decideReload(q, {
    last: seg.window.last(),
    partTarget: input.partTarget,
    segmentDuration: input.segmentDuration,
    startMsn: seg.window.config.startMsn,
  });
  if (decision.kind === "bad") return { status: 400, body: `${decision.reason}\n`, blocking: true };
  if (decision.kind === "hold") {
    const td = targetDuration(input.segmentDuration, input.segments);
    const ok = await waitForPart(seg, decision.msn, decision.part, o.holdMs ?? holdLimitMs(td), o.signal);
    // After the end of the stream the request cannot be met; the ended playlist says why.
    if (!ok && !seg.isEnded) return { status: 503, body: "part not written in time\n", blocking: true };
  }
  const body = seg.playlist({
    skip: decision.skip,
    renditionReports: o.renditionReports?.() ?? [],
    ended: seg.isEnded && o.ended !== false,
    ...(o.naming ? { naming: o.naming } : {}),
  });
  return { status: 200, body, blocking: q.msn !== undefined };
}
