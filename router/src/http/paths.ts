/**
 * Request-target parsing without `new URL` (it allocates a whole URL object per request).
 * Ids and file paths use a strict alphabet, so traversal (`..`, `%2e`, `\`) cannot even be spelled.
 *
 * Two prefixes are routed, `/live/{streamId}/{file}` and `/vod/{assetId}/{file}` (ADR 0096): both
 * ids are route ids of the one route table, so both go through the same rules below; a prefix only
 * names what its id is in messages.
 */

import { ID_CHARS, SAFE_ID } from "../../../shared/src/id-pattern.ts";

/** A routed path prefix. Messages are built once here so an error answer does not format them. */
export interface Routed {
  readonly prefix: string;
  /** What the id names, in answers: "stream" or "asset". */
  readonly noun: "stream" | "asset";
  /** The log field that carries the id. */
  readonly idField: "streamId" | "assetId";
  readonly badId: string;
  readonly noFile: string;
}

function routed(prefix: string, noun: Routed["noun"], idField: Routed["idField"]): Routed {
  return {
    prefix,
    noun,
    idField,
    badId: `${noun} id must be 1-64 characters of [A-Za-z0-9_-]`,
    noFile: `a file path is required after the ${noun} id`,
  };
}

export const LIVE: Routed = routed("/live/", "stream", "streamId");
/** Recordings played back as VOD assets; their ids share the stream-id alphabet (SAFE_ID). */
export const VOD: Routed = routed("/vod/", "asset", "assetId");

/** The routed prefix `url` has at `start` (its path's start), if any. `/live/` is tested first. */
export function routedAt(url: string, start: number): Routed | undefined {
  if (url.startsWith(LIVE.prefix, start)) return LIVE;
  if (url.startsWith(VOD.prefix, start)) return VOD;
  return undefined;
}

/** 1..8 segments; a segment never starts with a dot, so `.` and `..` are impossible. */
const FILE_PATH = /^(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\/){0,7}[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const BAD_FILE = "file path must be up to 8 segments of [A-Za-z0-9_.-], not starting with '.'";
// The same two rules as sticky regexes, matched in place on the raw URL (no slices, no captures):
// the id must be followed by `/`, the file path by the query, a fragment or the end.
const ID_AT = new RegExp(`${ID_CHARS}/`, "y");
const FILE_AT = /(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\/){0,7}[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(?=[?#]|$)/y;

/** Index of the path's leading `/` in an absolute request URL (the URL's length when it has none). */
export function pathStart(url: string): number {
  const scheme = url.indexOf("://");
  const start = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  return start < 0 ? url.length : start;
}

/**
 * The hot path's parser: `url` has `r.prefix` at `start`. Returns the route id when id and file
 * path are valid (exactly when `parseRoutedPath` accepts them), else undefined; the caller then asks
 * `parseRoutedPath` for the message. The redirect reuses the raw path and query as they came.
 */
export function routedId(url: string, start: number, r: Routed): string | undefined {
  const idStart = start + r.prefix.length;
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

export type RoutedPath = { ok: true; id: string; file: string } | { ok: false; message: string };

/** `rest` is what follows `r.prefix`. */
export function parseRoutedPath(rest: string, r: Routed): RoutedPath {
  const slash = rest.indexOf("/");
  const id = slash < 0 ? rest : rest.slice(0, slash);
  if (!SAFE_ID.test(id)) return { ok: false, message: r.badId };
  const file = slash < 0 ? "" : rest.slice(slash + 1);
  if (file === "") return { ok: false, message: r.noFile };
  if (!FILE_PATH.test(file)) return { ok: false, message: BAD_FILE };
  return { ok: true, id, file };
}
