/**
 * The clock players synchronise to (DASH `UTCTiming`, scheme http-xsdate): `GET /time` on every
 * origin and router answers the host's UTC time as xs:dateTime with milliseconds. Written once
 * here, served by both, and named in every DASH manifest (`utcTimingUrl`), so dash.js never falls
 * back to a public time server it may not reach (its error 16) and live edges line up with the
 * wall clock the segments were written by.
 */
export const TIME_PATH = "/time";
/** The scheme ffmpeg's dash muxer (`-utc_timing_url`) and gpac's dasher (`utcs=xsd@…`) write. */
export const UTC_TIMING_SCHEME = "urn:mpeg:dash:utc:http-xsdate:2014";

/** The answer to `GET|HEAD /time`: never cached (an old time is a wrong time), readable cross-origin. */
export function timeResponse(method: string, cors: Record<string, string>, now: Date = new Date()): Response {
  const body = now.toISOString();
  return new Response(method === "HEAD" ? null : body, {
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
      ...cors,
      // Players reading the Date header (http-head) get the same clock, to the second.
      date: now.toUTCString(),
    },
  });
}

/** Where a node's manifests point players for the time: configured, else the node's own /time. */
export function utcTimingUrl(configured: string | undefined, publicUrl: string): string {
  return configured ?? `${publicUrl.replace(/\/+$/, "")}${TIME_PATH}`;
}
