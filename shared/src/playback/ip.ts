/**
 * IP/CIDR matching for the playback token's `allow_ips` rule. Pure: addresses become 16-byte
 * arrays (IPv4 as IPv4-mapped IPv6), so one prefix comparison serves both families.
 */

function v4(s: string): number[] | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

/** 16 bytes for an IPv4 or IPv6 literal (zone ids and brackets refused); undefined if malformed. */
export function parseIp(raw: string): Uint8Array | undefined {
  const s = raw.trim();
  if (s.includes(".") && !s.includes(":")) {
    const b = v4(s);
    if (!b) return undefined;
    const out = new Uint8Array(16);
    out[10] = 0xff;
    out[11] = 0xff;
    out.set(b, 12);
    return out;
  }
  if (!/^[0-9A-Fa-f:.]{2,45}$/.test(s)) return undefined;
  let head = s;
  let tail4: number[] | undefined;
  const lastColon = s.lastIndexOf(":");
  if (s.slice(lastColon + 1).includes(".")) {
    tail4 = v4(s.slice(lastColon + 1));
    if (!tail4) return undefined;
    head = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const group = (h: string): number[] | undefined => {
    if (h === "") return [];
    const out: number[] = [];
    for (const g of h.split(":")) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const a = group(halves[0] as string);
  const b = halves.length === 2 ? group(halves[1] as string) : [];
  if (!a || !b) return undefined;
  const missing = 8 - a.length - b.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const words = [...a, ...new Array<number>(missing).fill(0), ...b];
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  if (tail4) out.set(tail4, 12);
  return out;
}

export interface Cidr {
  bytes: Uint8Array;
  /** Prefix length over the 128-bit form (an IPv4 /24 is /120 here). */
  bits: number;
}

/** `a.b.c.d/n`, `x::y/n`, or a bare address (a /32 or /128). */
export function parseCidr(raw: string): Cidr | undefined {
  const slash = raw.indexOf("/");
  const addr = slash < 0 ? raw : raw.slice(0, slash);
  const bytes = parseIp(addr);
  if (!bytes) return undefined;
  const isV4 = addr.includes(".") && !addr.includes(":");
  const max = isV4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const p = raw.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) return undefined;
    bits = Number(p);
  }
  return { bytes, bits: isV4 ? bits + 96 : bits };
}

export function inCidr(ip: Uint8Array, c: Cidr): boolean {
  let left = c.bits;
  for (let i = 0; i < 16 && left > 0; i++, left -= 8) {
    const mask = left >= 8 ? 0xff : (0xff << (8 - left)) & 0xff;
    if (((ip[i] as number) & mask) !== ((c.bytes[i] as number) & mask)) return false;
  }
  return true;
}
