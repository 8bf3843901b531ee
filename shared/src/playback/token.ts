/**
 * Playback token verification (ADR 0060), shared by the router (Deno and Bun) and the origin.
 *
 * A token is a compact JWS (ES256 or RS256, `kid` naming a live signing key) whose payload holds
 * `sub` (stream id), `aud` (`v` playback, `t` thumbnail), `exp` (required, at most
 * MAX_TOKEN_LIFETIME_S ahead), optional `nbf`, and optional rules `allow_countries` (ISO 3166-1
 * alpha-2, matched against the CDN's country header) and `allow_ips` (addresses or CIDRs).
 *
 * The signature is checked once per token string; the verified claims are then cached (bounded
 * LRU) until `exp`, so a player's hundreds of segment requests cost a Map lookup and a few
 * comparisons each. A cached token still fails once its key is deleted (the entry remembers the
 * key object it was verified with) or once it expires.
 */
import { compactVerify, decodeProtectedHeader, importJWK } from "jose";
import type { PublicSigningKey, SigningAlg } from "../schemas/mqtt.ts";
import { type Cidr, inCidr, parseCidr, parseIp } from "./ip.ts";

/** `exp` may be at most this far ahead: a leaked token dies within a week whatever it says. */
export const MAX_TOKEN_LIFETIME_S = 7 * 24 * 3600;
/** Clock skew tolerated on `exp` and `nbf` between the signer and this verifier. */
export const CLOCK_SKEW_S = 5;
/** Longer strings are refused before any parsing (an RS256 token with rules is well under 2 KB). */
export const MAX_TOKEN_CHARS = 4096;

export type PlaybackAudience = "v" | "t";

export interface PlaybackClaims {
  sub: string;
  aud: PlaybackAudience;
  exp: number;
  nbf?: number;
  iat?: number;
  allow_countries?: string[];
  allow_ips?: string[];
}

/**
 * Where the request comes from, as far as the verifier's host knows: a value, or a function read
 * only when the token has viewer rules (most do not: the hot path then reads no extra header).
 */
export type ViewerSource = Viewer | (() => Viewer);
export interface Viewer {
  /** ISO 3166-1 alpha-2 from the CDN's country header. */
  country?: string | undefined;
  ip?: string | undefined;
}

export type TokenRefusal = {
  ok: false;
  /** 401 when no token was presented, 403 for every token that does not grant this request. */
  status: 401 | 403;
  code: "token_required" | "token_invalid";
  reason: string;
};
export type TokenCheck = { ok: true; exp: number } | TokenRefusal;

const MISSING: TokenRefusal = {
  ok: false,
  status: 401,
  code: "token_required",
  reason: "this stream needs a playback token (?token= or Authorization: Bearer)",
};
const refuse = (reason: string): TokenRefusal => ({ ok: false, status: 403, code: "token_invalid", reason });

interface LiveKey {
  kid: string;
  alg: SigningAlg;
  key: CryptoKey | Uint8Array;
}

interface Verified {
  claims: PlaybackClaims;
  /** Compiled `allow_ips`, parsed once per token. */
  cidrs: Cidr[] | undefined;
  key: LiveKey;
  /** Insertion counter when last moved to the young end of the LRU. */
  tick: number;
}

export interface VerifierOptions {
  /** Verified tokens kept; the least recently used goes first. */
  maxCached?: number;
  /** Seconds since the epoch (tests move the clock). */
  nowS?: () => number;
}

const isStrArray = (v: unknown, max: number): v is string[] =>
  Array.isArray(v) && v.length <= max && v.every((x) => typeof x === "string" && x.length <= 64);

/** Shape of the payload; claims that do not depend on the request. Pure. */
export function parseClaims(payload: unknown): { ok: true; claims: PlaybackClaims } | TokenRefusal {
  if (typeof payload !== "object" || payload === null) return refuse("payload is not a JSON object");
  const p = payload as Record<string, unknown>;
  if (typeof p.sub !== "string" || p.sub === "") return refuse("sub (stream id) is required");
  if (p.aud !== "v" && p.aud !== "t") return refuse('aud must be "v" (playback) or "t" (thumbnail)');
  if (typeof p.exp !== "number" || !Number.isFinite(p.exp)) return refuse("exp is required");
  if (p.nbf !== undefined && (typeof p.nbf !== "number" || !Number.isFinite(p.nbf)))
    return refuse("nbf must be a number");
  if (p.allow_countries !== undefined && !isStrArray(p.allow_countries, 300))
    return refuse("allow_countries must be an array of country codes");
  if (p.allow_ips !== undefined && !isStrArray(p.allow_ips, 100))
    return refuse("allow_ips must be an array of addresses or CIDRs");
  return { ok: true, claims: p as unknown as PlaybackClaims };
}

/**
 * Claims against one request at `nowS`. Pure; the hot path runs it on every cached hit, so it is
 * comparisons only (`cidrs` were parsed when the token was first verified). `viewer` null skips
 * the viewer rules (country, address): the origin, which sees the CDN rather than the viewer,
 * leaves them to the router.
 */
export function checkClaims(
  c: PlaybackClaims,
  cidrs: Cidr[] | undefined,
  streamId: string,
  aud: PlaybackAudience,
  viewer: ViewerSource | null,
  nowS: number,
): TokenCheck {
  if (c.exp + CLOCK_SKEW_S <= nowS) return refuse("token expired");
  if (c.exp - nowS > MAX_TOKEN_LIFETIME_S) return refuse(`exp is more than ${MAX_TOKEN_LIFETIME_S} s ahead`);
  if (c.nbf !== undefined && c.nbf - CLOCK_SKEW_S > nowS) return refuse("token not valid yet (nbf)");
  if (c.sub !== streamId) return refuse("token is for another stream");
  if (c.aud !== aud) return refuse(`token audience is "${c.aud}", this needs "${aud}"`);
  if (viewer === null || (c.allow_countries === undefined && cidrs === undefined))
    return { ok: true, exp: c.exp };
  const who = typeof viewer === "function" ? viewer() : viewer;
  if (c.allow_countries) {
    const cc = who.country?.trim().toUpperCase();
    if (!cc || !c.allow_countries.some((x) => x.toUpperCase() === cc))
      return refuse(cc ? `country ${cc} is not allowed by this token` : "token needs a known country");
  }
  if (cidrs) {
    const ip = who.ip === undefined ? undefined : parseIp(who.ip);
    if (!ip || !cidrs.some((r) => inCidr(ip, r)))
      return refuse("client address is not allowed by this token");
  }
  return { ok: true, exp: c.exp };
}

export class PlaybackVerifier {
  private keys = new Map<string, LiveKey>();
  private readonly cache = new Map<string, Verified>();
  /** Misses in flight, so a burst of requests with one new token verifies it once. */
  private readonly pending = new Map<string, Promise<Verified | TokenRefusal>>();
  private readonly maxCached: number;
  private readonly nowS: () => number;
  private tick = 0;
  /** Bumped on every key change (tests and metrics wait on it). */
  version = 0;

  constructor(o: VerifierOptions = {}) {
    this.maxCached = o.maxCached ?? 50_000;
    this.nowS = o.nowS ?? (() => Date.now() / 1000);
  }

  get keyIds(): string[] {
    return [...this.keys.keys()];
  }
  get cached(): number {
    return this.cache.size;
  }

  /**
   * Replaces the live key set. An unchanged key (same kid, alg and JWK) keeps its imported object,
   * so tokens cached under it stay cached; a deleted or changed key's tokens fail from now on.
   * A key that does not import is skipped and reported in `rejected`.
   */
  async setKeys(list: readonly PublicSigningKey[]): Promise<{ rejected: { kid: string; error: string }[] }> {
    const next = new Map<string, LiveKey>();
    const rejected: { kid: string; error: string }[] = [];
    for (const k of list) {
      const prev = this.keys.get(k.kid);
      const sig = JSON.stringify([k.alg, k.jwk]);
      if (prev && sigOf.get(prev) === sig) {
        next.set(k.kid, prev);
        continue;
      }
      try {
        const key = await importJWK({ ...k.jwk, alg: k.alg }, k.alg);
        const live: LiveKey = { kid: k.kid, alg: k.alg, key };
        sigOf.set(live, sig);
        next.set(k.kid, live);
      } catch (err) {
        rejected.push({ kid: k.kid, error: (err as Error).message });
      }
    }
    this.keys = next;
    this.version++;
    return { rejected };
  }

  /**
   * Does `token` grant `aud` access to `streamId` for `viewer`? Synchronous for a token seen
   * before (the hot path), a Promise the first time its signature is checked.
   */
  check(
    token: string | undefined,
    streamId: string,
    aud: PlaybackAudience,
    viewer: ViewerSource | null,
  ): TokenCheck | Promise<TokenCheck> {
    if (token === undefined || token === "") return MISSING;
    const hit = this.cache.get(token);
    if (hit !== undefined) {
      if (this.keys.get(hit.key.kid) !== hit.key) {
        this.cache.delete(token);
        return refuse(`signing key ${hit.key.kid} is no longer valid`);
      }
      const now = this.nowS();
      const r = checkClaims(hit.claims, hit.cidrs, streamId, aud, viewer, now);
      if (!r.ok && hit.claims.exp + CLOCK_SKEW_S <= now) this.cache.delete(token);
      else if (hit.tick < this.tick - (this.maxCached >> 1)) {
        // LRU, approximately: an entry moves to the young end only once it is in the older half,
        // so a hot token costs no Map writes.
        hit.tick = ++this.tick;
        this.cache.delete(token);
        this.cache.set(token, hit);
      }
      return r;
    }
    return this.verifySlow(token).then((v) =>
      "ok" in v ? v : checkClaims(v.claims, v.cidrs, streamId, aud, viewer, this.nowS()),
    );
  }

  private verifySlow(token: string): Promise<Verified | TokenRefusal> {
    let p = this.pending.get(token);
    if (!p) {
      p = this.verifySignature(token).finally(() => this.pending.delete(token));
      this.pending.set(token, p);
    }
    return p;
  }

  private async verifySignature(token: string): Promise<Verified | TokenRefusal> {
    if (token.length > MAX_TOKEN_CHARS) return refuse("token too long");
    let kid: unknown;
    let alg: unknown;
    try {
      ({ kid, alg } = decodeProtectedHeader(token));
    } catch {
      return refuse("token is not a JWT");
    }
    if (typeof kid !== "string") return refuse("token header has no kid");
    const key = this.keys.get(kid);
    if (!key) return refuse(`unknown or revoked signing key ${kid.slice(0, 64)}`);
    if (alg !== key.alg) return refuse(`key ${kid} signs ${key.alg}, token says ${String(alg)}`);
    let payload: unknown;
    try {
      const r = await compactVerify(token, key.key, { algorithms: [key.alg] });
      payload = JSON.parse(new TextDecoder().decode(r.payload));
    } catch {
      return refuse("bad token signature");
    }
    const parsed = parseClaims(payload);
    if (!parsed.ok) return parsed;
    let cidrs: Cidr[] | undefined;
    if (parsed.claims.allow_ips) {
      cidrs = [];
      for (const raw of parsed.claims.allow_ips) {
        const c = parseCidr(raw);
        if (!c) return refuse(`allow_ips entry ${raw} is not an address or CIDR`);
        cidrs.push(c);
      }
    }
    const v: Verified = { claims: parsed.claims, cidrs, key, tick: ++this.tick };
    // Cached only while the key that verified it is still the live one (it may have changed while
    // the signature was being checked).
    if (this.keys.get(kid) === key) {
      if (this.cache.size >= this.maxCached) {
        const oldest = this.cache.keys().next().value;
        if (oldest !== undefined) this.cache.delete(oldest);
      }
      this.cache.set(token, v);
    }
    return v;
  }
}

const sigOf = new WeakMap<LiveKey, string>();

/** `?token=` (first occurrence) in a raw request URL, without building a URL object. */
export function queryTokenOf(url: string): string | undefined {
  const q = url.indexOf("?");
  if (q < 0) return undefined;
  const hash = url.indexOf("#", q);
  const end = hash < 0 ? url.length : hash;
  let i = q + 1;
  while (i < end) {
    let amp = url.indexOf("&", i);
    if (amp < 0 || amp > end) amp = end;
    if (url.startsWith("token=", i)) {
      const raw = url.slice(i + 6, amp);
      // JWTs are base64url and dots: no decoding needed unless a client escaped something.
      try {
        return raw.includes("%") ? decodeURIComponent(raw) : raw;
      } catch {
        return raw;
      }
    }
    i = amp + 1;
  }
  return undefined;
}

export function bearerTokenOf(headers: Headers): string | undefined {
  const auth = headers.get("authorization");
  if (auth && auth.length > 7 && auth.slice(0, 7).toLowerCase() === "bearer ") return auth.slice(7).trim();
  return undefined;
}

/** `?token=` first, then `Authorization: Bearer`. */
export function playbackTokenOf(url: string, headers: Headers): string | undefined {
  return queryTokenOf(url) ?? bearerTokenOf(headers);
}
