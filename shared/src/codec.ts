/** JSON codecs for MQTT payloads, validated with the same TypeBox schemas as the API. */
import type { Static, TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";

/** Larger payloads are dropped before parsing: a desired state of 10k streams fits well below. */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

// biome-ignore lint/suspicious/noExplicitAny: compiled checkers are cached per schema object
const compiled = new WeakMap<TSchema, ReturnType<typeof TypeCompiler.Compile<any>>>();

function checker<S extends TSchema>(schema: S) {
  let c = compiled.get(schema);
  if (!c) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c);
  }
  return c;
}

/** Never throws: returns a reason for anything that is not a valid message. */
export function decodeMessage<S extends TSchema>(
  schema: S,
  payload: Uint8Array | string,
): Decoded<Static<S>> {
  const size = typeof payload === "string" ? Buffer.byteLength(payload) : payload.byteLength;
  if (size === 0) return { ok: false, error: "empty payload" };
  if (size > MAX_MESSAGE_BYTES) return { ok: false, error: `payload too large (${size} bytes)` };
  let data: unknown;
  try {
    const text =
      typeof payload === "string" ? payload : new TextDecoder("utf-8", { fatal: true }).decode(payload);
    data = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` };
  }
  const c = checker(schema);
  if (!c.Check(data)) {
    const first = c.Errors(data).First();
    return { ok: false, error: first ? `${first.path || "/"}: ${first.message}` : "invalid" };
  }
  return { ok: true, value: data as Static<S> };
}

/** Validate a value in memory (e.g. before publishing); returns the first error or undefined. */
export function validate<S extends TSchema>(schema: S, value: unknown): string | undefined {
  const c = checker(schema);
  if (c.Check(value)) return undefined;
  const first = c.Errors(value).First();
  return first ? `${first.path || "/"}: ${first.message}` : "invalid";
}
