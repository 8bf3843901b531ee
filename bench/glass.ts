/**
 * Glass-to-glass latency in a real browser (issue 14, part 7), on the real platform (control +
 * one origin + the router + mosquitto, through e2e/platform.ts) and on the nearest peer that
 * installs here (nginx + libnginx-mod-rtmp with an exec'd ffmpeg making the same ladder).
 *
 * The publisher (ffmpeg, 720p30 test pattern, `-re`) stamps its wall clock into every frame as
 * black/white cells (bench/glass/stamp.ts); headless Chromium (playwright-core under node) plays
 * the router's URL with hls.js or dash.js and, in requestVideoFrameCallback, decodes the stamp of
 * each displayed frame and records (display time − stamp), same host, same clock, for --seconds
 * from its first frame. The viewer joins a running stream: --join seconds after the first
 * playlist. Every mode uses the built-in 3-rung ladder (builtin-720p: 720p, 480p, 360p at 30 fps)
 * with the segment duration and formats of the mode.
 *
 *   bun bench/glass.ts [--seconds 60] [--join 10] [--modes hls2,nginx2,hls1,nginx1,ll-hls,ll-hls-0.25,ll-hls-0.2,ll-dash]
 *                      [--router-mode proxy|redirect] [--echo]
 *
 * The peer is skipped with a message when nginx or its RTMP module is absent.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { killOrphans, type Platform, ROOT, startPlatform } from "../e2e/platform.ts";
import { dashjsSettings, hlsjsSettings } from "../shared/src/player-settings.ts";
import { BUILTIN_PROFILES } from "../shared/src/profile/builtin.ts";
import {
  freePorts,
  type Mosquitto,
  type Publisher,
  playwrightNode,
  startMosquitto,
  waitFor,
} from "../shared/src/testkit/index.ts";
import { peerMissing, type Rung, startPeer } from "./glass/peer.ts";
import { watchCpu } from "./glass/proc.ts";
import { type Case, type CaseResult, type Row, report, type Viewer } from "./glass/report.ts";
import { checkRungs, segmentLag, startPublisher, summarize, variants, waitPlayable } from "./glass/run.ts";
import { startViewerKit, type ViewerKit } from "./glass/serve.ts";
import { get } from "./lib/hls.ts";
import { ms } from "./lib/stats.ts";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    join: { type: "string", default: "10" },
    modes: { type: "string", default: "hls2,nginx2,hls1,nginx1,ll-hls,ll-dash" },
    "router-mode": { type: "string", default: "proxy" },
    echo: { type: "boolean", default: false },
  },
});
const SECONDS = Number(args.seconds);
const JOIN = Number(args.join);
const LIBS = process.env.PLAYER_LIBS_DIR ?? join(ROOT, "node_modules");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const PARIS = { lat: 48.8566, lon: 2.3522 };
const LADDER = BUILTIN_PROFILES["builtin-720p"];
if (!LADDER) throw new Error("no builtin-720p profile");
const RUNGS: Rung[] = LADDER.renditions.map((r) => ({
  name: r.name,
  width: r.width ?? 0,
  height: r.height ?? 0,
  fps: r.fps ?? 30,
  bitrateKbps: r.bitrateKbps ?? 1000,
  preset: r.preset ?? "veryfast",
}));
const TOP = Math.max(...RUNGS.map((r) => r.height));
const AUDIO_KBPS = LADDER.audio?.bitrateKbps ?? 128;

const hlsViewer = (label: string, hls: Record<string, unknown>): Viewer => ({
  label,
  page: (url) => ({ player: "hls", url, hls }),
});
const DEFAULTS = hlsViewer("hls.js, recommended (defaults)", hlsjsSettings(["hls"]));
const SYNC1 = hlsViewer("hls.js lowLatencyMode + liveSyncDurationCount 1", {
  lowLatencyMode: true,
  liveSyncDurationCount: 1,
});

const CASES: Case[] = [
  { key: "hls2", label: "ours, HLS 2 s", seg: 2, formats: ["hls", "dash"], viewers: [DEFAULTS] },
  { key: "hls1", label: "ours, HLS 1 s", seg: 1, formats: ["hls", "dash"], viewers: [DEFAULTS, SYNC1] },
  {
    key: "ll-hls",
    label: "ours, LL-HLS (1 s segments, 0.5 s parts)",
    seg: 1,
    formats: ["ll-hls"],
    viewers: [hlsViewer("hls.js low latency, recommended", hlsjsSettings(["ll-hls"]))],
  },
  {
    key: "ll-hls-0.25",
    label: "ours, LL-HLS (1 s segments, 0.25 s parts)",
    seg: 1,
    part: 0.25,
    formats: ["ll-hls"],
    viewers: [hlsViewer("hls.js low latency, recommended", hlsjsSettings(["ll-hls"]))],
  },
  {
    key: "ll-hls-0.2",
    label: "ours, LL-HLS (1 s segments, 0.2 s parts)",
    seg: 1,
    part: 0.2,
    formats: ["ll-hls"],
    viewers: [hlsViewer("hls.js low latency, recommended", hlsjsSettings(["ll-hls"]))],
  },
  {
    key: "ll-dash",
    label: "ours, LL-DASH (builtin-720p-ll: 1 s segments, 0.5 s chunks)",
    builtin: "builtin-720p-ll",
    seg: 1,
    formats: ["ll-hls", "dash"],
    viewers: [
      {
        label: "dash.js low latency, recommended",
        page: (url) => ({
          player: "dash",
          url: url.replace(/master\.m3u8$/, "manifest.mpd"),
          dash: dashjsSettings(["ll-hls", "dash"]),
        }),
      },
    ],
  },
  { key: "nginx2", label: "nginx-rtmp, HLS 2 s", seg: 2, formats: [], peer: true, viewers: [DEFAULTS] },
  {
    key: "nginx1",
    label: "nginx-rtmp, HLS 1 s",
    seg: 1,
    formats: [],
    peer: true,
    viewers: [DEFAULTS, SYNC1],
  },
];

/** What the packaging looks like from outside: LL-HLS tags, LL-DASH attributes. */
async function formatCheck(c: Case, masterUrl: string): Promise<string> {
  const notes: string[] = [];
  if (c.formats.includes("ll-hls")) {
    const master = await get(masterUrl);
    const first = master.text.split("\n").find((l) => l.trim() && !l.startsWith("#"));
    const media = first ? await get(new URL(first.trim(), masterUrl).href) : undefined;
    const t = media?.text ?? "";
    notes.push(
      /#EXT-X-PART:/.test(t)
        ? `LL-HLS: ${/PART-TARGET=([\d.]+)/.exec(t)?.[0] ?? "parts"}, ${/#EXT-X-SERVER-CONTROL:(.*)/.exec(t)?.[1] ?? "no server control"}`
        : "not served as LL-HLS (no EXT-X-PART in the media playlist)",
    );
  }
  if (c.key === "ll-dash") {
    const res = await get(masterUrl.replace(/master\.m3u8$/, "manifest.mpd"));
    const mpd = res.text;
    if (res.status !== 200)
      return [...notes, `not served as DASH at all (manifest.mpd: ${res.status})`].join("; ");
    const ato = /availabilityTimeOffset="([^"]+)"/.exec(mpd)?.[1];
    notes.push(
      ato
        ? `LL-DASH: availabilityTimeOffset ${ato}, availabilityTimeComplete ${/availabilityTimeComplete="([^"]+)"/.exec(mpd)?.[1] ?? "—"}, ServiceDescription ${/<ServiceDescription/.test(mpd) ? "yes" : "no"}, UTCTiming ${/<UTCTiming/.test(mpd) ? "yes" : "no"}`
        : `not served as LL-DASH (no availabilityTimeOffset in the MPD; UTCTiming ${/<UTCTiming/.test(mpd) ? "yes" : "no"})`,
    );
  }
  return notes.join("; ") || "ordinary HLS";
}

/** One stream: publish, wait for playable, join after --join s, each viewer in turn. */
async function measure(
  c: Case,
  masterUrl: string,
  publishUrl: string,
  cpuRoot: number,
  kit: ViewerKit,
): Promise<Omit<CaseResult, "c">> {
  const t0 = Date.now();
  const pub: Publisher = startPublisher(publishUrl);
  try {
    const playable = await waitPlayable(masterUrl, t0);
    console.error(`· ${c.label}: master ${playable.master} ms, first segment ${playable.segment} ms`);
    await Bun.sleep(Math.max(0, t0 + playable.master + JOIN * 1000 - Date.now()));
    const format = await formatCheck(c, masterUrl);
    console.error(`· ${c.label}: ${format}`);
    const rungs = (await checkRungs(masterUrl))
      .map((r) => `${r.height}p ${r.ok}/${r.total} (${r.extinf} s)`)
      .join(", ");
    console.error(`· ${c.label}: stamp read back by ffmpeg per rung: ${rungs}`);
    const rows: Row[] = [];
    if (/not served as DASH at all/.test(format)) return { playable, format, rungs, rows };
    for (const v of c.viewers) {
      const lagStart = await segmentLag(masterUrl);
      const cpu = watchCpu(cpuRoot);
      const from = Date.now();
      const out = await kit.view(v.page(masterUrl), SECONDS);
      const span = (Date.now() - from) / 1000;
      const d = cpu();
      const lagEnd = await segmentLag(masterUrl);
      // The rungs the master lists now (the origin sheds the top one when its transcoder falls behind).
      const served = variants(masterUrl, (await get(masterUrl)).text).map((x) => x.height);
      const s = summarize(out, TOP);
      const k = SECONDS / span;
      const load = Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
      // Media seconds the transcoder turned out in the window: less than the window if it fell behind.
      const media = span - (lagEnd - lagStart) / 1000;
      rows.push({
        viewer: v.label,
        s,
        cpu: {
          ffmpeg: d.ffmpeg * k,
          rest: d.rest * k,
          perMediaS: (d.ffmpeg + d.rest) / media,
          ffmpegPids: d.ffmpegPids,
        },
        lag: [lagStart, lagEnd],
        served: served.join("/"),
        load,
      });
      console.error(
        `· ${c.label} / ${v.label}: p50 ${ms(s.p50)} ms, p95 ${ms(s.p95)} ms, ${s.frames} frames, top at ${s.topAt ?? "never"}, ${s.stalls} stalls, trend ${ms(s.drift)} ms/s, ${s.reqPerS.toFixed(2)} req/s${s.error ? `, ${s.error}` : ""}${s.errors.length ? `, errors: ${s.errors.slice(0, 4).join("; ")}` : ""}`,
      );
    }
    if (pub.stderr()) console.error(`· publisher: ${pub.stderr().slice(0, 400)}`);
    return { playable, format, rungs, rows };
  } finally {
    await pub.stop();
  }
}

async function ours(p: Platform, c: Case, kit: ViewerKit): Promise<Omit<CaseResult, "c">> {
  let profileId = c.builtin;
  if (!profileId) {
    const prof = await p.api("/v1/profiles", {
      method: "POST",
      json: {
        ...LADDER,
        name: `glass ${c.key}`,
        segmentDuration: c.seg,
        ...(c.part ? { partDuration: c.part } : {}),
        formats: c.formats,
      },
    });
    if (prof.status !== 201) throw new Error(`create profile: ${prof.status} ${await prof.text()}`);
    profileId = ((await prof.json()) as { id: string }).id;
  }
  const created = await p.api("/v1/streams", {
    method: "POST",
    json: { name: `glass ${c.key}`, profileId, location: PARIS },
  });
  if (created.status !== 201) throw new Error(`create stream: ${created.status} ${await created.text()}`);
  const s = (await created.json()) as { id: string; streamKey: string };
  const ing = (await (await p.api(`/v1/streams/${s.id}/ingest`)).json()) as {
    nodeId: string;
    ingest: { rtmp: string };
  };
  const origin = p.origins.get(ing.nodeId);
  if (!origin) throw new Error(`ingest names unknown node ${ing.nodeId}`);
  const master = `${p.routerUrl}/live/${s.id}/master.m3u8`;
  try {
    return await measure(c, master, `${ing.ingest.rtmp}/${s.streamKey}`, origin.svc.proc.pid, kit);
  } finally {
    await p.api(`/v1/streams/${s.id}`, { method: "DELETE" });
    await waitFor("router 404 after delete", async () => (await fetch(master)).status === 404, 20_000).catch(
      () => {},
    );
  }
}

async function peer(c: Case, kit: ViewerKit): Promise<Omit<CaseResult, "c">> {
  const [rtmp, http] = (await freePorts(2)) as [number, number];
  const n = startPeer({
    rtmp,
    http,
    rungs: RUNGS,
    seg: c.seg,
    windowSize: LADDER?.windowSize ?? 6,
    audioKbps: AUDIO_KBPS,
  });
  try {
    await Bun.sleep(300);
    return await measure(c, n.masterUrl("glass"), `${n.rtmpUrl}/glass`, n.pid, kit);
  } catch (err) {
    console.error(`· nginx error log:\n${n.errors()}`);
    throw err;
  } finally {
    await n.stop();
  }
}

async function main() {
  const loadBefore = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const node = playwrightNode();
  if (!node) throw new Error("node 20+ is needed for playwright-core");
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  const keys = (args.modes as string).split(",").filter(Boolean);
  // In the order given: the default pairs each of ours with the peer's, adjacent in time.
  const cases = keys.flatMap((k) => CASES.filter((c) => c.key === k));
  const unknown = keys.filter((k) => !CASES.some((c) => c.key === k));
  if (unknown.length)
    throw new Error(`unknown mode(s) ${unknown.join(", ")}: ${CASES.map((c) => c.key).join(", ")}`);
  const dataDir = mkdtempSync(join(tmpdir(), "dionysia-bench-glass-"));
  const kit = await startViewerKit({ libs: LIBS, chromium: CHROMIUM, node });
  let broker: Mosquitto | undefined;
  let platform: Platform | undefined;
  const cleanup = async () => {
    kit.stop();
    await platform?.stop().catch(() => {});
    for (const o of platform?.origins.values() ?? []) killOrphans(o.spec, dataDir);
    await broker?.stop().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.on("SIGINT", () => void cleanup().then(() => process.exit(130)));
  const results: CaseResult[] = [];
  try {
    if (cases.some((c) => !c.peer)) {
      broker = await startMosquitto();
      const [controlPort, routerPort, httpPort, rtmpPort] = (await freePorts(4)) as number[];
      platform = await startPlatform({
        dataDir,
        controlPort: controlPort as number,
        routerPort: routerPort as number,
        mqttPort: 0,
        mqttUrl: broker.url,
        adminKey: "dk_bench_admin_key_0123456789abcdef",
        nodeKey: "nk_bench_node_key_0123456789abcdef",
        routerKey: "rk_bench_router_key_0123456789abcdef",
        origins: [
          {
            id: "paris",
            region: "eu-west",
            ...PARIS,
            httpPort: httpPort as number,
            rtmpPort: rtmpPort as number,
            srtPortRange: "22400-22410",
          },
        ],
        env: { ORIGIN_CAPACITY_UNITS: "200", LOG_LEVEL: "info", ROUTER_MODE: args["router-mode"] as string },
        echo: args.echo as boolean,
        onProgress: (m: string) => console.error(`· ${m}`),
      });
      const p = platform;
      await waitFor(
        "the origin online",
        async () => {
          const body = (await (await p.api("/v1/nodes")).json()) as { items: { state: string }[] };
          return body.items.some((n) => n.state === "online");
        },
        30_000,
      );
    }
    const missing = peerMissing();
    for (const c of cases) {
      if (c.peer && missing) {
        console.error(`· skipping ${c.label}: ${missing}`);
        results.push({ c, format: "", rungs: "", rows: [], skipped: missing });
        continue;
      }
      results.push({ c, ...(c.peer ? await peer(c, kit) : await ours(platform as Platform, c, kit)) });
    }
    report(results, {
      rungs: RUNGS.map((r) => `${r.height}p`).join("/"),
      join: JOIN,
      seconds: SECONDS,
      routerMode: args["router-mode"] as string,
      loadBefore,
    });
  } finally {
    await cleanup();
  }
}

await main();
