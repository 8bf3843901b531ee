/**
 * Where a node may be told to pull from (ADR 0035), checked by control (stream create/patch) and
 * again by the origin before it pulls: a known scheme, and a destination that is not this
 * network's inside (loopback, link-local and cloud metadata, private, CGNAT and unique-local
 * addresses) unless the operator allows it (PULL_ALLOW_PRIVATE, PULL_ALLOW_CIDRS). Host names are
 * resolved and every address they resolve to is checked. Pure apart from the resolver passed in.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { v } from "./config.ts";

export const PULL_SCHEMES = ["rtsp", "rtsps", "rtmp", "rtmps", "srt", "http", "https"] as const;

export interface PullPolicy {
  /** Allow loopback, private (RFC 1918), CGNAT, link-local and unique-local destinations. */
  allowPrivate: boolean;
  /** CIDRs allowed whatever their class (e.g. `10.1.0.0/16`, `169.254.169.254/32`). */
  allowCidrs: string[];
}

export const STRICT_PULL_POLICY: PullPolicy = { allowPrivate: false, allowCidrs: [] };

export type Resolver = (host: string) => Promise<string[]>;

export const systemResolver: Resolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

export type AddressClass =
  | "public"
  | "loopback"
  | "private"
  | "link-local"
  | "metadata"
  | "unspecified"
  | "multicast"
  | "reserved";

export type PullVerdict = { ok: true; addresses: string[] } | { ok: false; reason: string };

/** The environment variables of the policy; control and origin spread them into their specs. */
export const pullPolicyConfigSpecs = {
  pullAllowPrivate: v.bool("PULL_ALLOW_PRIVATE", {
    default: false,
    doc: "Allow pull sources and relay peers on loopback, private (RFC 1918), CGNAT, link-local and unique-local addresses (local development, private clusters)",
  }),
  pullAllowCidrs: {
    ...v.list("PULL_ALLOW_CIDRS", {
      default: [],
      doc: "Comma-separated CIDRs pull sources and relay peers may reach whatever their class, e.g. `10.20.0.0/16`",
    }),
    parse(raw: string): string[] {
      const cidrs = raw
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      for (const c of cidrs) if (!parseCidr(c)) throw new Error(`not a CIDR: ${c}`);
      return cidrs;
    },
  },
};

export function pullPolicyFrom(c: { pullAllowPrivate: boolean; pullAllowCidrs: string[] }): PullPolicy {
  return { allowPrivate: c.pullAllowPrivate, allowCidrs: c.pullAllowCidrs };
}

/** An address as a 128-bit number (IPv4 as IPv4-mapped IPv6), or undefined when not an IP. */
function toBigInt(addr: string): bigint | undefined {
  const a = addr.replace(/^\[|\]$/g, "").split("%")[0]!;
  const kind = isIP(a);
  if (kind === 4) {
    const p = a.split(".").map(Number);
    return 0xffff00000000n + BigInt(((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!);
  }
  if (kind !== 6) return undefined;
  let s = a.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const n = toBigInt(v4[1]!)! & 0xffffffffn;
    s = `${s.slice(0, -v4[1]!.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(Number.parseInt(g || "0", 16)), 0n);
}

function parseCidr(cidr: string): { base: bigint; bits: number } | undefined {
  const [addr, len] = cidr.split("/");
  if (!addr) return undefined;
  const base = toBigInt(addr);
  if (base === undefined) return undefined;
  const v4 = isIP(addr) === 4;
  const max = v4 ? 32 : 128;
  const n = len === undefined ? max : Number(len);
  if (!Number.isInteger(n) || n < 0 || n > max) return undefined;
  return { base, bits: v4 ? 96 + n : n };
}

/** Whether an address lies in a CIDR (IPv4, IPv6, IPv4-mapped alike). */
export function addressInCidr(addr: string, cidr: string): boolean {
  const n = toBigInt(addr);
  return n !== undefined && inCidr(n, cidr);
}

function inCidr(addr: bigint, cidr: string): boolean {
  const c = parseCidr(cidr);
  if (!c) return false;
  const shift = BigInt(128 - c.bits);
  return addr >> shift === c.base >> shift;
}

const CLASSES: [string, AddressClass][] = [
  ["169.254.169.254/32", "metadata"],
  ["fd00:ec2::254/128", "metadata"],
  ["0.0.0.0/8", "unspecified"],
  ["::/128", "unspecified"],
  ["127.0.0.0/8", "loopback"],
  ["::1/128", "loopback"],
  ["10.0.0.0/8", "private"],
  ["172.16.0.0/12", "private"],
  ["192.168.0.0/16", "private"],
  ["100.64.0.0/10", "private"],
  ["fc00::/7", "private"],
  ["169.254.0.0/16", "link-local"],
  ["fe80::/10", "link-local"],
  ["224.0.0.0/4", "multicast"],
  ["ff00::/8", "multicast"],
  ["240.0.0.0/4", "reserved"],
  ["192.0.0.0/24", "reserved"],
  ["198.18.0.0/15", "reserved"],
  ["64:ff9b::/96", "reserved"],
];

export function classifyAddress(addr: string): AddressClass {
  const n = toBigInt(addr);
  if (n === undefined) return "reserved";
  for (const [cidr, cls] of CLASSES) if (inCidr(n, cidr)) return cls;
  return "public";
}

/** Whether one resolved address may be pulled from under `policy`. */
export function addressAllowed(
  addr: string,
  policy: PullPolicy,
): { ok: true } | { ok: false; reason: string } {
  const n = toBigInt(addr);
  if (n !== undefined && policy.allowCidrs.some((c) => inCidr(n, c))) return { ok: true };
  const cls = classifyAddress(addr);
  if (cls === "public") return { ok: true };
  if (policy.allowPrivate && (cls === "loopback" || cls === "private" || cls === "link-local"))
    return { ok: true };
  const hint =
    cls === "metadata" || cls === "unspecified" || cls === "multicast" || cls === "reserved"
      ? "allow it only with PULL_ALLOW_CIDRS"
      : "set PULL_ALLOW_PRIVATE=1 or PULL_ALLOW_CIDRS to allow it";
  return { ok: false, reason: `${addr} is a ${cls} address (${hint})` };
}

/** The host of a pull URL (brackets removed), or an error in words. */
export function pullHost(url: string): { ok: true; url: URL; host: string } | { ok: false; reason: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, reason: "not a URL" };
  }
  const scheme = u.protocol.replace(/:$/, "").toLowerCase();
  if (!(PULL_SCHEMES as readonly string[]).includes(scheme))
    return { ok: false, reason: `scheme ${scheme}: is not one of ${PULL_SCHEMES.join(", ")}` };
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (!host) return { ok: false, reason: "no host" };
  return { ok: true, url: u, host };
}

/**
 * Checks a pull URL: scheme, then every address its host resolves to. DNS rebinding remains
 * possible between this check and the puller's own lookup (ADR 0035).
 */
export async function checkPullSource(
  url: string,
  policy: PullPolicy,
  resolve: Resolver = systemResolver,
  /** Control may not share the origins' DNS view: it lets a name it cannot resolve through. */
  opts: { acceptUnresolvable?: boolean } = {},
): Promise<PullVerdict> {
  const h = pullHost(url);
  if (!h.ok) return h;
  let addresses: string[];
  if (isIP(h.host)) addresses = [h.host];
  else {
    try {
      addresses = await resolve(h.host);
    } catch (err) {
      if (opts.acceptUnresolvable) return { ok: true, addresses: [] };
      return {
        ok: false,
        reason: `host ${h.host} does not resolve (${(err as Error).message})`.slice(0, 300),
      };
    }
    if (addresses.length === 0 && opts.acceptUnresolvable) return { ok: true, addresses };
    if (addresses.length === 0) return { ok: false, reason: `host ${h.host} does not resolve` };
  }
  for (const a of addresses) {
    const ok = addressAllowed(a, policy);
    if (!ok.ok) return { ok: false, reason: isIP(h.host) ? ok.reason : `${h.host} resolves to ${ok.reason}` };
  }
  return { ok: true, addresses };
}
