/**
 * docs/grafana/dionysia.json queries only metrics that exist: control, an origin and the router
 * start as real processes (e2e/platform.ts, as `./dionysia up` runs them) and every metric name in
 * every PromQL expression of the dashboard must be in the /metrics of the service its `job`
 * variable names. A renamed or removed metric fails here, not in an operator's empty panel.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "../../shared/src/testkit/index.ts";
import { type Platform, ROOT, startPlatform } from "../platform.ts";

type Service = "control" | "origin" | "router";
const JOBS: Record<string, Service> = {
  $control_job: "control",
  $origin_job: "origin",
  $router_job: "router",
};

interface Panel {
  title?: string;
  type: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}
const dashboard = JSON.parse(readFileSync(join(ROOT, "docs/grafana/dionysia.json"), "utf8")) as {
  panels: Panel[];
  templating: { list: { name: string; query?: string }[] };
};

function queries(): { panel: string; expr: string }[] {
  const out: { panel: string; expr: string }[] = [];
  const walk = (ps: Panel[]) => {
    for (const p of ps) {
      for (const t of p.targets ?? []) out.push({ panel: p.title ?? "?", expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(dashboard.panels);
  return out;
}

/** PromQL words that are not metric names. */
const PROMQL = new Set(
  "sum min max avg count stddev stdvar topk bottomk quantile count_values group by without on ignoring group_left group_right and or unless bool offset rate irate increase delta idelta deriv histogram_quantile abs ceil floor round clamp clamp_min clamp_max label_replace label_join vector scalar time absent absent_over_time avg_over_time max_over_time min_over_time sum_over_time count_over_time last_over_time".split(
    " ",
  ),
);

/** Metric names in a PromQL expression: selectors, ranges, grouping and strings taken out first. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, "")
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  return [...new Set(bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [])].filter((w) => !PROMQL.has(w));
}

/** Every series name a /metrics page can have: its TYPE lines, with a histogram's three suffixes. */
function seriesNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(name + s);
    if (type === "summary") for (const s of ["_sum", "_count"]) names.add(name + s);
  }
  return names;
}

describe("the Grafana dashboard (docs/grafana/dionysia.json)", () => {
  test("is a dashboard whose every query names one service by its job variable", () => {
    const vars = dashboard.templating.list.map((v) => v.name);
    expect(vars).toEqual(expect.arrayContaining(["datasource", "control_job", "origin_job", "router_job"]));
    const qs = queries();
    expect(qs.length).toBeGreaterThan(15);
    for (const q of qs) {
      const jobs = Object.keys(JOBS).filter((j) => q.expr.includes(`job="${j}"`));
      expect({ panel: q.panel, jobs: jobs.length }).toEqual({ panel: q.panel, jobs: 1 });
      expect(metricNames(q.expr).length).toBeGreaterThan(0);
    }
    expect(metricNames('histogram_quantile(0.95, sum by (le) (rate(x_bucket{job="a"}[5m]))) * 8')).toEqual([
      "x_bucket",
    ]);
  });

  describe("against the running services", () => {
    let platform: Platform;
    let dataDir: string;
    const served: Partial<Record<Service, Set<string>>> = {};

    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), "dionysia-grafana-"));
      const [control, router, mqtt, origin, rtmp] = (await freePorts(5)) as number[];
      const srt = 32000 + Math.floor(Math.random() * 3000) * 10;
      platform = await startPlatform({
        dataDir,
        controlPort: control as number,
        routerPort: router as number,
        mqttPort: mqtt as number,
        origins: [
          {
            id: "graf-1",
            region: "eu",
            lat: 48.85,
            lon: 2.35,
            httpPort: origin as number,
            rtmpPort: rtmp as number,
            srtPortRange: `${srt}-${srt + 3}`,
          },
        ],
        adminKey: `dk_${"g".repeat(40)}`,
        nodeKey: `nk_${"g".repeat(40)}`,
        routerKey: `rk_${"g".repeat(40)}`,
        logLevel: "warn",
      });
      const originUrl = [...platform.origins.values()][0]?.url as string;
      for (const [service, url] of [
        ["control", platform.controlUrl],
        ["origin", originUrl],
        ["router", platform.routerUrl],
      ] as const) {
        const res = await fetch(`${url}/metrics`);
        expect(res.status).toBe(200);
        served[service] = seriesNames(await res.text());
      }
    }, 120_000);

    afterAll(async () => {
      await platform?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    test("every metric a query uses is served by the service its job names", () => {
      const missing: string[] = [];
      for (const q of queries()) {
        const job = Object.keys(JOBS).find((j) => q.expr.includes(`job="${j}"`)) as string;
        const service = JOBS[job] as Service;
        for (const name of metricNames(q.expr))
          if (!served[service]?.has(name)) missing.push(`${q.panel}: ${name} (not in ${service}'s /metrics)`);
      }
      expect(missing).toEqual([]);
      // And the dashboard covers all three services.
      for (const s of ["control", "origin", "router"] as const) expect(served[s]?.size).toBeGreaterThan(3);
    });
  });
});
