/**
 * What control accepts in a node's announce beyond the schema: capacity within plausible
 * bounds (a node announcing 1e9 units would take every placement) and URLs with the expected
 * scheme, no embedded credentials and, when the operator lists them, an allowed host. Streamers
 * and viewers are sent to these URLs, so a bad one is refused rather than clamped. Pure.
 */
import type { NodeAnnounce } from "@dionysia/shared";

export interface AnnouncePolicy {
  maxLoadUnits: number;
  maxStreams: number;
  /** Allowed hosts: exact names, or `.example.net` for the domain and its subdomains. Unset = any. */
  hosts?: readonly string[] | undefined;
}

const SCHEMES: Record<string, readonly string[]> = {
  publicUrl: ["http:", "https:"],
  rtmp: ["rtmp:", "rtmps:"],
  relay: ["rtmp:", "rtmps:", "rtsp:", "rtsps:"],
  rtsp: ["rtsp:", "rtsps:"],
  whip: ["http:", "https:"],
};

export function hostAllowed(host: string, hosts: readonly string[] | undefined): boolean {
  if (!hosts) return true;
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return hosts.some((rule) => {
    const r = rule.toLowerCase();
    return r.startsWith(".") ? h === r.slice(1) || h.endsWith(r) : h === r;
  });
}

function urlRefusal(field: string, raw: string, hosts: readonly string[] | undefined): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return `${field} is not a URL`;
  }
  const schemes = SCHEMES[field] ?? [];
  if (!schemes.includes(u.protocol)) return `${field} scheme ${u.protocol} not in ${schemes.join(" ")}`;
  if (u.username || u.password) return `${field} must not carry credentials`;
  if (!u.hostname) return `${field} has no host`;
  if (field === "publicUrl" && (u.search || u.hash)) return "publicUrl must not have a query or fragment";
  if (!hostAllowed(u.hostname, hosts)) return `${field} host ${u.hostname} not in NODE_URL_HOSTS`;
  return undefined;
}

/** `host:port` or `host:from-to` (the SRT listeners). */
function srtRefusal(raw: string, hosts: readonly string[] | undefined): string | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})(?:-(\d{1,5}))?$/.exec(raw);
  if (!m) return "srt must be host:port or host:from-to";
  const ports = [m[2], m[3]].filter((p): p is string => p !== undefined).map(Number);
  if (ports.some((p) => p < 1 || p > 65535)) return "srt port out of range";
  if (!hostAllowed(m[1] as string, hosts)) return `srt host ${m[1]} not in NODE_URL_HOSTS`;
  return undefined;
}

/** Why this announce is refused, or undefined when it is acceptable. */
export function announceRefusal(a: NodeAnnounce, p: AnnouncePolicy): string | undefined {
  const c = a.capacity;
  if (!Number.isFinite(c.loadUnits) || c.loadUnits > p.maxLoadUnits)
    return `capacity ${c.loadUnits} load units over the limit ${p.maxLoadUnits}`;
  if (c.maxStreams !== undefined && c.maxStreams > p.maxStreams)
    return `maxStreams ${c.maxStreams} over the limit ${p.maxStreams}`;
  const bad = urlRefusal("publicUrl", a.publicUrl, p.hosts);
  if (bad) return bad;
  for (const field of ["rtmp", "relay", "rtsp", "whip"] as const) {
    const v = a.ingest[field];
    if (v === undefined) continue;
    const r = urlRefusal(field, v, p.hosts);
    if (r) return r;
  }
  if (a.ingest.srt !== undefined) return srtRefusal(a.ingest.srt, p.hosts);
  return undefined;
}
