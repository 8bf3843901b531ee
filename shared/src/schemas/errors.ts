import { type Static, Type as T } from "@sinclair/typebox";

/** Every API error body: `{error: {code, message, details?}}`. */
export const ErrorBody = T.Object({
  error: T.Object({
    code: T.String({ examples: ["not_found"] }),
    message: T.String(),
    details: T.Optional(T.Unknown()),
  }),
});
export type ErrorBody = Static<typeof ErrorBody>;
