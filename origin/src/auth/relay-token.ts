/**
 * Relay tokens let a peer node read an ingest node's live stream (overflow transcoding) without
 * the plaintext stream key: `relay/{streamId}?token={exp}.{mac}` where
 * mac = HMAC-SHA256(relaySecret, "relay:{streamId}:{exp}") in base64url.
 * The relay secret is derived from the cluster's node key, so every node (and control) can mint
 * and check tokens while the key itself never travels in a URL.
 */
import { createHmac } from "node:crypto";
import { relayPullUrl, safeEqual } from "@dionysia/shared";

/** Derives the relay secret from the node key: a separate purpose gets a separate key. */
export function deriveRelaySecret(nodeKey: string): string {
  return createHmac("sha256", nodeKey).update("dionysia/relay/v1").digest("base64url");
}

function mac(secret: string, streamId: string, exp: number): string {
  return createHmac("sha256", secret).update(`relay:${streamId}:${exp}`).digest("base64url");
}

/** A token valid until `nowSec + ttlSec`. */
export function signRelayToken(secret: string, streamId: string, ttlSec = 3600, nowSec = now()): string {
  const exp = nowSec + ttlSec;
  return `${exp}.${mac(secret, streamId, exp)}`;
}

export function verifyRelayToken(
  secret: string | undefined,
  streamId: string,
  token: unknown,
  nowSec = now(),
): boolean {
  if (!secret || typeof token !== "string" || token.length > 200) return false;
  const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return false;
  const exp = Number(m[1]);
  if (exp < nowSec) return false;
  return safeEqual(m[2]!, mac(secret, streamId, exp));
}

/** Full relay URL a peer reads from: `{relayBase}/{streamId}?token=...`. */
export function relayUrl(relayBase: string, secret: string, streamId: string, ttlSec = 3600): string {
  return `${relayPullUrl(relayBase, streamId)}?token=${signRelayToken(secret, streamId, ttlSec)}`;
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}
