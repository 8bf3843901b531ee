/**
 * Calibration stability benchmark (issue 8, ADR 0044): runs the origin's capacity calibration 5
 * times while a busy loop holds one core (taskset-pinned when taskset exists), prints each result
 * with what a wall-clock calibration would have said from the same encode, and the median and
 * spread ((max - min) / median) of both. Target: CPU-time spread <= 15 %.
 *
 *   flock /tmp/dionysia-bench.lock bun bench/calibration.ts [--runs 5] [--no-hog] [--write]
 *   --write   also writes docs/benchmarks/calibration.md (text after its NOTES marker is kept)
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { measureCapacity } from "../origin/src/agent/capacity.ts";
import { BUILTIN_PROFILES, profileCost } from "../shared/src/index.ts";

const argv = process.argv.slice(2);
const runsArg = argv.indexOf("--runs");
const RUNS = runsArg >= 0 ? Number(argv[runsArg + 1]) : 5;
const hog = !argv.includes("--no-hog");
const write = argv.includes("--write");
const DOC = "docs/benchmarks/calibration.md";
const NOTES = "<!-- notes: kept by --write -->";

function startHog(): { stop(): Promise<void>; how: string } | undefined {
  if (!hog) return undefined;
  const loop = ["bun", "-e", "for(;;){}"];
  const pinned = Bun.spawnSync(["sh", "-c", "command -v taskset"]).exitCode === 0;
  const cmd = pinned ? ["taskset", "-c", "0", ...loop] : loop;
  const p = Bun.spawn(cmd, { stdout: "ignore", stderr: "ignore" });
  return {
    how: pinned ? "busy loop pinned to core 0 (taskset -c 0)" : "busy loop (no taskset: unpinned)",
    async stop() {
      p.kill("SIGKILL");
      await p.exited;
    },
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const spread = (xs: number[]) => (Math.max(...xs) - Math.min(...xs)) / median(xs);
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

const h = startHog();
const rows: { cpu: number; wall: number; cpuPerMpx: number; frames: number; wallS: number; load: string }[] =
  [];
try {
  // Let the hog reach full speed before the first run.
  await Bun.sleep(500);
  for (let i = 0; i < RUNS; i++) {
    const r = await measureCapacity({});
    const load = loadavg();
    rows.push({
      cpu: r.loadUnits,
      wall: r.wallLoadUnits,
      cpuPerMpx: r.cpuSecondsPerMpx,
      frames: r.frames,
      wallS: r.wallSeconds,
      load,
    });
    console.log(
      `run ${i + 1}: ${r.loadUnits} units by CPU time (${r.cpuSecondsPerMpx} CPU-s/Mpx, ${r.frames} frames in ${r.wallSeconds} s, ${r.cores} cores); wall-clock method: ${r.wallLoadUnits}; loadavg ${load}`,
    );
  }
} finally {
  await h?.stop();
}

const cpuUnits = rows.map((r) => r.cpu);
const wallUnits = rows.map((r) => r.wall);
const ladder = profileCost(BUILTIN_PROFILES["builtin-720p"]!);
const summary = [
  `CPU time: median ${median(cpuUnits).toFixed(1)} units, spread ${pct(spread(cpuUnits))} (min ${Math.min(...cpuUnits)}, max ${Math.max(...cpuUnits)})`,
  `wall clock (same encodes): median ${median(wallUnits).toFixed(1)} units, spread ${pct(spread(wallUnits))} (min ${Math.min(...wallUnits)}, max ${Math.max(...wallUnits)})`,
  `builtin-720p costs ${ladder} units: ${(median(cpuUnits) / ladder).toFixed(2)} ladders fit the median capacity`,
];
for (const l of summary) console.log(l);

if (write) {
  const old = existsSync(DOC) ? readFileSync(DOC, "utf8") : "";
  const kept = old.includes(NOTES) ? old.slice(old.indexOf(NOTES)) : `${NOTES}\n`;
  const md = [
    "# Calibration benchmark",
    "",
    `Produced by \`flock /tmp/dionysia-bench.lock bun bench/calibration.ts --write\` on ${new Date().toISOString().slice(0, 10)}`,
    `(${cpus().length} x ${cpus()[0]?.model ?? "?"}; background load: ${h ? h.how : "none"}; other work on the`,
    "machine not controlled: the load average after each run is shown).",
    "",
    "Each run is the origin's start-up calibration (`measureCapacity`, ADR 0044): the built-in 720p",
    "ladder's video encoded from testsrc2, CPU-seconds per output megapixel read from /proc after a",
    "30-frame warm-up, times the usable cores, times 0.8. The wall-clock column is what the old",
    "method (output megapixels per wall second) gives for the same encode.",
    "",
    "| run | CPU time (units) | CPU-s per Mpx | frames | wall (s) | wall-clock method (units) | load average |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map(
      (r, i) => `| ${i + 1} | ${r.cpu} | ${r.cpuPerMpx} | ${r.frames} | ${r.wallS} | ${r.wall} | ${r.load} |`,
    ),
    "",
    ...summary.map((l) => `- ${l}`),
    "",
    kept,
  ].join("\n");
  writeFileSync(DOC, md);
  console.log(`wrote ${DOC}`);
}
