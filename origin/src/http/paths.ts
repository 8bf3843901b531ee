/**
 * Maps a request path under /live/ to a file inside the data dir, or refuses it (pure).
 * Every segment is decoded on its own and checked against a strict alphabet, so `..`, encoded
 * dots and slashes, backslashes, NUL and absolute paths never reach the file system.
 */
import { resolve, sep } from "node:path";

export type ResolveResult = { ok: true; path: string; ext: string } | { ok: false; status: 400 | 404 };

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
/**
 * Two or more SEGMENTs and nothing else (so no `%`, `..`, `\`, NUL, empty or leading-dot part):
 * such a path is its own decoding and can be joined to the root as it is. Everything else takes
 * the segment-by-segment route below, which gives the same answer for these.
 */
const PLAIN_PATH = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]{0,127})+$/;

let lastRoot = "";
let lastBase = "";
function base(root: string): string {
  if (root !== lastRoot) {
    lastBase = resolve(root);
    lastRoot = root;
  }
  return lastBase;
}

/** `rawPath` is the undecoded path after `/live/`, e.g. `abc/720p/index.m3u8`. */
export function resolveLivePath(root: string, rawPath: string): ResolveResult {
  if (rawPath.length === 0 || rawPath.length > 1024) return { ok: false, status: 404 };
  if (PLAIN_PATH.test(rawPath)) {
    const slash = rawPath.lastIndexOf("/");
    const dot = rawPath.lastIndexOf(".");
    const ext = dot > slash ? rawPath.slice(dot + 1).toLowerCase() : "";
    return { ok: true, path: `${base(root)}${sep}${rawPath}`, ext };
  }
  const parts = rawPath.split("/");
  const decoded: string[] = [];
  for (const raw of parts) {
    // Encoded separators or NUL inside a segment are an attack, not a file name.
    if (/%2f|%5c|%00/i.test(raw)) return { ok: false, status: 400 };
    let s: string;
    try {
      s = decodeURIComponent(raw);
    } catch {
      return { ok: false, status: 400 };
    }
    if (s === "" || s === "." || s === ".." || s.includes("\0") || s.includes("\\")) {
      return { ok: false, status: 400 };
    }
    if (!SEGMENT.test(s)) return { ok: false, status: 400 };
    decoded.push(s);
  }
  if (decoded.length < 2) return { ok: false, status: 404 };
  const b = base(root);
  const full = resolve(b, ...decoded);
  if (!full.startsWith(b + sep)) return { ok: false, status: 400 };
  const name = decoded[decoded.length - 1]!;
  const dot = name.lastIndexOf(".");
  const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
  return { ok: true, path: full, ext };
}
export const CONTENT_TYPES: Record<string, string> = {
  m3u8: "application/vnd.apple.mpegurl",
  mpd: "application/dash+xml",
  m4s: "video/iso.segment",
  mp4: "video/mp4",
  m4a: "audio/mp4",
  ts: "video/mp2t",
  aac: "audio/aac",
  vtt: "text/vtt",
};

/** Manifests change every segment; media files never change once written (unique names). */
export function isManifest(ext: string): boolean {
  return ext === "m3u8" || ext === "mpd";
}

/** Parses a single `bytes=` range against a size; null for unsatisfiable, undefined for none. */
export function parseRange(
  header: string | null,
  size: number,
): { start: number; end: number } | null | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined; // multi-range or junk: serve the whole file (allowed by RFC 9110)
  const [, a, b] = m;
  if (a === "" && b === "") return null;
  let start: number;
  let end: number;
  if (a === "") {
    const suffix = Number(b);
    if (suffix === 0) return null;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start >= size || start > end) return null;
  return { start, end };
}
