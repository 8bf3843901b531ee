import { ErrorBody } from "@dionysia/shared";
import { sql } from "drizzle-orm";
import { Elysia, t } from "elysia";
import type { Deps } from "../deps.ts";
import { ApiError } from "../errors/index.ts";

const Health = t.Object({ status: t.Literal("ok"), db: t.Literal("ok") });

export function healthRoutes(deps: Deps) {
  return new Elysia().get(
    "/health",
    async () => {
      try {
        await deps.db.run(sql`select 1`);
      } catch (err) {
        deps.log.error({ err }, "health check: database unreachable");
        throw new ApiError(503, "db_unavailable", "database unreachable");
      }
      return { status: "ok" as const, db: "ok" as const };
    },
    {
      response: { 200: Health, 503: ErrorBody },
      detail: { tags: ["ops"], summary: "Liveness and database check", security: [] },
    },
  );
}
