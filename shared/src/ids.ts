/** Crypto-random identifiers, keys and hashing helpers. */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Unbiased base62 string of `length` characters from the OS CSPRNG. */
export function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    const buf = randomBytes(length * 2);
    for (const byte of buf) {
      // 248 = 62*4: reject the tail so every character is equally likely.
      if (byte < 248) out += ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** Public ids: short, URL-safe, lower-case friendly prefix. */
export function newId(prefix: string, length = 16): string {
  return `${prefix}_${randomBase62(length)}`;
}

let lastMs = 0;
let seq = 0;

function base62(n: number, width: number): string {
  let out = "";
  for (let v = Math.floor(n); v > 0; v = Math.floor(v / 62)) out = ALPHABET[v % 62] + out;
  return out.padStart(width, "0");
}

/**
 * An id that sorts (as a string) in the order this process made them: milliseconds, then a
 * counter within the millisecond, then randomness. Events use it so that two written in the same
 * millisecond keep their order in `GET /v1/events` and the MQTT feed (ALPHABET is in ASCII order).
 */
export function newSortableId(prefix: string, now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    seq = 0;
  } else seq++;
  return `${prefix}_${base62(lastMs, 8)}${base62(seq, 4)}${randomBase62(8)}`;
}

/** Playback ids are used in URLs and file paths: base62 only, no prefix separator issues. */
export function newStreamId(): string {
  return randomBase62(20);
}

export function newStreamKey(): string {
  return `sk_${randomBase62(40)}`;
}

export function newApiKey(): string {
  return `dk_${randomBase62(40)}`;
}

/** SRT passphrases must be 10..79 characters. */
export function newSrtPassphrase(): string {
  return randomBase62(32);
}

export function sha256Hex(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

/** Constant-time comparison of two hex digests (or any equal-length strings). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  if (ab.length !== bb.length) {
    // Still spend the comparison so timing does not reveal the length mismatch.
    timingSafeEqual(ab, ab);
    return false;
  }
  return timingSafeEqual(ab, bb);
}

export { ID_CHARS, ID_PATTERN, SAFE_ID } from "./id-pattern.ts";
