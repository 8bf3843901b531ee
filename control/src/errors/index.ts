/**
 * One error shape for every reply: `{error: {code, message, details?}}` (shared ErrorBody).
 * Unknown failures become a plain 500 and are logged; a stack trace never reaches a client.
 */
import type { ErrorBody, Logger } from "@dionysia/shared";
import { Elysia } from "elysia";

export class ApiError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly details?: unknown,
    /** Extra reply headers (e.g. Retry-After on a 429). */
    public readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const notFound = (what: string, id: string) =>
  new ApiError(404, "not_found", `${what} ${id} not found`);

export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

interface ValidationIssue {
  path?: string;
  message?: string;
  summary?: string;
}

function validationDetails(error: unknown): { on: string; problems: { path: string; message: string }[] } {
  const e = error as { type?: string; all?: ValidationIssue[] };
  const problems = (e.all ?? []).map((i) => ({
    path: i.path || "/",
    message: i.summary ?? i.message ?? "invalid",
  }));
  return { on: e.type ?? "request", problems };
}

export function errorsPlugin(log: Logger, instanceId: string) {
  return new Elysia({ name: "errors", seed: instanceId }).onError(
    { as: "global" },
    ({ code, error, set, request }) => {
      set.headers["content-type"] = "application/json";
      // Elysia wraps anything thrown while parsing (e.g. our 413 for a chunked body) in a ParseError.
      const own = error instanceof ApiError ? error : (error as { cause?: unknown }).cause;
      if (own instanceof ApiError) {
        set.status = own.status;
        if (own.headers) Object.assign(set.headers, own.headers);
        return errorBody(own.code, own.message, own.details);
      }
      switch (code) {
        case "VALIDATION": {
          const v = error as unknown as { type?: string; all?: ValidationIssue[] };
          if (v.type === "response") break; // our bug, not the client's: fall through to 500
          set.status = 422;
          return errorBody("validation_failed", `invalid ${v.type ?? "request"}`, validationDetails(error));
        }
        case "PARSE":
          set.status = 400;
          return errorBody("invalid_body", "request body is not valid JSON");
        case "NOT_FOUND":
          set.status = 404;
          return errorBody("not_found", "no such route");
        case "INVALID_COOKIE_SIGNATURE":
          set.status = 400;
          return errorBody("bad_request", "invalid cookie");
      }
      log.error({ err: error, method: request.method, url: new URL(request.url).pathname }, "request failed");
      set.status = 500;
      return errorBody("internal", "internal error");
    },
  );
}
