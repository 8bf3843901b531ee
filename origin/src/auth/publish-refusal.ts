/**
 * Why a publish is refused, in words the streamer can act on. One closed set of reasons: the logs,
 * the `dionysia_origin_publish_rejected_total{reason}` counter, the RTMP onStatus description and
 * the mediamtx auth answer all use it (ADR 0033).
 */
import { decodeMessage, ErrorBody, type ProfileSpec } from "@dionysia/shared";

export const PUBLISH_REFUSALS = [
  "wrong_key",
  "no_capacity",
  "already_live",
  "node_unavailable",
  "control_unreachable",
  "control_error",
  "rate_limited",
] as const;
export type PublishRefusal = (typeof PUBLISH_REFUSALS)[number];

/** What the streamer's client prints (ffmpeg: `Server error: <description>`). Never names a key. */
const DESCRIPTIONS: Record<PublishRefusal, string> = {
  wrong_key: "invalid stream key",
  no_capacity: "no capacity: this node has no room for the stream's profile now, try again later",
  already_live: "already live: the stream is already being published elsewhere",
  node_unavailable: "node unavailable: this node is cordoned or draining, publish to another node",
  control_unreachable: "control unreachable: the key cannot be checked now, try again later",
  control_error: "control error: the key cannot be checked now, try again later",
  rate_limited: "rate limited: too many invalid stream keys from this address, try again later",
};

export function describeRefusal(reason: PublishRefusal): string {
  return DESCRIPTIONS[reason];
}

export interface Authorization {
  streamId: string;
  keyHash: string;
  profile: ProfileSpec;
}

/** The answer to "may this key publish here?". `detail` is for logs only. */
export type PublishDecision =
  | ({ ok: true } & Authorization)
  | { ok: false; reason: PublishRefusal; streamId?: string; detail?: string };

export const refuse = (
  reason: PublishRefusal,
  extra: { streamId?: string; detail?: string } = {},
): PublishDecision => ({ ok: false, reason, ...extra });

/**
 * Control's refusal of `POST /v1/ingest/authorize` as a reason (pure): 403/404 unknown key, 409 with
 * `no_capacity`/`already_live`/`node_unavailable`; anything else is control's problem, not the key's.
 */
export function refusalFromControl(status: number, body: string): { reason: PublishRefusal; detail: string } {
  const decoded = decodeMessage(ErrorBody, body);
  const code = decoded.ok ? decoded.value.error.code : undefined;
  const detail = decoded.ok ? `${code}: ${decoded.value.error.message}`.slice(0, 300) : `HTTP ${status}`;
  if (status === 403 || status === 404) return { reason: "wrong_key", detail };
  if (status === 409 && (code === "no_capacity" || code === "already_live" || code === "node_unavailable"))
    return { reason: code, detail };
  if (status >= 500) return { reason: "control_unreachable", detail };
  return { reason: "control_error", detail };
}
