/** JSON error bodies (`{error: {code, message}}`, shared ErrorBody) with CORS on every answer. */

export const CORS_HEADERS = {
  "access-control-allow-origin": "*",
  "access-control-expose-headers": "content-length, content-range, accept-ranges, location, x-dionysia-node",
} as const;

export const PREFLIGHT_HEADERS = {
  ...CORS_HEADERS,
  "access-control-allow-methods": "GET, HEAD, OPTIONS",
  "access-control-allow-headers": "range, if-none-match, if-modified-since, content-type, authorization",
  "access-control-max-age": "86400",
} as const;

export function errorResponse(
  status: number,
  code: string,
  message: string,
  extra?: Record<string, string>,
): Response {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      ...CORS_HEADERS,
      ...extra,
    },
  });
}
