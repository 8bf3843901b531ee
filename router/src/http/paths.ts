/**
 * Request-target parsing without `new URL` (it allocates a whole URL object per request).
 * Ids and file paths use a strict alphabet, so traversal (`..`, `%2e`, `\`) cannot even be spelled.
 */

import { ID_CHARS, SAFE_ID as STREAM_ID } from "../../../shared/src/id-pattern.ts";

/** 1..8 segments; a segment never starts with a dot, so `.` and `..` are impossible. */
const FILE_PATH = /^(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\/){0,7}[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
// The same two rules as sticky regexes, matched in place on the raw URL (no slices, no captures):
// the id must be followed by `/`, the file path by the query, a fragment or the end.
const ID_AT = new RegExp(`${ID_CHARS}/`, "y");
const FILE_AT = /(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\/){0,7}[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(?=[?#]|$)/y;

export const LIVE_PREFIX = "/live/";

/** Index of the path's leading `/` in an absolute request URL (the URL's length when it has none). */
export function pathStart(url: string): number {
  const scheme = url.indexOf("://");
  const start = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  return start < 0 ? url.length : start;
}

/**
 * The hot path's parser: `url` has `/live/` at `start`. Returns the stream id when id and file path
 * are valid (exactly when `parseLivePath` accepts them), else undefined; the caller then asks
 * `parseLivePath` for the message. The redirect reuses the raw path and query as they came.
 */
export function liveStreamId(url: string, start: number): string | undefined {
  const idStart = start + LIVE_PREFIX.length;
  ID_AT.lastIndex = idStart;
  if (!ID_AT.test(url)) return undefined;
  const fileStart = ID_AT.lastIndex;
  FILE_AT.lastIndex = fileStart;
  if (!FILE_AT.test(url)) return undefined;
  return url.slice(idStart, fileStart - 1);
}

/** Splits an absolute request URL into path and query (with its `?`, or ""). */
export function splitTarget(url: string): { path: string; search: string } {
  const start = pathStart(url);
  let end = url.indexOf("?", start);
  const hash = url.indexOf("#", start);
  if (hash >= 0 && (end < 0 || hash < end)) return { path: url.slice(start, hash), search: "" };
  if (end < 0) end = hash < 0 ? url.length : hash;
  const search = end < url.length ? url.slice(end, hash > end ? hash : undefined) : "";
  return { path: url.slice(start, end) || "/", search };
}

export type LivePath = { ok: true; id: string; file: string } | { ok: false; message: string };

/** `rest` is what follows `/live/`. */
export function parseLivePath(rest: string): LivePath {
  const slash = rest.indexOf("/");
  const id = slash < 0 ? rest : rest.slice(0, slash);
  if (!STREAM_ID.test(id))
    return { ok: false, message: "stream id must be 1-64 characters of [A-Za-z0-9_-]" };
  const file = slash < 0 ? "" : rest.slice(slash + 1);
  if (file === "") return { ok: false, message: "a file path is required after the stream id" };
  if (!FILE_PATH.test(file))
    return {
      ok: false,
      message: "file path must be up to 8 segments of [A-Za-z0-9_.-], not starting with '.'",
    };
  return { ok: true, id, file };
}
