/** The tables of the glass bench: one row per viewer, publish → playable, ratios to the peer. */
import { readFileSync } from "node:fs";
import { median, ms, sec } from "../lib/stats.ts";
import type { PageConfig } from "./page.ts";
import type { ViewSummary } from "./run.ts";

export interface Viewer {
  label: string;
  page(masterUrl: string): PageConfig;
}

export interface Case {
  key: string;
  label: string;
  seg: number;
  /** LL-HLS part duration (else the profile default, 0.5 s). */
  part?: number;
  formats: string[];
  peer?: boolean;
  /** A built-in profile used as it is (else the ladder with `seg` and `formats`). */
  builtin?: string;
  viewers: Viewer[];
}

export interface Row {
  viewer: string;
  s: ViewSummary;
  /** CPU seconds over the viewer's window, scaled to --seconds: ffmpeg, and everything else. */
  cpu: { ffmpeg: number; rest: number; perMediaS: number; ffmpegPids: number };
  /** The newest segment's lag behind the wall clock (ms) when the viewer opened and closed. */
  lag: [number, number];
  /** Heights the master listed when the viewer closed. */
  served: string;
  /** The 1-minute load average when the viewer closed (2 cores, shared). */
  load: number;
}
export interface CaseResult {
  c: Case;
  playable?: { master: number; segment: number };
  format: string;
  rungs: string;
  rows: Row[];
  skipped?: string;
}

export function report(
  results: CaseResult[],
  m: { rungs: string; join: number; seconds: number; routerMode: string; loadBefore: string },
) {
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  console.log(
    `\nglass-to-glass: builtin-720p ladder (${m.rungs} at 30 fps), publisher 1280x720@30 stamped, viewer joins ${m.join} s after the first playlist, ${m.seconds} s per viewer, router ${m.routerMode} mode, load average ${m.loadBefore} before, ${load} after\n`,
  );
  console.log(
    "| mode | player | p50 | p95 | frames (undecoded) | rungs served at close | rungs played (s after first frame) | top rung at | stalls | trend ms/s | req/s (manifests) | first frame | CPU s ffmpeg / other (ffmpeg pids) | CPU s per media s | segment lag open → close | load |",
  );
  console.log(
    "| --- | --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const r of results) {
    if (r.skipped) {
      console.log(`| ${r.c.label} | skipped: ${r.skipped} | | | | | | | | | | | | | | |`);
      continue;
    }
    if (!r.rows.length)
      console.log(`| ${r.c.label} | not measured: ${r.format} | | | | | | | | | | | | | | |`);
    for (const x of r.rows)
      console.log(
        `| ${r.c.label} | ${x.viewer} | ${sec(x.s.p50)} | ${sec(x.s.p95)} | ${x.s.frames} (${(x.s.undecoded * 100).toFixed(1)}%) | ${x.served} | ${x.s.timeline || "—"} | ${x.s.topAt === undefined ? "never" : `${x.s.topAt.toFixed(1)} s`} | ${x.s.stalls} (${ms(x.s.stalledMs)} ms) | ${ms(x.s.drift)} | ${x.s.reqPerS.toFixed(2)} (${x.s.manifestPerS.toFixed(2)}) | ${sec(x.s.firstFrameMs)} | ${x.cpu.ffmpeg.toFixed(1)} / ${x.cpu.rest.toFixed(1)} (${x.cpu.ffmpegPids}) | ${x.cpu.perMediaS.toFixed(2)} | ${sec(x.lag[0])} → ${sec(x.lag[1])} | ${x.load.toFixed(1)} |`,
      );
  }
  console.log(
    "\n| mode | master 200 | first segment 200 | stamp read back per rung (ffmpeg, one segment) | packaging seen |",
  );
  console.log("| --- | ---: | ---: | --- | --- |");
  for (const r of results)
    if (!r.skipped)
      console.log(
        `| ${r.c.label} | ${ms(r.playable?.master)} ms | ${ms(r.playable?.segment)} ms | ${r.rungs} | ${r.format} |`,
      );
  const errs = results.flatMap((r) =>
    r.rows.flatMap((x) =>
      x.s.errors.length || x.s.error
        ? [`${r.c.label} / ${x.viewer}: ${[x.s.error, ...x.s.errors].filter(Boolean).join("; ")}`]
        : [],
    ),
  );
  if (errs.length) console.log(`\nplayer errors:\n${errs.map((e) => `- ${e}`).join("\n")}`);
  const pairs: [string, string][] = [
    ["hls2", "nginx2"],
    ["hls1", "nginx1"],
  ];
  const ratios: string[] = [];
  for (const [a, b] of pairs) {
    const ra = results.find((r) => r.c.key === a && !r.skipped);
    const rb = results.find((r) => r.c.key === b && !r.skipped);
    if (!ra || !rb) continue;
    ra.rows.forEach((x, i) => {
      const y = rb.rows[i];
      if (!y) return;
      ratios.push(
        `| ${ra.c.label} / ${rb.c.label} | ${x.viewer} | ${(x.s.p50 / y.s.p50).toFixed(2)} | ${(x.s.p95 / y.s.p95).toFixed(2)} | ${((ra.playable?.segment ?? 0) / (rb.playable?.segment ?? 1)).toFixed(2)} | ${(x.cpu.ffmpeg / y.cpu.ffmpeg).toFixed(2)} | ${((x.cpu.ffmpeg + x.cpu.rest) / (y.cpu.ffmpeg + y.cpu.rest)).toFixed(2)} | ${(x.cpu.perMediaS / y.cpu.perMediaS).toFixed(2)} |`,
      );
    });
  }
  if (ratios.length) {
    console.log("\nratios, ours / nginx (below 1: ours is lower)\n");
    console.log(
      "| pair | player | p50 | p95 | publish → first segment | CPU ffmpeg | CPU ffmpeg + server | CPU per media s |",
    );
    console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const l of ratios) console.log(l);
  }
  const all = results.flatMap((r) => r.rows.map((x) => x.s.p50)).filter((x) => !Number.isNaN(x));
  console.log(`\nmedian of the p50s over every row: ${sec(median(all))}`);
}
