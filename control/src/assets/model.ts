/** Assets API schemas (ADR 0095): the shared Asset, with its list and query shapes. */
import { Asset } from "@dionysia/shared";
import { t } from "elysia";

export { Asset };

export const AssetParams = t.Object({ id: t.String({ maxLength: 64 }) });
export const AssetQuery = t.Object({
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 20 })),
  cursor: t.Optional(t.String({ maxLength: 256, description: "nextCursor of the previous page" })),
  streamId: t.Optional(t.String({ maxLength: 64 })),
});
export const AssetPage = t.Object({ items: t.Array(Asset), nextCursor: t.Union([t.String(), t.Null()]) });
