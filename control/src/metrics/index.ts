import { count } from "drizzle-orm";
import { Elysia, t } from "elysia";
import { streams } from "../db/schema.ts";
import type { Deps } from "../deps.ts";

const STATUSES = ["idle", "starting", "live", "error", "reconnecting"] as const;

/** Records every request (route template, not raw path, so ids do not explode the label set). */
export function requestMetricsPlugin(deps: Deps) {
  const started = new WeakMap<Request, number>();
  return new Elysia({ name: "request-metrics", seed: deps.instanceId })
    .onRequest(({ request }) => {
      started.set(request, performance.now());
    })
    .onAfterResponse({ as: "global" }, (ctx) => {
      const t0 = started.get(ctx.request);
      const route = (ctx as { route?: string }).route || "unmatched";
      const method = ctx.request.method;
      const status = String(typeof ctx.set.status === "number" ? ctx.set.status : 200);
      deps.metrics.httpRequests.inc({ method, route, status });
      if (t0 !== undefined)
        deps.metrics.httpDuration.observe({ method, route }, (performance.now() - t0) / 1000);
    });
}

async function refreshStreamGauge(deps: Deps): Promise<void> {
  const rows = await deps.db
    .select({ status: streams.status, n: count() })
    .from(streams)
    .groupBy(streams.status);
  for (const s of STATUSES) deps.metrics.streamsByStatus.set({ status: s }, 0);
  for (const r of rows) deps.metrics.streamsByStatus.set({ status: r.status }, r.n);
}

export function metricsRoutes(deps: Deps) {
  return new Elysia().get(
    "/metrics",
    async ({ set }) => {
      await refreshStreamGauge(deps);
      set.headers["content-type"] = deps.metrics.registry.contentType;
      return deps.metrics.registry.metrics();
    },
    {
      response: { 200: t.String({ description: "Prometheus text exposition" }) },
      detail: { tags: ["ops"], summary: "Prometheus metrics", security: [] },
    },
  );
}
