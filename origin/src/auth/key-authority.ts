/**
 * The stream key check, shared by every media server: first against the key hashes of the local
 * desired state, then (unknown key) by asking control's `POST /v1/ingest/authorize`.
 * Fail closed: control unreachable, slow, 5xx or a malformed answer means "no". Every "no" carries
 * its reason (publish-refusal.ts); the access policy logs and counts it.
 */
import {
  decodeMessage,
  IngestAuthorizeResponse,
  type Logger,
  SAFE_ID,
  safeEqual,
  sha256Hex,
} from "@dionysia/shared";
import type { IngestProtocol, KeyAuthority, MediaStreamSpec } from "../media/types.ts";
import { type Authorization, type PublishDecision, refusalFromControl, refuse } from "./publish-refusal.ts";

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
  ): Promise<PublishDecision> {
    // Without control, a key the desired state does not know is simply wrong.
    if (!o.controlUrl || !o.nodeKey)
      return refuse("wrong_key", { detail: "not in the desired state; no control" });
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
      const name = (err as Error).name;
      const detail = name === "TimeoutError" ? `no answer in ${timeoutMs} ms` : (err as Error).message;
      return refuse("control_unreachable", { detail: detail.slice(0, 300) });
    }
    const text = await res.text().catch(() => "");
    if (res.status !== 200) {
      const r = refusalFromControl(res.status, text);
      return refuse(r.reason, { detail: r.detail });
    }
    const decoded = decodeMessage(IngestAuthorizeResponse, text);
    if (!decoded.ok)
      return refuse("control_error", { detail: `malformed answer: ${decoded.error}`.slice(0, 300) });
    const v = decoded.value;
    // Control must vouch for exactly the key that was presented and name a usable stream id.
    if (!SAFE_ID.test(v.streamId) || !safeEqual(v.keyHash.toLowerCase(), hash))
      return refuse("control_error", { detail: "answer does not match the presented key" });
    log.info({ streamId: v.streamId, profileId: v.profileId, protocol }, "stream key authorized by control");
    return { ok: true, streamId: v.streamId, keyHash: hash, profile: v.profile };
  }

  return {
    async authorize({ streamKey, protocol, remoteAddr, localOnly }) {
      if (typeof streamKey !== "string" || streamKey.length === 0 || streamKey.length > MAX_KEY_LENGTH)
        return refuse("wrong_key", { detail: "empty or oversized key" });
      const hash = sha256Hex(streamKey);
      const local = findLocal(hash);
      if (local) return { ok: true, ...local };
      if (localOnly) return refuse("wrong_key", { detail: "not in the desired state; control not asked" });
      return askControl(streamKey, hash, protocol, remoteAddr);
    },
  };
}
