import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUILTIN_PROFILES } from "@dionysia/shared";
import { createClient } from "@libsql/client";
import { NODE_KEY, startControl } from "./helpers/control.ts";

const ROOT = join(import.meta.dir, "../..");

describe("persistence", () => {
  test("migrations create every table on an empty database", async () => {
    const c = await startControl();
    try {
      const client = createClient({ url: c.dbUrl });
      const rs = await client.execute("select name from sqlite_master where type = 'table' order by name");
      const tables = rs.rows.map((r) => String(r.name));
      client.close();
      for (const t of ["api_keys", "leases", "nodes", "profiles", "streams", "__drizzle_migrations"])
        expect(tables).toContain(t);
    } finally {
      await c.stop();
    }
  });

  test("data survives a restart on the same file; the key still authorizes", async () => {
    const first = await startControl();
    const dir = first.dir;
    const p = (
      await first.api("POST", "/v1/profiles", {
        body: {
          name: "kept",
          renditions: [],
          audio: { codec: "aac", bitrateKbps: 64 },
          segmentDuration: 2,
          formats: ["hls"],
        },
      })
    ).body;
    const s = (await first.api("POST", "/v1/streams", { body: { name: "durable", profileId: p.id } })).body;
    const k = (await first.api("POST", "/v1/api-keys", { body: { name: "kept key" } })).body;
    await first.stop({ keepDir: true });
    // A second start migrates again (no-op) and seeds again (idempotent).
    const second = await startControl({ dir });
    try {
      const list = await second.api("GET", "/v1/streams", { key: k.key });
      expect(list.status).toBe(200);
      expect(list.body.items.map((x: { id: string }) => x.id)).toContain(s.id);
      expect((await second.api("GET", `/v1/profiles/${p.id}`)).body.name).toBe("kept");
      const auth = await second.api("POST", "/v1/ingest/authorize", {
        key: NODE_KEY,
        body: { streamKey: s.streamKey, nodeId: "n1", protocol: "rtmp" },
      });
      expect(auth.status).toBe(200);
      expect(auth.body.streamId).toBe(s.id);
      const builtins = (await second.api("GET", "/v1/profiles")).body.items.filter(
        (x: { builtIn: boolean }) => x.builtIn,
      );
      // Each built-in once, not once per start.
      expect(builtins).toHaveLength(Object.keys(BUILTIN_PROFILES).length);
    } finally {
      await second.stop();
    }
  });

  test("200 concurrent creates give 200 distinct streams, none lost", async () => {
    const c = await startControl();
    try {
      const replies = await Promise.all(
        Array.from({ length: 200 }, (_, i) => c.api("POST", "/v1/streams", { body: { name: `burst ${i}` } })),
      );
      expect(replies.map((r) => r.status).filter((s) => s !== 201)).toEqual([]);
      const ids = new Set(replies.map((r) => r.body.id as string));
      const keys = new Set(replies.map((r) => r.body.streamKey as string));
      expect(ids.size).toBe(200);
      expect(keys.size).toBe(200);
      const listed = new Set<string>();
      let cursor: string | null = null;
      do {
        const q: string = cursor ? `?limit=100&cursor=${cursor}` : "?limit=100";
        const page = await c.api("GET", `/v1/streams${q}`);
        for (const s of page.body.items) listed.add(s.id);
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(listed.size).toBe(200);
      for (const id of ids) expect(listed.has(id)).toBe(true);
    } finally {
      await c.stop();
    }
  });

  test("without DIONYSIA_ADMIN_KEY a key is generated once, written 0600 next to the database", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dionysia-bootstrap-"));
    try {
      const env = { DIONYSIA_ADMIN_KEY: "" };
      const c = await startControl({ dir, env });
      const file = join(dir, "admin-key.txt");
      expect(existsSync(file)).toBe(true);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const key = readFileSync(file, "utf8").trim();
      expect(key).toMatch(/^dk_/);
      expect((await c.api("GET", "/v1/api-keys", { key })).status).toBe(200);
      expect(c.logs()).not.toContain(key);
      await c.stop({ keepDir: true });
      rmSync(file);
      // Second start: an admin key exists, so none is generated.
      const again = await startControl({ dir, env });
      expect(existsSync(file)).toBe(false);
      expect((await again.api("GET", "/v1/api-keys", { key })).status).toBe(200);
      await again.stop({ keepDir: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("bad config refuses to start: exit 2, stderr names the variable", async () => {
    const proc = Bun.spawn(["bun", join(ROOT, "control/src/main.ts")], {
      env: { ...process.env, CONTROL_PORT: "abc", DATABASE_URL: "file:/nonexistent-never-used/x.db" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => proc.kill(), 20_000);
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    clearTimeout(timer);
    expect(code).toBe(2);
    expect(stderr).toContain("CONTROL_PORT");
  });

  test("main.ts starts, serves /health and stops cleanly on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dionysia-main-"));
    const proc = Bun.spawn(["bun", join(ROOT, "control/src/main.ts")], {
      env: {
        ...process.env,
        CONTROL_HOST: "127.0.0.1",
        CONTROL_PORT: "0",
        DATABASE_URL: `file:${join(dir, "c.db")}`,
        DIONYSIA_ADMIN_KEY: "dk_main_test_key_0123456789",
        MQTT_EMBEDDED_HOST: "127.0.0.1",
        MQTT_EMBEDDED_PORT: "0",
        LOG_LEVEL: "info",
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      // The "control listening" log line carries the real port.
      const reader = proc.stdout.getReader();
      let out = "";
      let port = 0;
      const deadline = Date.now() + 20_000;
      while (!port && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        out += new TextDecoder().decode(value);
        const m = /"port":(\d+)/.exec(out);
        if (m) port = Number(m[1]);
      }
      expect(port).toBeGreaterThan(0);
      const h = await fetch(`http://127.0.0.1:${port}/health`);
      expect(h.status).toBe(200);
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
      expect(out).not.toContain("dk_main_test_key");
    } finally {
      proc.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
