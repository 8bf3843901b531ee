/**
 * A linear scan of a raw JSON body for the shapes that make parsing or schema validation costly
 * (deep nesting, huge strings, huge arrays or objects), run before JSON.parse and before TypeBox
 * sees anything. It does not validate JSON (JSON.parse does that next); it only counts, in one
 * pass, with a stack bounded by `maxDepth`.
 */

export interface JsonLimits {
  /** Deepest nesting of arrays/objects. */
  maxDepth: number;
  /** Longest string (key or value), in UTF-16 code units of the raw text. */
  maxString: number;
  /** Most elements in one array, or members in one object. */
  maxItems: number;
}

/** Far beyond anything the API's schemas accept (profiles nest 3 deep, ladders have < 16 rungs). */
export const DEFAULT_JSON_LIMITS: JsonLimits = { maxDepth: 16, maxString: 16 * 1024, maxItems: 1000 };

export type JsonGuardVerdict =
  | { ok: true }
  | { ok: false; reason: "depth" | "string" | "items"; message: string };

export function checkJsonShape(text: string, limits: JsonLimits = DEFAULT_JSON_LIMITS): JsonGuardVerdict {
  // items[d]: separators seen at depth d (one less than its elements or members).
  const items: number[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // The closing quote is the next one not escaped by an odd run of backslashes (native search).
      const start = i;
      let end = text.indexOf('"', i + 1);
      while (end !== -1) {
        let k = end - 1;
        while (text.charCodeAt(k) === 0x5c /* \ */) k--;
        if ((end - 1 - k) % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      i = end === -1 ? text.length : end;
      if (i - start - 1 > limits.maxString)
        return {
          ok: false,
          reason: "string",
          message: `a string is longer than ${limits.maxString} characters`,
        };
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth++;
      if (depth > limits.maxDepth)
        return { ok: false, reason: "depth", message: `JSON nests deeper than ${limits.maxDepth} levels` };
      items[depth] = 0;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      if (depth > 0) depth--;
    } else if (c === 0x2c /* , */) {
      if (depth > 0) {
        const n = (items[depth] ?? 0) + 1;
        items[depth] = n;
        if (n + 1 > limits.maxItems)
          return {
            ok: false,
            reason: "items",
            message: `an array or object has more than ${limits.maxItems} items`,
          };
      }
    }
  }
  return { ok: true };
}
