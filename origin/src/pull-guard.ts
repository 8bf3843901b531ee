/**
 * The origin's check of what desired state tells it to pull (ADR 0035), before anything is
 * pulled or signed:
 * - `source` (a pull input): scheme and every resolved destination against the pull policy
 *   (PULL_ALLOW_PRIVATE, PULL_ALLOW_CIDRS), as control checked it at the API;
 * - `pullFrom` (a peer's relay): it must have the shape every node announces and control builds
 *   (`{rtmp|rtmps|rtsp|rtsps}://host[:port]/relay/{this stream's id}`, no credentials, no query)
 *   and a trusted host: one of RELAY_TRUSTED_HOSTS when set, else a destination the pull policy
 *   allows. Only then is this node's relay token appended.
 * A refused entry is dropped from the desired state (nothing is pulled for it) and logged with
 * the stream id and the reason.
 */

import { isIP } from "node:net";
import {
  addressAllowed,
  addressInCidr,
  checkPullSource,
  type DesiredStream,
  type Logger,
  type PullPolicy,
  pullPolicyConfigSpecs,
  type Resolver,
  systemResolver,
  v,
} from "@dionysia/shared";
import { signedPullUrl } from "./pull-url.ts";

export const pullGuardConfigSpecs = {
  ...pullPolicyConfigSpecs,
  relayTrustedHosts: v.list("RELAY_TRUSTED_HOSTS", {
    default: [],
    doc: "Hosts this node sends its relay token to (comma-separated: `peer.example.com`, `*.origins.example.com`, `10.0.0.0/8`); empty: any relay host the pull policy allows",
  }),
};

export interface PullGuardOptions {
  policy: PullPolicy;
  trustedHosts: string[];
  relaySecret?: string;
  logger: Logger;
  resolve?: Resolver;
}

const RELAY_SCHEMES = new Set(["rtmp:", "rtmps:", "rtsp:", "rtsps:"]);

/** `10.0.0.0/8`: every address of the host in it; `*.example.com`: a subdomain; else the exact name. */
function hostPatternMatches(host: string, addresses: string[], pattern: string): boolean {
  const p = pattern.toLowerCase();
  if (p.includes("/")) return addresses.every((a) => addressInCidr(a, p));
  if (p.startsWith("*.")) return host.endsWith(p.slice(1)) && host.length > p.length - 1;
  return host === p;
}

export async function relayVerdict(
  s: Pick<DesiredStream, "id" | "pullFrom">,
  o: Pick<PullGuardOptions, "policy" | "trustedHosts" | "resolve">,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  let u: URL;
  try {
    u = new URL(s.pullFrom ?? "");
  } catch {
    return { ok: false, reason: "pullFrom is not a URL" };
  }
  if (!RELAY_SCHEMES.has(u.protocol))
    return { ok: false, reason: `pullFrom scheme ${u.protocol} is not a relay's` };
  if (u.username || u.password || u.search || u.hash || u.pathname !== `/relay/${s.id}`)
    return { ok: false, reason: `pullFrom is not a relay URL of stream ${s.id}` };
  const host = u.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = await (o.resolve ?? systemResolver)(host);
    } catch (err) {
      return {
        ok: false,
        reason: `relay host ${host} does not resolve (${(err as Error).message})`.slice(0, 300),
      };
    }
  }
  if (addresses.length === 0) return { ok: false, reason: `relay host ${host} does not resolve` };
  if (o.trustedHosts.length > 0) {
    if (o.trustedHosts.some((p) => hostPatternMatches(host, addresses, p))) return { ok: true };
    return { ok: false, reason: `relay host ${host} is not in RELAY_TRUSTED_HOSTS` };
  }
  for (const a of addresses) {
    const ok = addressAllowed(a, o.policy);
    if (!ok.ok) return { ok: false, reason: `relay ${host}: ${ok.reason}` };
  }
  return { ok: true };
}

/** The desired entries this node will act on, with relay tokens on trusted relay URLs only. */
export async function guardDesired(streams: DesiredStream[], o: PullGuardOptions): Promise<DesiredStream[]> {
  const log = o.logger.child({ component: "pull-guard" });
  const out: DesiredStream[] = [];
  for (const s of streams) {
    if (s.source) {
      const v = await checkPullSource(s.source, o.policy, o.resolve ?? systemResolver);
      if (!v.ok) {
        log.warn({ streamId: s.id, reason: v.reason }, "desired stream dropped: pull source refused");
        continue;
      }
    }
    if (s.pullFrom) {
      const v = await relayVerdict(s, o);
      if (!v.ok) {
        log.warn({ streamId: s.id, reason: v.reason }, "desired stream dropped: relay URL not trusted");
        continue;
      }
      if (o.relaySecret) {
        out.push({ ...s, pullFrom: signedPullUrl(s.pullFrom, o.relaySecret, s.id) });
        continue;
      }
    }
    out.push(s);
  }
  return out;
}
