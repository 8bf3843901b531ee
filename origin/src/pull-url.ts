/** Signing of relay pull URLs received in the desired state (overflow transcoding, ADR 0031). */
import { signRelayToken } from "./auth/relay-token.ts";

/** A week: the pull process keeps its URL across reconnects, so the token must outlive them. */
export const PULL_TOKEN_TTL_SEC = 7 * 24 * 3600;

/** Adds `token=` to a relay URL unless it already carries one. */
export function signedPullUrl(
  url: string,
  secret: string,
  streamId: string,
  ttlSec = PULL_TOKEN_TTL_SEC,
): string {
  if (/[?&]token=/.test(url)) return url;
  const sep = url.includes("?") ? "&" : "?";
  return `${url}${sep}token=${signRelayToken(secret, streamId, ttlSec)}`;
}
