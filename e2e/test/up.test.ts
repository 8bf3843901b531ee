/**
 * `./dionysia up` as a user runs it (real processes, ephemeral ports through the same env vars a
 * user would set): DIONYSIA_ADMIN_KEY honoured, a second `up` refused with where the platform
 * runs, a taken port named with its holder (at once, not after a 30 s wait), a killed child
 * restarted, the banner only after a registration from this run, Ctrl-C leaving nothing behind.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts, httpOk, isAlive, waitFor } from "../../shared/src/testkit/index.ts";
import { portHolder } from "../lib/ports.ts";
import { ROOT } from "../platform.ts";

const ADMIN_KEY = "dk_up_test_admin_key_0123456789abcdefghij";

interface Up {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

function runUp(env: Record<string, string>): Up {
  const child = spawn(process.execPath, [join(ROOT, "e2e/up.ts")], {
    env: { ...process.env, DIONYSIA_QUIET: "1", NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, out: () => out, exited };
}

/** Pids whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The exit code of `up`, or a failure when it is still running after `ms`. */
async function exitsWithin(up: Up, ms: number): Promise<number | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`up still running after ${ms} ms:\n${up.out()}`)), ms);
  });
  try {
    return await Promise.race([up.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe("./dionysia up", () => {
  let dataDir: string;
  let env: Record<string, string>;
  let ports: { control: number; router: number; origin: number; rtmp: number; mqtt: number; mqttWs: number };
  let up: Up;
  const stray: Up[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "dionysia-up-"));
    const [control, router, origin, rtmp, mqtt, mqttWs] = (await freePorts(6)) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    ports = { control, router, origin, rtmp, mqtt, mqttWs };
    const srt = 30000 + Math.floor(Math.random() * 3000) * 10;
    env = {
      DIONYSIA_DATA: dataDir,
      DIONYSIA_ADMIN_KEY: ADMIN_KEY,
      CONTROL_PORT: String(control),
      ROUTER_PORT: String(router),
      ORIGIN_PORT: String(origin),
      RTMP_PORT: String(rtmp),
      MQTT_EMBEDDED_PORT: String(mqtt),
      MQTT_EMBEDDED_WS_PORT: String(mqttWs),
      SRT_PORT_RANGE: `${srt}-${srt + 5}`,
      LOG_LEVEL: "warn",
    };
    up = runUp(env);
    await waitFor(
      "the 'Dionysia is up' banner",
      () => up.out().includes("Dionysia is up") || up.child.exitCode !== null,
      120_000,
      200,
    );
    if (!up.out().includes("Dionysia is up")) throw new Error(`up failed:\n${up.out()}`);
  }, 150_000);

  afterAll(async () => {
    for (const u of [up, ...stray]) {
      if (!u || u.child.exitCode !== null || u.child.signalCode !== null) continue;
      u.child.kill("SIGINT");
      await Promise.race([u.exited, Bun.sleep(20_000)]);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  const api = (path: string, key: string) =>
    fetch(`http://127.0.0.1:${ports.control}${path}`, { headers: { authorization: `Bearer ${key}` } });

  test("DIONYSIA_ADMIN_KEY is the admin key (the generated one in dev.json is not)", async () => {
    expect(up.out()).toContain(ADMIN_KEY);
    expect((await api("/v1/nodes", ADMIN_KEY)).status).toBe(200);
    const generated = (JSON.parse(readFileSync(join(dataDir, "dev.json"), "utf8")) as { adminKey: string })
      .adminKey;
    expect(generated).not.toBe(ADMIN_KEY);
    expect((await api("/v1/nodes", generated)).status).toBe(401);
  });

  test("the banner names the console, which control serves", async () => {
    const url = `http://127.0.0.1:${ports.control}/console`;
    expect(up.out()).toContain(url);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/\/console\/assets\/main-\w+\.js/);
  });

  test("the console's MQTT credential names up's WebSocket listener, which speaks MQTT", async () => {
    const r = await api("/v1/telemetry/mqtt", ADMIN_KEY);
    expect(r.status).toBe(200);
    const cred = (await r.json()) as { url: string; username: string; password: string; topics: string[] };
    expect(cred.url).toBe(`ws://127.0.0.1:${ports.mqttWs}/mqtt`);
    expect(cred.username).toBe("dionysia.dashboard");
    expect(cred.password.length).toBeGreaterThanOrEqual(16);
    const ws = new WebSocket(cred.url, ["mqtt"]);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    expect(ws.protocol).toBe("mqtt");
    ws.close();
  });

  test("a second up says the platform is already running and where, and exits non-zero", async () => {
    const second = runUp(env);
    stray.push(second);
    const code = await exitsWithin(second, 15_000);
    expect(code).toBe(3);
    expect(second.out()).toContain("already running");
    expect(second.out()).toContain(`http://127.0.0.1:${ports.control}/swagger`);
    expect(second.out()).toContain(`pid ${up.child.pid}`);
    expect(second.out()).not.toContain("Dionysia is up");
    expect(second.out()).not.toContain("AddrInUse");
  }, 30_000);

  test("a taken port is named with the process holding it, at once", async () => {
    const other = mkdtempSync(join(tmpdir(), "dionysia-up-other-"));
    const [free1, free2, free3, free4, free5, taken] = (await freePorts(6)) as number[];
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(taken, "127.0.0.1", () => r()));
    try {
      const started = Date.now();
      const u = runUp({
        ...env,
        DIONYSIA_DATA: other,
        CONTROL_PORT: String(taken),
        ROUTER_PORT: String(free1),
        ORIGIN_PORT: String(free2),
        RTMP_PORT: String(free3),
        MQTT_EMBEDDED_PORT: String(free4),
        MQTT_EMBEDDED_WS_PORT: String(free5),
      });
      stray.push(u);
      expect(await exitsWithin(u, 15_000)).toBe(3);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(u.out()).toContain(`control port ${taken} is in use by`);
      expect(u.out()).toContain(`pid ${process.pid}`);
      expect(u.out()).toContain("CONTROL_PORT");
      expect(u.out()).not.toContain("Dionysia is up");
    } finally {
      holder.close();
      rmSync(other, { recursive: true, force: true });
    }
  }, 30_000);

  test("a killed child is restarted with a log line naming it; the rest keep running", async () => {
    const router = portHolder(ports.router);
    expect(router?.name).toMatch(/deno|bun/);
    const controlBefore = portHolder(ports.control)?.pid;
    process.kill(router?.pid as number, "SIGKILL");
    await waitFor(
      "the restart log line",
      () => /router exited \(signal SIGKILL\); restarting in/.test(up.out()),
      10_000,
    );
    await waitFor("the router back", () => httpOk(`http://127.0.0.1:${ports.router}/health`), 60_000, 250);
    expect(portHolder(ports.router)?.pid).not.toBe(router?.pid);
    expect(portHolder(ports.control)?.pid).toBe(controlBefore);
    expect(up.child.exitCode).toBeNull();
  }, 90_000);

  test("after a crash, the banner waits for the origin to register in the new run", async () => {
    // Crash everything: the node row stays `online` in control.db, as after a power cut.
    const pid = up.child.pid as number;
    const kids = childrenOf(pid);
    up.child.kill("SIGKILL");
    for (const k of kids) process.kill(k, "SIGKILL");
    await up.exited;
    await waitFor("the children gone", () => kids.every((k) => !isAlive(k)), 10_000);
    const startedAt = Date.now();
    up = runUp(env);
    await waitFor(
      "the banner",
      () => up.out().includes("Dionysia is up") || up.child.exitCode !== null,
      120_000,
      100,
    );
    expect(up.out()).toContain("Dionysia is up");
    const nodes = (await (await api("/v1/nodes", ADMIN_KEY)).json()) as {
      items: { id: string; state: string; lastSeen: string }[];
    };
    const node = nodes.items.find((n) => n.id === "local-1");
    expect(node?.state).toBe("online");
    expect(Date.parse(node?.lastSeen ?? "")).toBeGreaterThanOrEqual(startedAt);
  }, 150_000);

  test("Ctrl-C stops every child and leaves no process or port behind", async () => {
    const pid = up.child.pid as number;
    const kids = childrenOf(pid);
    expect(kids.length).toBeGreaterThanOrEqual(3);
    up.child.kill("SIGINT");
    expect(await exitsWithin(up, 30_000)).toBe(0);
    expect(kids.filter((k) => isAlive(k))).toEqual([]);
    for (const port of Object.values(ports)) expect(portHolder(port)).toBeUndefined();
  }, 45_000);
});
