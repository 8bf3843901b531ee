/**
 * The stream key check, shared by every media server: first against the key hashes of the local
 * desired state, then (unknown key) by asking control's `POST /v1/ingest/authorize`.
 * Fail closed: control unreachable, slow, 5xx or a malformed answer means "no".
 */
import {
  decodeMessage,
  IngestAuthorizeResponse,
  type Logger,
  type ProfileSpec,
  SAFE_ID,
  safeEqual,
  sha256Hex,
} from "@dionysia/shared";
import type { IngestProtocol, KeyAuthority, MediaStreamSpec } from "../media/types.ts";

export interface KeyAuthorityOptions {
  /** The streams this node carries now (desired state). */
  local: () => MediaStreamSpec[];
  /** Control base URL; without it unknown keys are rejected. */
  controlUrl?: string;
  /** Node credential sent as `Authorization: Bearer` to control. */
  nodeKey?: string;
  nodeId: string;
  logger: Logger;
  /** Deadline for the control round trip (default 3000 ms). */
  timeoutMs?: number;
}

export type Authorization = { streamId: string; keyHash: string; profile: ProfileSpec };

/** Stream keys are short tokens; anything longer is garbage and never reaches control. */
const MAX_KEY_LENGTH = 256;

export function createKeyAuthority(o: KeyAuthorityOptions): KeyAuthority {
  const timeoutMs = o.timeoutMs ?? 3000;
  const log = o.logger.child({ component: "key-authority", nodeId: o.nodeId });

  function findLocal(hash: string): Authorization | null {
    let found: Authorization | null = null;
    // Walk the whole list so the time spent does not depend on where (or whether) the key matches.
    for (const s of o.local()) {
      if (safeEqual(s.keyHash, hash) && !found)
        found = { streamId: s.id, keyHash: s.keyHash, profile: s.profile };
    }
    return found;
  }

  async function askControl(
    streamKey: string,
    hash: string,
    protocol: IngestProtocol,
    remoteAddr: string | undefined,
  ): Promise<Authorization | null> {
    if (!o.controlUrl || !o.nodeKey) {
      log.warn({ protocol, remoteAddr }, "unknown stream key and no control configured: rejected");
      return null;
    }
    const url = new URL("/v1/ingest/authorize", o.controlUrl).toString();
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${o.nodeKey}` },
        body: JSON.stringify({
          streamKey,
          nodeId: o.nodeId,
          protocol,
          ...(remoteAddr ? { remoteAddr: remoteAddr.slice(0, 128) } : {}),
        }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      log.error(
        { err: (err as Error).message, protocol },
        "control unreachable: publish rejected (fail closed)",
      );
      return null;
    }
    const text = await res.text().catch(() => "");
    if (res.status === 403 || res.status === 404 || res.status === 409) {
      log.warn({ status: res.status, protocol, remoteAddr }, "control refused the stream key");
      return null;
    }
    if (res.status !== 200) {
      log.error({ status: res.status, protocol }, "control answered with an error: publish rejected");
      return null;
    }
    const decoded = decodeMessage(IngestAuthorizeResponse, text);
    if (!decoded.ok) {
      log.error({ error: decoded.error }, "malformed answer from control: publish rejected");
      return null;
    }
    const v = decoded.value;
    // Control must vouch for exactly the key that was presented and name a usable stream id.
    if (!SAFE_ID.test(v.streamId) || !safeEqual(v.keyHash.toLowerCase(), hash)) {
      log.error({ streamId: v.streamId }, "control answer does not match the presented key: rejected");
      return null;
    }
    log.info({ streamId: v.streamId, profileId: v.profileId, protocol }, "stream key authorized by control");
    return { streamId: v.streamId, keyHash: hash, profile: v.profile };
  }

  return {
    async authorize({ streamKey, protocol, remoteAddr }) {
      if (typeof streamKey !== "string" || streamKey.length === 0 || streamKey.length > MAX_KEY_LENGTH) {
        return null;
      }
      const hash = sha256Hex(streamKey);
      const local = findLocal(hash);
      if (local) return local;
      return askControl(streamKey, hash, protocol, remoteAddr);
    },
  };
}
