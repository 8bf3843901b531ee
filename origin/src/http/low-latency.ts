/**
 * /live requests of a low-latency stream that files alone cannot answer: media playlists (from
 * the packagers' memory, held for a blocking reload), and the part a preload hint names before it
 * is written (held until it is on disk, then served as the file it is). Everything else, and any
 * stream without packagers, goes on to the file server.
 */
import { waitForPart } from "../packager/blocking.ts";
import { streamSegment } from "../packager/chunked.ts";
import type { Segmenter } from "../packager/segmenter.ts";
import type { LowLatencyRun } from "../supervisor/low-latency.ts";
import { parseRunFile } from "../supervisor/low-latency.ts";

export interface LowLatencySource {
  lowLatencyRun(streamId: string): LowLatencyRun | undefined;
}

export const HLS_TYPE = "application/vnd.apple.mpegurl";

/**
 * A playlist that answered a blocking request holds at least the part asked for, whatever comes
 * later: a CDN may keep it by its full URL for a few parts (the next request names the next part).
 * One without a query is stale after the next part: not kept at all.
 */
export function playlistCacheControl(blocking: boolean, partTarget: number): string {
  return blocking ? `public, max-age=${Math.max(1, Math.round(6 * partTarget))}` : "public, max-age=0";
}

/** How long a request for the next, not yet written part is held (three part targets). */
const HINT_HOLD_TARGETS = 3;

export type LowLatencyAnswer = Response | "file" | undefined;

/**
 * `rest` is the path after /live/ (`{id}/{dir}/{file}`). Resolves to a Response, "file" (serve
 * the file now: it exists or never will), or undefined (not a low-latency stream: serve as usual).
 */
export function answerLowLatency(
  source: LowLatencySource,
  req: Request,
  rest: string,
  headers: Record<string, string>,
): Promise<LowLatencyAnswer> | undefined {
  const slash = rest.indexOf("/");
  if (slash <= 0) return undefined;
  const ll = source.lowLatencyRun(rest.slice(0, slash));
  if (!ll) return undefined;
  const path = rest.slice(slash + 1);
  if (path.endsWith(".m3u8")) return playlist(ll, req, path, headers);
  if (path === "manifest.mpd" && ll.dash) return Promise.resolve(manifest(ll, req, headers));
  const file = path.slice(path.lastIndexOf("/") + 1);
  const named = parseRunFile(file);
  if (!named || named.runId !== ll.runId) return undefined;
  const seg = ll.segmenterIn(path.slice(0, path.lastIndexOf("/")));
  if (!seg) return undefined;
  // LL-DASH: the segment being written goes out as its chunks arrive (chunked transfer).
  if (named.part === undefined)
    return req.method === "GET" ? chunked(seg, named.msn, req, headers) : undefined;
  if (seg.has(named.msn, named.part)) return undefined;
  // A preload hint: the part being written next. Held (a bounded wait), then the file.
  const next = seg.window.nextPart();
  if (!next || next.msn !== named.msn || next.part !== named.part) return undefined;
  const hold = seg.playlistInput().partTarget * HINT_HOLD_TARGETS * 1000;
  return waitForPart(seg, named.msn, named.part, hold, req.signal).then(() => "file" as const);
}

export const DASH_TYPE = "application/dash+xml";

function manifest(ll: LowLatencyRun, req: Request, headers: Record<string, string>): Response | "file" {
  const mpd = ll.manifest();
  if (!mpd) return "file";
  // Every update announces about one more segment: never kept past it.
  const h = { ...headers, "Content-Type": DASH_TYPE, "Cache-Control": "public, max-age=0" };
  return new Response(req.method === "HEAD" ? null : mpd, { headers: h });
}

async function chunked(
  seg: Segmenter,
  msn: number,
  req: Request,
  headers: Record<string, string>,
): Promise<LowLatencyAnswer> {
  const body = await streamSegment(seg, msn, { signal: req.signal });
  if (!body) return "file";
  // No Content-Length: the body grows with the segment. Not cacheable until it is whole (then
  // the file, immutable, answers).
  const h = { ...headers, "Content-Type": "video/iso.segment", "Cache-Control": "no-cache" };
  return new Response(body, { headers: h });
}

async function playlist(
  ll: LowLatencyRun,
  req: Request,
  path: string,
  headers: Record<string, string>,
): Promise<LowLatencyAnswer> {
  const query = new URL(req.url).searchParams;
  const answer = ll.answer(path, query, req.signal);
  // The master and anything else not a rendition's playlist are files.
  if (!answer) return undefined;
  const a = await answer;
  const seg = ll.segmenter(path);
  const partTarget = seg?.playlistInput().partTarget ?? 1;
  const h = {
    ...headers,
    "Content-Type": a.status === 200 ? HLS_TYPE : "text/plain; charset=utf-8",
    "Cache-Control": a.status === 200 ? playlistCacheControl(a.blocking, partTarget) : "no-store",
  };
  return new Response(req.method === "HEAD" ? null : a.body, { status: a.status, headers: h });
}
