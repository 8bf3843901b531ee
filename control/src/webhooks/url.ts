/**
 * Where a webhook may send (ADR 0090): the one check, run when a URL is set (422) and again before
 * every attempt (a name may resolve elsewhere later). http/https only; the host (a literal IP,
 * IPv6 included, or every address a name resolves to) must be public unless WEBHOOK_ALLOW_PRIVATE
 * lets loopback or private ranges through. Address classes are shared with pull sources
 * (shared pull-source, ADR 0035).
 */
import { isIP } from "node:net";
import { type AddressClass, classifyAddress, type Resolver, systemResolver } from "@dionysia/shared";
import type { WebhookAllowPrivate } from "./config.ts";

export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

function allowed(cls: AddressClass, allow: WebhookAllowPrivate): boolean {
  if (cls === "public") return true;
  if (cls === "loopback") return allow === "loopback" || allow === "private";
  if (cls === "private") return allow === "private";
  return false; // link-local, metadata, unspecified, multicast, reserved: never
}

export async function checkWebhookUrl(
  raw: string,
  allow: WebhookAllowPrivate,
  resolve: Resolver = systemResolver,
): Promise<UrlVerdict> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "not a URL" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return { ok: false, reason: `scheme ${url.protocol} is not http: or https:` };
  if (url.username || url.password) return { ok: false, reason: "credentials in the URL are not allowed" };
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (!host) return { ok: false, reason: "no host" };
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = await resolve(host);
    } catch (err) {
      return { ok: false, reason: `host ${host} does not resolve (${(err as Error).message})`.slice(0, 300) };
    }
    if (addresses.length === 0) return { ok: false, reason: `host ${host} does not resolve` };
  }
  for (const a of addresses) {
    const cls = classifyAddress(a);
    if (!allowed(cls, allow)) {
      const hint =
        cls === "loopback" || cls === "private"
          ? ` (WEBHOOK_ALLOW_PRIVATE=${cls === "loopback" ? "loopback" : "private"} allows it)`
          : "";
      return {
        ok: false,
        reason: `${isIP(host) ? "" : `${host} resolves to `}${a}: a ${cls} address${hint}`,
      };
    }
  }
  return { ok: true, url };
}
