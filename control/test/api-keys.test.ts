import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startControl, type TestControl } from "./helpers/control.ts";

let c: TestControl;
beforeAll(async () => {
  c = await startControl();
});
afterAll(async () => {
  await c.stop();
});

describe("api keys", () => {
  test("create shows the key once; list never shows key or hash; revoke -> 401", async () => {
    const r = await c.api("POST", "/v1/api-keys", { body: { name: "ci", role: "user" } });
    expect(r.status).toBe(201);
    expect(r.body.key).toMatch(/^dk_/);
    expect(r.body).toMatchObject({ name: "ci", role: "user", revokedAt: null });
    const key: string = r.body.key;
    expect((await c.api("GET", "/v1/streams", { key })).status).toBe(200);

    const list = await c.api("GET", "/v1/api-keys");
    expect(list.status).toBe(200);
    expect(list.body.items.map((k: { id: string }) => k.id)).toContain(r.body.id);
    expect(list.text).not.toContain(key);
    expect(list.text).not.toContain("dk_test_admin_key");
    expect(list.text).not.toMatch(/[0-9a-f]{64}/);
    expect(list.text).not.toContain("keyHash");

    expect((await c.api("DELETE", `/v1/api-keys/${r.body.id}`)).status).toBe(204);
    const revoked = await c.api("GET", "/v1/streams", { key });
    expect(revoked.status).toBe(401);
    expect(revoked.body.error.code).toBe("unauthorized");
    const after = (await c.api("GET", "/v1/api-keys")).body.items.find(
      (k: { id: string }) => k.id === r.body.id,
    );
    expect(after.revokedAt).not.toBeNull();
    expect((await c.api("DELETE", `/v1/api-keys/${r.body.id}`)).status).toBe(404);
    expect((await c.api("DELETE", "/v1/api-keys/key_nope")).status).toBe(404);
  });

  test("admin only: a user key gets 403, no key 401", async () => {
    const user = (await c.api("POST", "/v1/api-keys", { body: { name: "u" } })).body;
    expect(user.role).toBe("user");
    for (const [m, p] of [
      ["POST", "/v1/api-keys"],
      ["GET", "/v1/api-keys"],
      ["DELETE", `/v1/api-keys/${user.id}`],
    ] as const) {
      const body = m === "POST" ? { name: "x" } : undefined;
      const r = await c.api(m, p, { key: user.key, body });
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe("forbidden");
      expect((await c.api(m, p, { key: null, body })).status).toBe(401);
    }
    // A new admin key can manage keys.
    const admin = (await c.api("POST", "/v1/api-keys", { body: { name: "ops", role: "admin" } })).body;
    expect((await c.api("GET", "/v1/api-keys", { key: admin.key })).status).toBe(200);
  });

  test("invalid bodies", async () => {
    expect((await c.api("POST", "/v1/api-keys", { body: {} })).status).toBe(422);
    expect((await c.api("POST", "/v1/api-keys", { body: { name: "x", role: "root" } })).status).toBe(422);
    expect((await c.api("POST", "/v1/api-keys", { body: { name: "x", key: "dk_chosen" } })).status).toBe(422);
    expect((await c.api("POST", "/v1/api-keys", { raw: "not json" })).status).toBe(400);
  });
});

describe("errors, limits, docs, ops", () => {
  test("a body over BODY_LIMIT_BYTES is 413 with the JSON error shape", async () => {
    const r = await c.api("POST", "/v1/streams", { body: { name: "x".repeat(70_000) } });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe("body_too_large");
    const unauth = await c.api("POST", "/v1/streams", { key: null, body: { name: "x".repeat(70_000) } });
    expect(unauth.status).toBe(413);
    // Chunked upload: no Content-Length to check up front.
    const chunk = new TextEncoder().encode(JSON.stringify({ name: "y".repeat(90_000) }));
    const res = await fetch(`${c.url}/v1/streams`, {
      method: "POST",
      headers: {
        authorization: "Bearer dk_test_admin_key_0123456789abcdef",
        "content-type": "application/json",
      },
      body: new ReadableStream({
        start(ctl) {
          ctl.enqueue(chunk);
          ctl.close();
        },
      }),
    });
    expect(res.status).toBe(413);
  });

  test("unknown routes are 404 JSON; malformed auth header is 401", async () => {
    const r = await c.api("GET", "/v1/nothing-here");
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe("not_found");
    const res = await fetch(`${c.url}/v1/streams`, { headers: { authorization: "Basic Zm9vOmJhcg==" } });
    expect(res.status).toBe(401);
  });

  test("health checks the database", async () => {
    const r = await c.api("GET", "/health", { key: null });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: "ok", db: "ok" });
  });

  test("metrics: requests by route and status, latency histogram, streams by status", async () => {
    await c.api("POST", "/v1/streams", { body: { name: "metered" } });
    await c.api("GET", "/v1/streams/doesnotexist");
    const r = await c.api("GET", "/metrics", { key: null });
    expect(r.status).toBe(200);
    expect(r.text).toContain(
      'dionysia_control_http_requests_total{method="POST",route="/v1/streams/",status="201"}',
    );
    expect(r.text).toContain('route="/v1/streams/:id",status="404"');
    expect(r.text).toContain("dionysia_control_http_request_duration_seconds_bucket");
    expect(r.text).toMatch(/dionysia_control_streams\{status="idle"\} [1-9]/);
    expect(r.text).toContain('dionysia_control_streams{status="live"} 0');
  });

  test("swagger documents every route with responses, errors, tags and bearer security", async () => {
    const ui = await fetch(`${c.url}/swagger`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain("<html");
    const r = await c.api("GET", "/swagger/json", { key: null });
    expect(r.status).toBe(200);
    const doc = r.body;
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    const expected: [string, string][] = [
      ["post", "/v1/streams/"],
      ["get", "/v1/streams/"],
      ["get", "/v1/streams/{id}"],
      ["patch", "/v1/streams/{id}"],
      ["delete", "/v1/streams/{id}"],
      ["post", "/v1/streams/{id}/key"],
      ["get", "/v1/streams/{id}/ingest"],
      ["post", "/v1/profiles/"],
      ["get", "/v1/profiles/"],
      ["get", "/v1/profiles/{id}"],
      ["put", "/v1/profiles/{id}"],
      ["delete", "/v1/profiles/{id}"],
      ["get", "/v1/nodes/"],
      ["get", "/v1/nodes/{id}"],
      ["patch", "/v1/nodes/{id}"],
      ["delete", "/v1/nodes/{id}"],
      ["post", "/v1/ingest/authorize"],
      ["get", "/v1/routes/"],
      ["post", "/v1/api-keys/"],
      ["get", "/v1/api-keys/"],
      ["delete", "/v1/api-keys/{id}"],
      ["post", "/v1/webhooks/"],
      ["get", "/v1/webhooks/"],
      ["get", "/v1/webhooks/{id}"],
      ["patch", "/v1/webhooks/{id}"],
      ["delete", "/v1/webhooks/{id}"],
      ["post", "/v1/webhooks/{id}/secret"],
      ["get", "/v1/webhooks/{id}/deliveries"],
      ["post", "/v1/webhooks/{id}/deliveries/{deliveryId}/resend"],
      ["get", "/v1/events/"],
      ["get", "/health"],
      ["get", "/metrics"],
    ];
    const paths = doc.paths as Record<
      string,
      Record<string, { tags?: string[]; responses: Record<string, unknown> }>
    >;
    const norm = (p: string) => (p.length > 1 ? p.replace(/\/$/, "") : p);
    const byNorm = new Map(Object.entries(paths).map(([p, v]) => [norm(p), v]));
    for (const [method, path] of expected) {
      const op = byNorm.get(norm(path))?.[method];
      expect(op, `${method} ${path}`).toBeDefined();
      expect(op?.tags?.length, `${method} ${path} tags`).toBeGreaterThan(0);
      const codes = Object.keys(op?.responses ?? {});
      expect(
        codes.some((s) => s.startsWith("2")),
        `${method} ${path} success`,
      ).toBe(true);
      if (path.startsWith("/v1")) {
        expect(codes, `${method} ${path} 401`).toContain("401");
        const err = JSON.stringify(op?.responses?.["401"]);
        expect(err).toContain("message");
      }
    }
  });
});
