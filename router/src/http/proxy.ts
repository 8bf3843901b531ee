/**
 * Proxy mode: fetch from the origin and stream its body back (ADR 0055). Only headers that matter
 * for HLS/DASH playback and caching cross in either direction; no body is buffered.
 */
import type { Origin } from "../table/store.ts";
import { CORS_HEADERS } from "./responses.ts";

const FORWARD_REQUEST = ["range", "if-none-match", "if-modified-since", "accept"] as const;
const FORWARD_RESPONSE = [
  "content-type",
  "content-length",
  "content-range",
  "accept-ranges",
  "cache-control",
  "etag",
  "last-modified",
  "expires",
] as const;

export class OriginUnreachable extends Error {}

/**
 * A blocking playlist reload (`_HLS_msn`) is held by the origin until its part exists: up to three
 * target durations (RFC 8216bis 6.2.5.2), 30 s for the longest segments a profile allows. Its head
 * may take that long on top of the usual allowance.
 */
export const BLOCKING_HOLD_MS = 30_000;

export function headTimeout(target: string, timeoutMs: number): number {
  return target.includes("_HLS_msn=") ? timeoutMs + BLOCKING_HOLD_MS : timeoutMs;
}

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

export async function proxyTo(
  req: Request,
  origin: Origin,
  target: string,
  timeoutMs: number,
  doFetch: FetchFn,
): Promise<Response> {
  const headers: Record<string, string> = { "accept-encoding": "identity" };
  for (const h of FORWARD_REQUEST) {
    const val = req.headers.get(h);
    if (val !== null) headers[h] = val;
  }
  // The timeout covers the response head only; the body may stream for as long as it takes, and a
  // client that goes away cancels our body stream, which cancels the origin's. (req.signal is not
  // used: Deno aborts it as soon as a response is returned, which would cut the body short.)
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error("origin timeout")), headTimeout(target, timeoutMs));
  let res: Response;
  try {
    res = await doFetch(target, { method: req.method, headers, redirect: "manual", signal: ac.signal });
  } catch (err) {
    throw new OriginUnreachable(`${origin.nodeId}: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  const out: Record<string, string> = { ...CORS_HEADERS, "x-dionysia-node": origin.nodeId };
  for (const h of FORWARD_RESPONSE) {
    const val = res.headers.get(h);
    if (val !== null) out[h] = val;
  }
  return new Response(req.method === "HEAD" ? null : res.body, { status: res.status, headers: out });
}
