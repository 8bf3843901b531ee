/**
 * `./dionysia up`: the whole platform on embedded defaults (libSQL file, MQTT broker inside
 * control, embedded media server in the origin), a default stream, and where to push and watch.
 * Behaves like a small supervisor: refuses to start over a running platform or on a taken port
 * (naming who holds it), announces "up" only once the origin has registered in this run, restarts
 * a crashed child with back-off, and stops every child on Ctrl-C.
 */
import { join, resolve } from "node:path";
import { waitFor } from "../shared/src/testkit/index.ts";
import { loadOrCreateDevState, saveDevState } from "./lib/devstate.ts";
import { describeHolder, portHolder, portInUse } from "./lib/ports.ts";
import { ProcessGroup } from "./lib/processes.ts";
import { clearRunning, readRunning, writeRunning } from "./lib/running.ts";
import { ROOT, startPlatform } from "./platform.ts";

const env = process.env;
const num = (name: string, def: number) => {
  const raw = env[name];
  if (raw === undefined || raw === "") return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    console.error(`${name} must be a port number (got ${JSON.stringify(raw)})`);
    process.exit(2);
  }
  return n;
};

const dataDir = resolve(env.DIONYSIA_DATA ?? join(ROOT, "data"));
const host = env.DIONYSIA_HOST ?? "127.0.0.1";
const ports = {
  control: num("CONTROL_PORT", 8080),
  router: num("ROUTER_PORT", 8000),
  origin: num("ORIGIN_PORT", 8090),
  rtmp: num("RTMP_PORT", 1935),
  mqtt: num("MQTT_EMBEDDED_PORT", 1883),
  // MQTT over WebSockets: the console's live charts read telemetry from the broker (ADR 0070).
  mqttWs: num("MQTT_EMBEDDED_WS_PORT", 1884),
};
/** Env names of the ports, for the message that tells how to move one. */
const PORT_VARS: Record<keyof typeof ports, string> = {
  control: "CONTROL_PORT",
  router: "ROUTER_PORT",
  origin: "ORIGIN_PORT",
  rtmp: "RTMP_PORT",
  mqtt: "MQTT_EMBEDDED_PORT",
  mqttWs: "MQTT_EMBEDDED_WS_PORT",
};
const stateFile = join(dataDir, "dev.json");
const step = (msg: string) => console.log(`\x1b[1;35m▶\x1b[0m ${msg}`);
const refuse = (msg: string): never => {
  console.error(`\x1b[1;31m✗\x1b[0m ${msg}`);
  process.exit(3);
};

// 1. Already running on this data dir: say where, start nothing.
const running = readRunning(dataDir);
if (running) {
  const where = Object.entries(running.urls)
    .map(([k, v]) => `  ${k.padEnd(10)} ${v}`)
    .join("\n");
  refuse(
    `Dionysia is already running (pid ${running.pid}, since ${running.startedAt}, data ${dataDir}):\n${where}\nStop it with Ctrl-C in its terminal (or kill ${running.pid}).`,
  );
}

// 2. Every port free before anything starts (a child would otherwise die on AddrInUse, or worse,
//    the health check would find the other platform's service and report success).
const taken: string[] = [];
for (const [name, port] of Object.entries(ports) as [keyof typeof ports, number][]) {
  if (await portInUse(port, host))
    taken.push(
      `  ${name} port ${port} is in use by ${describeHolder(portHolder(port))} (set ${PORT_VARS[name]} to move it)`,
    );
}
if (taken.length > 0)
  refuse(`cannot start: ${taken.length === 1 ? "a port is" : "ports are"} taken\n${taken.join("\n")}`);

const state = loadOrCreateDevState(stateFile);
// Keys from the environment win over the generated ones (and are not written to dev.json).
const adminKey = env.DIONYSIA_ADMIN_KEY || state.adminKey;
const nodeKey = env.DIONYSIA_NODE_KEY || state.nodeKey;
const routerKey = env.DIONYSIA_ROUTER_KEY || state.routerKey;
const nodeId = env.NODE_ID ?? "local-1";
const startedAt = Date.now();

const group = new ProcessGroup({ echo: env.DIONYSIA_QUIET !== "1" });
let stopping = false;
const shutdown = async (sig: string) => {
  if (stopping) return;
  stopping = true;
  step(`${sig}: stopping every process`);
  await group.stopAll();
  clearRunning(dataDir);
  process.exit(0);
};
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

let platform: Awaited<ReturnType<typeof startPlatform>>;
try {
  platform = await startPlatform({
    group,
    dataDir,
    host,
    controlPort: ports.control,
    routerPort: ports.router,
    mqttPort: ports.mqtt,
    mqttWsPort: ports.mqttWs,
    origins: [
      {
        id: nodeId,
        region: env.NODE_REGION ?? "local",
        lat: Number(env.NODE_LAT ?? 48.8566),
        lon: Number(env.NODE_LON ?? 2.3522),
        httpPort: ports.origin,
        rtmpPort: ports.rtmp,
        srtPortRange: env.SRT_PORT_RANGE ?? "10000-10020",
      },
    ],
    adminKey,
    nodeKey,
    routerKey,
    logLevel: env.LOG_LEVEL ?? "info",
    onProgress: step,
  });
} catch (err) {
  console.error(`\x1b[1;31m✗\x1b[0m ${(err as Error).message}`);
  process.exit(1);
}
const p = platform;
const originUrl = [...p.origins.values()][0]?.url ?? "";
const urls = {
  api: `${p.controlUrl}/v1`,
  swagger: `${p.controlUrl}/swagger`,
  console: `${p.controlUrl}/console`,
  router: p.routerUrl,
  origin: originUrl,
  rtmp: `rtmp://${host}:${ports.rtmp}/live`,
};
writeRunning(dataDir, urls);
// From here on a child that dies is restarted, not the end of everything.
p.group.supervise();

// The origin registered in THIS run: a row left `online` by the last run does not count.
step(`waiting for origin ${nodeId} to register over MQTT`);
try {
  await waitFor(
    `origin ${nodeId} registered since this start (GET /v1/nodes)`,
    async () => {
      const res = await p.api("/v1/nodes");
      if (!res.ok) return false;
      const body = (await res.json()) as { items?: NodeRow[] } | NodeRow[];
      const items = Array.isArray(body) ? body : (body.items ?? []);
      return items.some(
        (n) => n.id === nodeId && n.state === "online" && Date.parse(n.lastSeen ?? "") >= startedAt,
      );
    },
    60_000,
    250,
  );
} catch (err) {
  console.warn(`warning: ${(err as Error).message}; the origin may still be starting`);
}

interface NodeRow {
  id: string;
  state: string;
  lastSeen?: string;
}

// The default stream: reuse the one from an earlier `up` when it still exists.
let demo = state.demo;
// The stream's SRT URL (control-assigned port); reads show the passphrase as a placeholder.
let srtUrl: string | undefined;
if (demo) {
  const res = await p.api(`/v1/streams/${demo.id}`);
  if (res.status === 404) demo = undefined;
}
if (!demo) {
  step("creating the default stream (720p ladder)");
  const res = await p.api("/v1/streams", {
    method: "POST",
    json: { name: "demo", profileId: "builtin-720p" },
  });
  if (!res.ok) {
    console.error(`could not create the default stream: ${res.status} ${await res.text()}`);
    await p.stop();
    clearRunning(dataDir);
    process.exit(1);
  }
  const s = (await res.json()) as {
    id: string;
    streamKey: string;
    srtPassphrase?: string;
    ingest?: { srt?: string };
  };
  demo = { id: s.id, streamKey: s.streamKey, srtPassphrase: s.srtPassphrase };
  srtUrl = s.ingest?.srt;
}
// The ingest choice reserves the stream on the node (its SRT listener starts there) and names
// the URL; a stream created by an earlier `up` may not be reserved anywhere yet.
const choice = await p.api(`/v1/streams/${demo.id}/ingest`);
if (choice.ok) srtUrl = ((await choice.json()) as { ingest?: { srt?: string } }).ingest?.srt ?? srtUrl;
if (srtUrl && demo.srtPassphrase) srtUrl = srtUrl.replace("{passphrase}", demo.srtPassphrase);
saveDevState(stateFile, { ...state, demo, ports });

const rtmpServer = urls.rtmp;
const playback = `${p.routerUrl}/live/${demo.id}/master.m3u8`;
const keySource = env.DIONYSIA_ADMIN_KEY ? "(from DIONYSIA_ADMIN_KEY)" : `(also in ${stateFile})`;
console.log(`
\x1b[1mDionysia is up.\x1b[0m  (Ctrl-C stops every process)

  Admin API key   ${adminKey}
                  ${keySource}
  Console         ${p.controlUrl}/console   (sign in with the admin API key)
  API             ${p.controlUrl}/v1
  Swagger UI      ${p.controlUrl}/swagger
  Metrics         ${p.controlUrl}/metrics  ·  ${originUrl}/metrics  ·  ${p.routerUrl}/metrics
  MQTT over WS    ws://${host}:${ports.mqttWs}/mqtt  (read-only credential: GET /v1/telemetry/mqtt)

  Push (OBS)      Server: ${rtmpServer}
                  Stream key: ${demo.streamKey}
  Push (ffmpeg)   ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine \\
                    -c:v libx264 -preset veryfast -g 60 -c:a aac -f flv ${rtmpServer}/${demo.streamKey}${
                      srtUrl
                        ? `\n  Push (SRT)      ${srtUrl}   (MPEG-TS, e.g. ffmpeg ... -f mpegts '<url>')`
                        : ""
                    }
  Or simply       ./dionysia demo

  Watch (HLS)     ${playback}
  Watch (DASH)    ${p.routerUrl}/live/${demo.id}/manifest.mpd
                  ffplay ${playback}
`);
// Runs until a signal: the supervisor keeps the children alive.
