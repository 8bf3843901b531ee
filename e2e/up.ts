/**
 * `./dionysia up`: the whole platform on embedded defaults (libSQL file, MQTT broker inside
 * control, embedded media server in the origin), a default stream, and where to push and watch.
 */
import { join, resolve } from "node:path";
import { waitFor } from "../shared/src/testkit/index.ts";
import { loadOrCreateDevState, saveDevState } from "./lib/devstate.ts";
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
};
const stateFile = join(dataDir, "dev.json");
const state = loadOrCreateDevState(stateFile);
const step = (msg: string) => console.log(`\x1b[1;35m▶\x1b[0m ${msg}`);

const platform = await startPlatform({
  dataDir,
  host,
  controlPort: ports.control,
  routerPort: ports.router,
  mqttPort: ports.mqtt,
  origins: [
    {
      id: env.NODE_ID ?? "local-1",
      region: env.NODE_REGION ?? "local",
      lat: Number(env.NODE_LAT ?? 48.8566),
      lon: Number(env.NODE_LON ?? 2.3522),
      httpPort: ports.origin,
      rtmpPort: ports.rtmp,
      srtPortRange: env.SRT_PORT_RANGE ?? "10000-10020",
    },
  ],
  adminKey: state.adminKey,
  nodeKey: state.nodeKey,
  routerKey: state.routerKey,
  echo: env.DIONYSIA_QUIET !== "1",
  logLevel: env.LOG_LEVEL ?? "info",
  onProgress: step,
});

let stopping = false;
const shutdown = async (sig: string) => {
  if (stopping) return;
  stopping = true;
  step(`${sig}: stopping every process`);
  await platform.stop();
  process.exit(0);
};
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

step("waiting for the origin to register over MQTT");
await waitFor(
  "origin online in GET /v1/nodes",
  async () => {
    const res = await platform.api("/v1/nodes");
    if (!res.ok) return undefined;
    const body = (await res.json()) as { items?: { state: string }[] } | { state: string }[];
    const items = Array.isArray(body) ? body : (body.items ?? []);
    return items.some((n) => n.state === "online");
  },
  30_000,
).catch((err) => console.warn(`warning: ${(err as Error).message}`));

// The default stream: reuse the one from an earlier `up` when it still exists.
let demo = state.demo;
if (demo) {
  const res = await platform.api(`/v1/streams/${demo.id}`);
  if (res.status === 404) demo = undefined;
}
if (!demo) {
  step("creating the default stream (720p ladder)");
  const res = await platform.api("/v1/streams", {
    method: "POST",
    json: { name: "demo", profileId: "builtin-720p" },
  });
  if (!res.ok) {
    console.error(`could not create the default stream: ${res.status} ${await res.text()}`);
    await platform.stop();
    process.exit(1);
  }
  const s = (await res.json()) as { id: string; streamKey: string; srtPassphrase?: string };
  demo = { id: s.id, streamKey: s.streamKey, srtPassphrase: s.srtPassphrase };
  saveDevState(stateFile, { ...state, demo, ports });
} else {
  saveDevState(stateFile, { ...state, ports });
}

const rtmpServer = `rtmp://${host}:${ports.rtmp}/live`;
const playback = `${platform.routerUrl}/live/${demo.id}/master.m3u8`;
console.log(`
\x1b[1mDionysia is up.\x1b[0m  (Ctrl-C stops every process)

  Admin API key   ${state.adminKey}
                  (also in ${stateFile})
  Swagger UI      ${platform.controlUrl}/swagger
  Metrics         ${platform.controlUrl}/metrics  ·  ${[...platform.origins.values()][0]?.url}/metrics  ·  ${platform.routerUrl}/metrics

  Push (OBS)      Server: ${rtmpServer}
                  Stream key: ${demo.streamKey}
  Push (ffmpeg)   ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine \\
                    -c:v libx264 -preset veryfast -g 60 -c:a aac -f flv ${rtmpServer}/${demo.streamKey}
  Or simply       ./dionysia demo

  Watch (HLS)     ${playback}
  Watch (DASH)    ${platform.routerUrl}/live/${demo.id}/manifest.mpd
                  ffplay ${playback}
`);

// Keep running until a signal; exit if a service dies on its own.
const exited = await Promise.race(platform.group.services.map((s) => s.proc.exited.then(() => s)));
if (!stopping) {
  console.error(`${exited.spec.name} exited (code ${exited.proc.exitCode}); stopping the rest`);
  console.error(exited.tail().join("\n"));
  await platform.stop();
  process.exit(1);
}
