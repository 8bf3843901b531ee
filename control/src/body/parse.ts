/**
 * The one JSON body parser (ADR 0015): size checked, shape scanned (json-guard) and only then
 * JSON.parse, so neither the parser nor the TypeBox validator ever sees a hostile shape. Runs on
 * Elysia's onParse, after the pre-auth onRequest hook: an unauthenticated body is never read.
 */
import { ApiError } from "../errors/index.ts";
import { checkJsonShape, DEFAULT_JSON_LIMITS, type JsonLimits } from "./json-guard.ts";

export async function parseJsonBody(
  request: Request,
  contentType: string | undefined,
  limit: number,
  limits: JsonLimits = DEFAULT_JSON_LIMITS,
): Promise<unknown> {
  // Other content types keep Elysia's parsers (none of our routes take them).
  if (!contentType?.startsWith("application/json")) return undefined;
  const text = await request.text();
  if (Buffer.byteLength(text) > limit)
    throw new ApiError(413, "body_too_large", `request body exceeds ${limit} bytes`);
  if (text === "") return null;
  const shape = checkJsonShape(text, limits);
  if (!shape.ok) throw new ApiError(400, "body_too_complex", shape.message, { limit: shape.reason });
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, "invalid_body", "request body is not valid JSON");
  }
}
