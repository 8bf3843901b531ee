/**
 * Starts the whole platform as real processes: control (with its embedded MQTT broker unless an
 * external one is given), N origins and the router. Used by `./dionysia up` and by the e2e tests,
 * so what a newcomer runs is exactly what the tests exercise.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { nodePassword, randomBase62 } from "../shared/src/index.ts";
import { freePorts, httpOk, waitFor } from "../shared/src/testkit/index.ts";
import { exitDescription, ProcessGroup, type RunningService } from "./lib/processes.ts";

export const ROOT = resolve(import.meta.dir, "..");

export interface OriginSpec {
  id: string;
  region: string;
  lat: number;
  lon: number;
  httpPort: number;
  rtmpPort: number;
  srtPortRange: string;
}

export interface PlatformOptions {
  dataDir: string;
  controlPort: number;
  routerPort: number;
  /** Port of control's embedded broker; ignored when `mqttUrl` is set. */
  mqttPort: number;
  /** Its MQTT over WebSockets listener (browsers: the console's charts, ADR 0070); none when unset. */
  mqttWsPort?: number;
  mqttUrl?: string;
  origins: OriginSpec[];
  adminKey: string;
  nodeKey: string;
  routerKey: string;
  /**
   * MQTT credentials for the embedded broker (docs/security.md): the node enrolment secret and
   * the router's password. Random per start when unset; unused with an external `mqttUrl`.
   */
  mqttNodeSecret?: string;
  mqttRouterPassword?: string;
  /** The read-only dashboard user's password (GET /v1/telemetry/mqtt hands it to the console). */
  mqttDashboardPassword?: string;
  /** Router runtime: deno when available (the edge target), else bun. */
  routerRuntime?: "deno" | "bun";
  host?: string;
  echo?: boolean;
  logLevel?: string;
  /** Extra env for every service (e.g. short telemetry intervals in tests). */
  env?: Record<string, string>;
  onProgress?: (msg: string) => void;
  /** The group to start the services in (`up` makes it first, so Ctrl-C during start stops them). */
  group?: ProcessGroup;
}

export interface Platform {
  controlUrl: string;
  routerUrl: string;
  mqttUrl: string;
  origins: Map<string, { spec: OriginSpec; url: string; svc: RunningService }>;
  group: ProcessGroup;
  control: RunningService;
  router: RunningService;
  /** Authorized fetch against control's API. */
  api(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  /** Everything an origin of this platform is started with (its MQTT credential included). */
  originEnv(spec: OriginSpec): Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Waits for a service's /health; fails at once when the process exits meanwhile (a port taken, a
 * config error) instead of polling until the timeout.
 */
async function waitHealthy(svc: RunningService, url: string, timeoutMs: number): Promise<void> {
  const proc = svc.proc;
  let done = false;
  const died = proc.exited.then(() => {
    if (!done) throw new Error(`${svc.spec.name} exited (${exitDescription(proc)})`);
  });
  try {
    await Promise.race([waitFor(`${svc.spec.name} ${url}`, () => httpOk(url), timeoutMs), died]);
  } finally {
    done = true;
  }
}

function which(bin: string): boolean {
  return Bun.which(bin) !== null;
}

export function originEnv(o: PlatformOptions, spec: OriginSpec, mqttUrl: string, controlUrl: string) {
  const host = o.host ?? "127.0.0.1";
  return {
    ORIGIN_HOST: host,
    ORIGIN_PORT: String(spec.httpPort),
    DATA_DIR: join(o.dataDir, "origins", spec.id),
    NODE_ID: spec.id,
    NODE_REGION: spec.region,
    NODE_LAT: String(spec.lat),
    NODE_LON: String(spec.lon),
    PUBLIC_URL: `http://${host}:${spec.httpPort}`,
    PUBLIC_HOST: host,
    // Viewers come through the router: its clock is the one every DASH manifest names.
    DASH_UTC_TIMING_URL: `http://${host}:${o.routerPort}/time`,
    CONTROL_URL: controlUrl,
    DIONYSIA_NODE_KEY: o.nodeKey,
    RTMP_PORT: String(spec.rtmpPort),
    SRT_PORT_RANGE: spec.srtPortRange,
    MQTT_URL: mqttUrl,
    MEDIA_SERVER: "embedded",
    // RTMP and SRT listen where everything else does (the embedded default is every interface).
    MEDIA_BIND_HOST: host,
  };
}

export async function startPlatform(o: PlatformOptions): Promise<Platform> {
  const progress = o.onProgress ?? (() => {});
  const host = o.host ?? "127.0.0.1";
  const group = o.group ?? new ProcessGroup({ echo: o.echo ?? false });
  const controlUrl = `http://${host}:${o.controlPort}`;
  const routerUrl = `http://${host}:${o.routerPort}`;
  const mqttUrl = o.mqttUrl ?? `mqtt://${host}:${o.mqttPort}`;
  // Local platform: test sources and relay peers are all on loopback (ADR 0035).
  const common = { LOG_LEVEL: o.logLevel ?? "info", PULL_ALLOW_PRIVATE: "1", ...(o.env ?? {}) };
  // The embedded broker refuses anonymous clients: each origin gets its node's derived password,
  // the router its own; control alone holds the enrolment secret.
  const mqttAuth = o.mqttUrl
    ? undefined
    : {
        nodeSecret: o.mqttNodeSecret ?? randomBase62(40),
        routerPassword: o.mqttRouterPassword ?? randomBase62(40),
        dashboardPassword: o.mqttDashboardPassword ?? randomBase62(40),
      };
  const fail = async (what: string, svc: RunningService, err: unknown) => {
    const tail = svc.tail().join("\n");
    await group.stopAll(3000);
    throw new Error(
      `${what} did not become ready: ${(err as Error).message}\n--- ${svc.spec.name} output ---\n${tail}`,
    );
  };

  progress("starting control (libSQL file, MQTT broker)");
  const control = group.start({
    name: "control",
    cmd: ["bun", join(ROOT, "control/src/main.ts")],
    env: {
      // Local development: webhook receivers on 127.0.0.1 are allowed (docs/webhooks.md).
      WEBHOOK_ALLOW_PRIVATE: "loopback",
      ...common,
      CONTROL_HOST: host,
      CONTROL_PORT: String(o.controlPort),
      DATABASE_URL: `file:${join(o.dataDir, "control.db")}`,
      DIONYSIA_ADMIN_KEY: o.adminKey,
      DIONYSIA_NODE_KEY: o.nodeKey,
      DIONYSIA_ROUTER_KEY: o.routerKey,
      PLAYBACK_BASE_URL: routerUrl,
      DEFAULT_INGEST_HOST: host,
      ...(o.mqttUrl
        ? { MQTT_URL: o.mqttUrl }
        : {
            MQTT_EMBEDDED_HOST: host,
            MQTT_EMBEDDED_PORT: String(o.mqttPort),
            MQTT_NODE_SECRET: mqttAuth?.nodeSecret ?? "",
            MQTT_ROUTER_PASSWORD: mqttAuth?.routerPassword ?? "",
            MQTT_DASHBOARD_PASSWORD: mqttAuth?.dashboardPassword ?? "",
            ...(o.mqttWsPort !== undefined ? { MQTT_EMBEDDED_WS_PORT: String(o.mqttWsPort) } : {}),
          }),
    },
  });
  try {
    await waitHealthy(control, `${controlUrl}/health`, 30_000);
  } catch (err) {
    await fail("control", control, err);
  }

  const originEnvOf = (spec: OriginSpec): Record<string, string> => ({
    ...common,
    ...originEnv(o, spec, mqttUrl, controlUrl),
    ...(mqttAuth ? { MQTT_PASSWORD: nodePassword(mqttAuth.nodeSecret, spec.id) } : {}),
  });
  const origins = new Map<string, { spec: OriginSpec; url: string; svc: RunningService }>();
  for (const spec of o.origins) {
    progress(`starting origin ${spec.id} (${spec.region})`);
    const svc = group.start({
      name: spec.id,
      cmd: ["bun", join(ROOT, "origin/src/main.ts")],
      env: originEnvOf(spec),
      // A crashed origin leaves its ffmpeg children behind (they would keep writing its files).
      beforeRestart: () => killOrphans(spec, o.dataDir),
    });
    origins.set(spec.id, { spec, url: `http://${host}:${spec.httpPort}`, svc });
  }
  for (const { spec, url, svc } of origins.values()) {
    try {
      await waitHealthy(svc, `${url}/health`, 60_000);
    } catch (err) {
      await fail(`origin ${spec.id}`, svc, err);
    }
  }

  const runtime = o.routerRuntime ?? (which("deno") ? "deno" : "bun");
  progress(`starting router on ${runtime}`);
  const routerEnv = {
    ...common,
    ROUTER_HOST: host,
    ROUTER_PORT: String(o.routerPort),
    CONTROL_URL: controlUrl,
    DIONYSIA_ROUTER_KEY: o.routerKey,
    MQTT_URL: mqttUrl,
    ...(mqttAuth ? { MQTT_PASSWORD: mqttAuth.routerPassword } : {}),
  };
  const routerCmd =
    runtime === "deno"
      ? [
          "deno",
          "run",
          "--allow-all",
          "--config",
          join(ROOT, "router/deno.json"),
          join(ROOT, "router/src/main.deno.ts"),
        ]
      : ["bun", join(ROOT, "router/src/main.bun.ts")];
  const router = group.start({ name: "router", cmd: routerCmd, env: routerEnv, cwd: join(ROOT, "router") });
  try {
    await waitHealthy(router, `${routerUrl}/health`, 30_000);
  } catch (err) {
    await fail("router", router, err);
  }

  const api = (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${o.adminKey}`);
    let body = init.body;
    if (init.json !== undefined) {
      headers.set("content-type", "application/json");
      body = JSON.stringify(init.json);
    }
    return fetch(`${controlUrl}${path}`, { ...init, headers, body });
  };

  return {
    controlUrl,
    routerUrl,
    mqttUrl,
    origins,
    group,
    control,
    router,
    api,
    originEnv: originEnvOf,
    stop: () => group.stopAll(),
  };
}

/**
 * The one-origin platform most e2e suites use: control, a Paris origin and the router on free
 * ports, the given broker, the e2e keys; resolves once the origin is online in GET /v1/nodes.
 */
export async function startParisPlatform(o: {
  dataDir: string;
  mqttUrl: string;
  srtPortRange: string;
  env?: Record<string, string>;
}): Promise<Platform> {
  const [controlPort, routerPort, httpPort, rtmpPort] = await freePorts(4);
  const platform = await startPlatform({
    dataDir: o.dataDir,
    controlPort: controlPort as number,
    routerPort: routerPort as number,
    mqttPort: 0,
    mqttUrl: o.mqttUrl,
    adminKey: "dk_e2e_admin_key_0123456789abcdef",
    nodeKey: "nk_e2e_node_key_0123456789abcdef",
    routerKey: "rk_e2e_router_key_0123456789abcdef",
    origins: [
      {
        id: "paris",
        region: "eu-west",
        ...PARIS,
        httpPort: httpPort as number,
        rtmpPort: rtmpPort as number,
        srtPortRange: o.srtPortRange,
      },
    ],
    ...(o.env ? { env: o.env } : {}),
  });
  await waitFor(
    "the origin online",
    async () =>
      ((await (await platform.api("/v1/nodes")).json()) as { items: { state: string }[] }).items.some(
        (n) => n.state === "online",
      ),
    20_000,
  );
  return platform;
}

export const PARIS = { lat: 48.8566, lon: 2.3522 };

export function hasDeno(): boolean {
  return which("deno") || existsSync(join(ROOT, ".tools/node_modules/.bin/deno"));
}

/**
 * After a SIGKILL the origin's ffmpeg children live on (as they would not on a dead host):
 * kill every process whose command line names this origin's data dir or RTMP port.
 */
export function killOrphans(spec: OriginSpec, dataDir: string): void {
  for (const pattern of [join(dataDir, "origins", spec.id), `127.0.0.1:${spec.rtmpPort}/`]) {
    Bun.spawnSync(["pkill", "-KILL", "-f", pattern]);
  }
}
