/**
 * Availability from mediamtx's control API: `GET /v3/paths/list` →
 * `{itemCount, pageCount, items: [{name, ready, source: {type, id}, readers, bytesReceived, ...}]}`.
 * `readyChanges` is pure (previous ready set + current items → what became ready / went away).
 */

export interface MediamtxPathItem {
  name: string;
  ready: boolean;
  source?: { type?: string; id?: string } | null;
  readers?: unknown[];
  bytesReceived?: number;
}

export interface MediamtxPathList {
  itemCount: number;
  pageCount: number;
  items: MediamtxPathItem[];
}

function isPathList(v: unknown): v is MediamtxPathList {
  const o = v as MediamtxPathList;
  return !!o && typeof o === "object" && Array.isArray(o.items) && typeof o.pageCount === "number";
}

/** Fetches every page; throws on a transport error or a malformed answer. */
export async function fetchPaths(apiUrl: string, timeoutMs = 2000): Promise<MediamtxPathItem[]> {
  const items: MediamtxPathItem[] = [];
  for (let page = 0; page < 100; page++) {
    const url = new URL("/v3/paths/list", apiUrl);
    url.searchParams.set("page", String(page));
    url.searchParams.set("itemsPerPage", "500");
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`paths list answered ${res.status}`);
    const body = (await res.json()) as unknown;
    if (!isPathList(body)) throw new Error("malformed paths list");
    for (const it of body.items) if (it && typeof it.name === "string") items.push(it);
    if (page + 1 >= body.pageCount) break;
  }
  return items;
}

export function readyChanges(
  previous: ReadonlySet<string>,
  items: MediamtxPathItem[],
): { ready: MediamtxPathItem[]; gone: string[]; now: Set<string> } {
  const now = new Set(items.filter((i) => i.ready).map((i) => i.name));
  return {
    ready: items.filter((i) => i.ready && !previous.has(i.name)),
    gone: [...previous].filter((n) => !now.has(n)),
    now,
  };
}

/** mediamtx source types → our ingest protocols. */
export function protocolOf(sourceType: string | undefined): "rtmp" | "srt" | "rtsp" | "webrtc" | "pull" {
  const t = (sourceType ?? "").toLowerCase();
  if (t.startsWith("rtmpconn")) return "rtmp";
  if (t.startsWith("srtconn")) return "srt";
  if (t.startsWith("rtspsession") || t.startsWith("rtspssession")) return "rtsp";
  if (t.startsWith("webrtcsession")) return "webrtc";
  return "pull";
}
