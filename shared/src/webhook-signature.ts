/**
 * Webhook signatures (ADR 0090), the scheme Stripe and Mux use: the `Dionysia-Signature` header is
 * `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. Control signs every delivery with
 * `signWebhook`; receivers (docs/webhooks.md) and tests check with `verifyWebhook`, which also
 * refuses a timestamp older (or newer) than the tolerance, so a captured delivery cannot be replayed.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const WEBHOOK_SIGNATURE_HEADER = "dionysia-signature";
export const WEBHOOK_EVENT_ID_HEADER = "dionysia-event-id";
/** Default replay window of `verifyWebhook`, in seconds. */
export const WEBHOOK_TOLERANCE_S = 300;

function mac(secret: string, t: number, body: string): string {
  return createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
}

/** The header value for `body` (the exact bytes sent) at `t` (unix seconds). */
export function signWebhook(secret: string, body: string, t = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${mac(secret, t, body)}`;
}

/**
 * True when `header` carries a v1 signature of `body` under `secret`, made within `toleranceS` of
 * `nowS`. Several `v1=` entries are accepted (any may match), unknown schemes ignored.
 */
export function verifyWebhook(
  secret: string,
  header: string | null | undefined,
  body: string,
  opts: { toleranceS?: number; nowS?: number } = {},
): boolean {
  if (!header) return false;
  let t: number | undefined;
  const sigs: string[] = [];
  for (const part of header.split(",")) {
    const [k, val] = part.trim().split("=", 2);
    if (k === "t" && val && /^\d{1,12}$/.test(val)) t = Number(val);
    else if (k === "v1" && val) sigs.push(val);
  }
  if (t === undefined || sigs.length === 0) return false;
  const now = opts.nowS ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (opts.toleranceS ?? WEBHOOK_TOLERANCE_S)) return false;
  const want = Buffer.from(mac(secret, t, body), "hex");
  return sigs.some((s) => {
    const got = Buffer.from(s, "hex");
    return got.length === want.length && timingSafeEqual(got, want);
  });
}
