/**
 * Test helper: a real control on 127.0.0.1:0 over a libSQL file in a temp dir, with its pino
 * output captured in memory so tests can assert what is (not) logged.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, loadConfig } from "@dionysia/shared";
import { type Control, createControl } from "../../src/app.ts";
import { controlConfigSpec } from "../../src/config.ts";

export const ADMIN_KEY = "dk_test_admin_key_0123456789abcdef";
export const NODE_KEY = "node-credential-0123456789";
export const ROUTER_KEY = "router-credential-0123456789";

export interface TestControl {
  control: Control;
  url: string;
  dir: string;
  dbUrl: string;
  logs(): string;
  stop(opts?: { keepDir?: boolean }): Promise<void>;
  api(
    method: string,
    path: string,
    o?: { key?: string | null; body?: unknown; raw?: string },
  ): Promise<ApiReply>;
}

export interface ApiReply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies
  body: any;
  text: string;
}

export async function startControl(
  o: { dir?: string; env?: Record<string, string> } = {},
): Promise<TestControl> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), "dionysia-control-"));
  const dbUrl = `file:${join(dir, "control.db")}`;
  const config = loadConfig(controlConfigSpec, {
    CONTROL_HOST: "127.0.0.1",
    CONTROL_PORT: "0",
    DATABASE_URL: dbUrl,
    DIONYSIA_ADMIN_KEY: ADMIN_KEY,
    DIONYSIA_NODE_KEY: NODE_KEY,
    DIONYSIA_ROUTER_KEY: ROUTER_KEY,
    PLAYBACK_BASE_URL: "http://router.test:8000",
    DEFAULT_INGEST_HOST: "ingest.test",
    BODY_LIMIT_BYTES: "65536",
    LOG_LEVEL: "debug",
    // Every test control runs its own embedded broker on a free port.
    MQTT_EMBEDDED_HOST: "127.0.0.1",
    MQTT_EMBEDDED_PORT: "0",
    // Suites send many deliberate 401s from 127.0.0.1; the limiter has its own test (hostile-requests).
    AUTH_FAILURE_LIMIT: "100000",
    ...o.env,
  });
  const lines: string[] = [];
  const logger = createLogger({
    service: "control",
    level: "debug",
    destination: { write: (s: string) => void lines.push(s) },
  });
  const control = await createControl(config, { logger });
  const { url } = await control.start();
  const api: TestControl["api"] = async (method, path, a = {}) => {
    const headers: Record<string, string> = {};
    const key = a.key === undefined ? ADMIN_KEY : a.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let body: string | undefined;
    if (a.raw !== undefined) body = a.raw;
    else if (a.body !== undefined) body = JSON.stringify(a.body);
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(url + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, text };
  };
  return {
    control,
    url,
    dir,
    dbUrl,
    logs: () => lines.join(""),
    api,
    async stop(s = {}) {
      await control.stop();
      if (!s.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A node announce for tests (see shared NodeAnnounce). */
export function announce(id: string, over: Record<string, unknown> = {}) {
  return {
    id,
    region: "eu-west",
    lat: 48.85,
    lon: 2.35,
    publicUrl: `http://${id}.test:8090`,
    ingest: { rtmp: `rtmp://${id}.test:1935/live`, srt: `${id}.test:8890` },
    capacity: { loadUnits: 200 },
    encoders: ["libx264"],
    mediaServer: "embedded" as const,
    version: "0.1.0",
    ts: Date.now(),
    ...over,
  };
}
