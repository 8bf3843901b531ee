import { t } from "elysia";

export const ApiKeyRole = t.Union([t.Literal("admin"), t.Literal("user")]);

export const ApiKey = t.Object({
  id: t.String(),
  name: t.String(),
  role: ApiKeyRole,
  createdAt: t.String({ format: "date-time" }),
  revokedAt: t.Union([t.String({ format: "date-time" }), t.Null()]),
});

export const ApiKeyWithSecret = t.Composite([
  ApiKey,
  t.Object({ key: t.String({ description: "Secret; shown once" }) }),
]);

export const CreateApiKey = t.Object(
  {
    name: t.String({ minLength: 1, maxLength: 100 }),
    role: t.Optional(ApiKeyRole),
  },
  { additionalProperties: false },
);

export const ApiKeyList = t.Object({ items: t.Array(ApiKey) });
export const IdParams = t.Object({ id: t.String({ maxLength: 128 }) });
