/** Small HLS reading helpers for benchmarks: every request goes through the given base URL. */

/** URIs a playlist references: variant/media lines plus `URI="..."` attributes (audio, init). */
export function playlistUris(text: string): { lines: string[]; attrs: string[] } {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const attrs = [...text.matchAll(/URI="([^"]+)"/g)].map((m) => m[1] as string);
  return { lines, attrs };
}

export interface Probe {
  status: number;
  text: string;
  url: string;
}

/** GET with a short timeout; network errors come back as status 0 instead of throwing. */
export async function get(url: string, headers: Record<string, string> = {}): Promise<Probe> {
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(2000) });
    let text = "";
    if (res.ok) text = await res.text();
    else await res.body?.cancel();
    return { status: res.status, text, url: res.url };
  } catch {
    return { status: 0, text: "", url };
  }
}

/** Status of a GET whose body is read and dropped (segments). */
export async function getStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/**
 * The media segments of the first variant as absolute URLs resolved against `base` (so they go
 * through the router too), or undefined when master or media playlist is not there yet.
 */
export async function firstVariantSegments(
  base: string,
  headers: Record<string, string> = {},
): Promise<{ master: Probe; playlistUrl: string; segments: string[] } | undefined> {
  const master = await get(`${base}/master.m3u8`, headers);
  if (master.status !== 200) return undefined;
  const variant = playlistUris(master.text).lines[0];
  if (!variant) return undefined;
  const playlistUrl = new URL(variant, `${base}/master.m3u8`).href;
  const media = await get(playlistUrl, headers);
  if (media.status !== 200) return undefined;
  const segments = playlistUris(media.text).lines.map((u) => new URL(u, playlistUrl).href);
  return { master, playlistUrl, segments };
}
