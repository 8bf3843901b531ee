/**
 * Signed playback at the router (ADR 0060): for a route whose policy is `signed`, the viewer's
 * token must grant playback (`aud` "v") of that stream before the router redirects or proxies.
 * Runtime-neutral; the verifier's cache makes a token seen before a synchronous answer.
 */
import {
  bearerTokenOf,
  type PlaybackVerifier,
  queryTokenOf,
  type TokenCheck,
  type Viewer,
} from "../../../shared/src/playback/token.ts";

export interface GateConfig {
  countryHeaders: readonly string[];
  /** Header with the client address (first entry of a list); unset: `allow_ips` tokens are refused. */
  clientIpHeader?: string | undefined;
}

export function viewerOf(h: Headers, c: GateConfig): Viewer {
  let country: string | undefined;
  for (const name of c.countryHeaders) {
    const v = h.get(name);
    if (v) {
      country = v;
      break;
    }
  }
  let ip: string | undefined;
  if (c.clientIpHeader) {
    const raw = h.get(c.clientIpHeader);
    if (raw) ip = raw.split(",")[0]?.trim();
  }
  return { country, ip };
}

export interface PlaybackAsk {
  /** The token presented (query first, then `Authorization: Bearer`). */
  token: string | undefined;
  /** True when it came in the query, so a redirect's Location (the raw query) already carries it. */
  inQuery: boolean;
  check: TokenCheck | Promise<TokenCheck>;
}

/**
 * The token and its verdict for one `/live/{id}/…` or `/vod/{id}/…` request to a signed route: the
 * token's subject is the route id (stream or asset id), as control signs it.
 */
export function checkPlayback(
  verifier: PlaybackVerifier,
  req: Request,
  url: string,
  routeId: string,
  c: GateConfig,
): PlaybackAsk {
  const q = queryTokenOf(url);
  const token = q ?? bearerTokenOf(req.headers);
  return {
    token,
    inQuery: q !== undefined,
    // The viewer headers are read only for a token with country or address rules.
    check: verifier.check(token, routeId, "v", () => viewerOf(req.headers, c)),
  };
}

/**
 * A redirect must not turn into an open URL: the origin checks the token too, so the Location
 * carries it. A token from the Authorization header is appended (players do not resend headers to
 * another host).
 */
export function locationWithToken(location: string, ask: PlaybackAsk): string {
  if (ask.inQuery || ask.token === undefined) return location;
  return `${location}${location.includes("?") ? "&" : "?"}token=${encodeURIComponent(ask.token)}`;
}
