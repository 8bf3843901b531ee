/**
 * The origin's one access decision, called by both media-server adapters (embedded RTMP sessions,
 * mediamtx's HTTP auth hook), as mediamtx does with its single auth manager:
 * - publish: the stream key is checked by the KeyAuthority (desired state, then control); a
 *   stream that already has a publisher on this node is refused as `already_live`. Every refusal
 *   is logged with its reason and counted in `dionysia_origin_publish_rejected_total{reason}`.
 *   Wrong keys are limited per source address (shared FailureLimiter, ADR 0035): an address over
 *   the limit is checked against the local desired state only, never against control, and any
 *   other key from it is refused as `rate_limited`.
 * - read: `relay/{streamId}` with a valid relay token, from anywhere (ADR 0031); any other path
 *   from loopback only (the origin itself: transcoder, probes). Everything else is refused.
 */
import { addressKey, FailureLimiter, type Logger, SAFE_ID } from "@dionysia/shared";
import { isLoopback } from "../media/net.ts";
import type { IngestProtocol, KeyAuthority } from "../media/types.ts";
import { DEFAULT_KEY_FAILURES } from "./config.ts";
import { type PublishDecision, type PublishRefusal, refuse } from "./publish-refusal.ts";
import { verifyRelayToken } from "./relay-token.ts";

export interface PublishRequest {
  action: "publish";
  protocol: IngestProtocol;
  streamKey: string;
  remoteAddr?: string;
}

export interface ReadRequest {
  action: "read";
  /** `live/{streamId}` (local readers) or `relay/{streamId}` (peers with a token). */
  path: string;
  token?: string | null;
  remoteAddr?: string;
}

export type ReadDecision = { ok: true; via: "loopback" | "relay" } | { ok: false; detail: string };

export interface AccessPolicy {
  authorize(req: PublishRequest): Promise<PublishDecision>;
  authorize(req: ReadRequest): Promise<ReadDecision>;
  /**
   * Records a publish refused after the key check (two publishers racing through it, an SRT
   * relay's publish while the stream already has one): same log line and counter as authorize's.
   */
  rejected(r: PublishRejection): void;
}

export interface PublishRejection {
  reason: PublishRefusal;
  protocol: IngestProtocol;
  streamId?: string;
  remoteAddr?: string;
  detail?: string;
}

export interface AccessPolicyOptions {
  authority: KeyAuthority;
  logger: Logger;
  relaySecret?: string;
  /** Whether this media server already has a publisher for the stream (embedded: one per stream). */
  isPublishing?: (streamId: string) => boolean;
  /** The `dionysia_origin_publish_rejected_total` counter (origin/src/metrics). */
  rejected?: { inc(labels: { reason: PublishRefusal }): void };
  /** Wrong stream keys per source address (default: 20 a minute, DEFAULT_KEY_FAILURES). */
  keyFailures?: FailureLimiter;
}

const RELAY_PATH = /^relay\/([^/]+)$/;

export function createAccessPolicy(o: AccessPolicyOptions): AccessPolicy {
  const log = o.logger.child({ component: "access" });
  const keyFailures = o.keyFailures ?? new FailureLimiter(DEFAULT_KEY_FAILURES);

  async function publish(req: PublishRequest): Promise<PublishDecision> {
    const { protocol, remoteAddr } = req;
    const addr = addressKey(remoteAddr);
    const limited = keyFailures.check(addr, Date.now());
    let d = await o.authority.authorize({
      streamKey: req.streamKey,
      protocol,
      ...(remoteAddr ? { remoteAddr } : {}),
      ...(limited.blocked ? { localOnly: true } : {}),
    });
    if (!d.ok && d.reason === "wrong_key") {
      const next = keyFailures.fail(addr, Date.now());
      if (limited.blocked) {
        const retryS = Math.ceil((next.blocked ? next.retryAfterMs : 1000) / 1000);
        d = refuse("rate_limited", { detail: `too many wrong keys from ${addr}; retry in ${retryS} s` });
      }
    }
    if (d.ok && o.isPublishing?.(d.streamId))
      d = refuse("already_live", { streamId: d.streamId, detail: "a publisher is already connected here" });
    if (d.ok) return d;
    rejected({
      reason: d.reason,
      protocol,
      ...(remoteAddr ? { remoteAddr } : {}),
      ...(d.streamId ? { streamId: d.streamId } : {}),
      ...(d.detail ? { detail: d.detail } : {}),
    });
    return d;
  }

  function rejected(r: PublishRejection): void {
    o.rejected?.inc({ reason: r.reason });
    // The key is never logged: a typo'd key is one character away from a valid one.
    log.warn({ ...r }, `publish rejected: ${r.reason}`);
  }

  function read(req: ReadRequest): ReadDecision {
    const m = RELAY_PATH.exec(req.path);
    if (!m && isLoopback(req.remoteAddr)) return { ok: true, via: "loopback" };
    if (m && SAFE_ID.test(m[1]!) && verifyRelayToken(o.relaySecret, m[1]!, req.token ?? undefined)) {
      log.info({ streamId: m[1], remoteAddr: req.remoteAddr }, "relay read authorized");
      return { ok: true, via: "relay" };
    }
    const detail = m
      ? "missing, invalid or expired relay token"
      : "reading is reserved to this origin and peers";
    log.warn({ remoteAddr: req.remoteAddr, detail }, "read refused");
    return { ok: false, detail };
  }

  function authorize(req: PublishRequest): Promise<PublishDecision>;
  function authorize(req: ReadRequest): Promise<ReadDecision>;
  async function authorize(req: PublishRequest | ReadRequest): Promise<PublishDecision | ReadDecision> {
    return req.action === "publish" ? publish(req) : read(req);
  }
  return { authorize, rejected };
}
