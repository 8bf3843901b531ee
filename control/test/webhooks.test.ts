/**
 * Webhooks and the event log (ADR 0090) against real parts: a real control on a libSQL file, real
 * HTTP receivers on 127.0.0.1, restarts and two instances on one database file.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { signWebhook, verifyWebhook } from "@dionysia/shared";
import { sleep, startWebhookReceiver, type WebhookReceiver, waitFor } from "@dionysia/shared/testkit";
import { announce, startControl, type TestControl } from "./helpers/control.ts";

/** Short back-off and lease so retries, restarts and hand-overs take moments. */
const FAST = {
  WEBHOOK_ALLOW_PRIVATE: "loopback",
  WEBHOOK_RETRY_BASE_MS: "40",
  WEBHOOK_RETRY_MAX_MS: "150",
  WEBHOOK_POLL_MS: "20",
  WEBHOOK_TIMEOUT_MS: "700",
  SCHEDULER_LEASE_TTL_MS: "1200",
};

let c: TestControl;
let rx: WebhookReceiver;

beforeAll(async () => {
  c = await startControl({ env: FAST });
  rx = await startWebhookReceiver();
});
afterAll(async () => {
  await c?.stop();
  await rx?.close();
});

type Api = TestControl["api"];
const createHook = async (api: Api, url: string, over: Record<string, unknown> = {}) => {
  const r = await api("POST", "/v1/webhooks", { body: { url, ...over } });
  expect(r.status).toBe(201);
  return r.body as { id: string; secret: string; url: string };
};
const createStream = async (api: Api, name: string) => {
  const r = await api("POST", "/v1/streams", { body: { name } });
  expect(r.status).toBe(201);
  return r.body.id as string;
};
const parsed = (h: { body: string }) =>
  JSON.parse(h.body) as { id: string; type: string; data: { id: string } };
const createdFor = (r: WebhookReceiver, streamId: string) =>
  r.received.filter((h) => {
    const b = parsed(h);
    return b.type === "stream.created" && b.data.id === streamId;
  });

describe("webhook API", () => {
  test("create shows the secret once; list and get never; the secret is never logged", async () => {
    const h = await createHook(c.api, rx.url, { description: "backend", eventTypes: ["stream.created"] });
    expect(h.id).toMatch(/^wh_/);
    expect(h.secret).toMatch(/^whsec_[0-9A-Za-z]{40}$/);
    const list = await c.api("GET", "/v1/webhooks");
    expect(list.status).toBe(200);
    expect(list.body.items.map((w: { id: string }) => w.id)).toContain(h.id);
    const one = await c.api("GET", `/v1/webhooks/${h.id}`);
    expect(one.body).toMatchObject({ url: rx.url, eventTypes: ["stream.created"], enabled: true });
    expect(list.text + one.text).not.toContain(h.secret);
    const patched = await c.api("PATCH", `/v1/webhooks/${h.id}`, {
      body: { enabled: false, eventTypes: null },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ enabled: false, eventTypes: null });
    expect(patched.text).not.toContain(h.secret);
    const rotated = await c.api("POST", `/v1/webhooks/${h.id}/secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(h.secret);
    expect((await c.api("DELETE", `/v1/webhooks/${h.id}`)).status).toBe(204);
    expect((await c.api("GET", `/v1/webhooks/${h.id}`)).status).toBe(404);
    expect(c.logs()).not.toContain(h.secret);
    expect(c.logs()).not.toContain(rotated.body.secret);
  });

  test("hostile input: refused destinations 422 with nothing written, bad bodies 4xx, unknown ids 404, auth 401", async () => {
    const before = (await c.api("GET", "/v1/webhooks")).body.items.length;
    for (const url of [
      "http://10.0.0.1/hook", // private (only loopback is allowed here)
      "http://169.254.169.254/latest/meta-data", // cloud metadata
      "http://[fe80::1]/hook", // link-local IPv6
      "http://[::ffff:10.1.2.3]/hook", // IPv4-mapped private
      "http://0.0.0.0:8080/", // unspecified
      "http://[::]/", // unspecified IPv6
      "ftp://127.0.0.1/hook", // scheme
      "http://user:pw@127.0.0.1/hook", // credentials
      "not a url",
      "http://no-such-host.invalid/hook", // does not resolve
    ]) {
      const r = await c.api("POST", "/v1/webhooks", { body: { url } });
      expect(r.status, url).toBe(422);
      expect(r.body.error.code, url).toMatch(/url_not_allowed|validation/);
    }
    const h = await createHook(c.api, rx.url);
    const bad = await c.api("PATCH", `/v1/webhooks/${h.id}`, { body: { url: "http://192.168.1.1/" } });
    expect(bad.status).toBe(422);
    expect((await c.api("GET", `/v1/webhooks/${h.id}`)).body.url).toBe(rx.url);
    await c.api("DELETE", `/v1/webhooks/${h.id}`);
    expect((await c.api("GET", "/v1/webhooks")).body.items.length).toBe(before);

    const unknownType = await c.api("POST", "/v1/webhooks", {
      body: { url: rx.url, eventTypes: ["stream.exploded"] },
    });
    expect(unknownType.status).toBe(422);
    expect((await c.api("POST", "/v1/webhooks", { body: { url: rx.url, extra: 1 } })).status).toBe(422);
    expect((await c.api("POST", "/v1/webhooks", { raw: "{not json" })).status).toBe(400);
    expect(
      (await c.api("POST", "/v1/webhooks", { body: { url: `${rx.url}?${"a".repeat(70_000)}` } })).status,
    ).toBe(413);
    expect((await c.api("GET", "/v1/events?type=stream.exploded")).status).toBe(422);
    expect((await c.api("GET", "/v1/events?cursor=bm9wZQ")).status).toBe(422);
    expect((await c.api("GET", "/v1/webhooks")).body.items.length).toBe(before);

    for (const [m, p] of [
      ["GET", "/v1/webhooks/wh_nope"],
      ["PATCH", "/v1/webhooks/wh_nope"],
      ["DELETE", "/v1/webhooks/wh_nope"],
      ["POST", "/v1/webhooks/wh_nope/secret"],
      ["GET", "/v1/webhooks/wh_nope/deliveries"],
      ["POST", "/v1/webhooks/wh_nope/deliveries/whd_nope/resend"],
    ] as const) {
      const r = await c.api(m, p, m === "PATCH" ? { body: { enabled: true } } : {});
      expect(r.status, `${m} ${p}`).toBe(404);
    }
    for (const [m, p] of [
      ["GET", "/v1/webhooks"],
      ["POST", "/v1/webhooks"],
      ["GET", "/v1/events"],
      ["GET", `/v1/webhooks/${h.id}/deliveries`],
    ] as const) {
      const body = m === "POST" ? { body: { url: rx.url } } : {};
      expect((await c.api(m, p, { key: null, ...body })).status, `${m} ${p}`).toBe(401);
      expect((await c.api(m, p, { key: "dk_wrong", ...body })).status, `${m} ${p}`).toBe(401);
    }
  });

  test("loopback is refused unless WEBHOOK_ALLOW_PRIVATE allows it", async () => {
    const strict = await startControl({ env: { ...FAST, WEBHOOK_ALLOW_PRIVATE: "none" } });
    try {
      for (const url of ["http://127.0.0.1:9/hook", "http://[::1]/hook", "http://localhost/hook", rx.url]) {
        const r = await strict.api("POST", "/v1/webhooks", { body: { url } });
        expect(r.status, url).toBe(422);
        expect(r.body.error.message, url).toContain("loopback");
      }
      expect((await strict.api("GET", "/v1/webhooks")).body.items).toEqual([]);
    } finally {
      await strict.stop();
    }
  });
});

describe("delivery", () => {
  test("a receiver gets a signed stream.created; a tampered body or an old timestamp fails verification", async () => {
    const h = await createHook(c.api, rx.url, { eventTypes: ["stream.created"] });
    const id = await createStream(c.api, "signed");
    const [got] = await waitFor("stream.created delivered", () => {
      const m = createdFor(rx, id);
      return m.length ? m : undefined;
    });
    const hook = got as (typeof rx.received)[number];
    const body = parsed(hook);
    expect(body).toMatchObject({ type: "stream.created", data: { id, name: "signed", status: "idle" } });
    expect(body.id).toMatch(/^evt_/);
    expect(hook.headers["dionysia-event-id"]).toBe(body.id);
    expect(hook.headers["content-type"]).toContain("application/json");
    const sig = hook.headers["dionysia-signature"] as string;
    expect(sig).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifyWebhook(h.secret, sig, hook.body)).toBe(true);
    expect(verifyWebhook(h.secret, sig, hook.body.replace('"signed"', '"tampered"'))).toBe(false);
    expect(verifyWebhook("whsec_other", sig, hook.body)).toBe(false);
    const t = Number(/t=(\d+)/.exec(sig)?.[1]);
    expect(verifyWebhook(h.secret, sig, hook.body, { nowS: t + 301 })).toBe(false);
    expect(verifyWebhook(h.secret, signWebhook(h.secret, hook.body, t - 3600), hook.body)).toBe(false);
    // The same event in the log.
    const ev = await c.api("GET", `/v1/events?streamId=${id}`);
    expect(ev.body.items).toEqual([body]);
    await c.api("DELETE", `/v1/webhooks/${h.id}`);
  });

  test("500 three times then 200: four attempts, then delivered once; the attempts are listed", async () => {
    const r500 = await startWebhookReceiver();
    try {
      r500.answer([500, 500, 500], 200);
      const h = await createHook(c.api, r500.url, { eventTypes: ["stream.created"] });
      const id = await createStream(c.api, "flaky");
      await waitFor("four attempts", () => createdFor(r500, id).length >= 4, 10_000, 20);
      const deliveries = await waitFor("delivered", async () => {
        const d = await c.api("GET", `/v1/webhooks/${h.id}/deliveries`);
        return d.body.items[0]?.state === "delivered" ? d.body.items : undefined;
      });
      await sleep(400); // nothing more comes
      const got = createdFor(r500, id);
      expect(got.length).toBe(4);
      expect(new Set(got.map((g) => parsed(g).id)).size).toBe(1);
      expect(deliveries.length).toBe(1);
      const d = deliveries[0];
      expect(d).toMatchObject({ state: "delivered", attempts: 4, lastStatusCode: 200, lastError: null });
      expect(d.history.map((a: { statusCode: number }) => a.statusCode)).toEqual([200, 500, 500, 500]);
      expect(d.history[1]).toMatchObject({ error: "HTTP 500", responseExcerpt: "receiver says 500" });
      const logs = c.logs();
      expect(logs).toContain('"reason":"HTTP 500"');
      expect(logs).toContain(`"webhookId":"${h.id}"`);
      expect(logs).not.toContain(h.secret);
      const metrics = await (await fetch(`${c.url}/metrics`)).text();
      expect(metrics).toMatch(/dionysia_control_webhook_deliveries_total\{outcome="retry"\} [3-9]/);
      expect(metrics).toMatch(/dionysia_control_webhook_deliveries_total\{outcome="delivered"\} \d/);
      expect(metrics).toContain("dionysia_control_webhook_outbox_backlog");

      // Resend: one more signed delivery of the same event.
      const re = await c.api("POST", `/v1/webhooks/${h.id}/deliveries/${d.id}/resend`);
      expect(re.status).toBe(202);
      await waitFor("resent", () => createdFor(r500, id).length === 5);
      await c.api("DELETE", `/v1/webhooks/${h.id}`);
    } finally {
      await r500.close();
    }
  });

  test("a hanging receiver times out without holding up another one", async () => {
    const slow = await startWebhookReceiver();
    const fast = await startWebhookReceiver();
    try {
      slow.hang(true);
      const hs = await createHook(c.api, slow.url, { eventTypes: ["stream.created"] });
      const hf = await createHook(c.api, fast.url, { eventTypes: ["stream.created"] });
      const t0 = Date.now();
      const id = await createStream(c.api, "slow and fast");
      await waitFor("fast receiver", () => createdFor(fast, id).length === 1, 5000, 10);
      expect(Date.now() - t0).toBeLessThan(600); // before the slow one's 700 ms timeout
      const d = await waitFor("slow attempt recorded", async () => {
        const r = await c.api("GET", `/v1/webhooks/${hs.id}/deliveries`);
        return r.body.items[0]?.history.length ? r.body.items[0] : undefined;
      });
      expect(d.history[0]).toMatchObject({ statusCode: null, error: "timed out after 700 ms" });
      // A receiver that is gone: the reason names the refused connection.
      await slow.close();
      const id2 = await createStream(c.api, "nobody home");
      const gone = await waitFor("refused attempt recorded", async () => {
        const r = await c.api("GET", `/v1/webhooks/${hs.id}/deliveries`);
        return r.body.items.length === 2 && r.body.items[0].history.length ? r.body.items[0] : undefined;
      });
      expect(gone.history[0].error).toMatch(/ECONNREFUSED|Unable to connect/);
      await waitFor("the fast receiver still served", () => createdFor(fast, id2).length === 1);
      await c.api("DELETE", `/v1/webhooks/${hs.id}`);
      await c.api("DELETE", `/v1/webhooks/${hf.id}`);
    } finally {
      await slow.close();
      await fast.close();
    }
  });
});

describe("events", () => {
  test("GET /v1/events: newest first, by type and stream, with a cursor", async () => {
    const ids = [
      await createStream(c.api, "e1"),
      await createStream(c.api, "e2"),
      await createStream(c.api, "e3"),
    ];
    expect((await c.api("DELETE", `/v1/streams/${ids[0]}`)).status).toBe(204);
    const del = await c.api("GET", `/v1/events?type=stream.deleted&streamId=${ids[0]}`);
    expect(del.body.items).toHaveLength(1);
    expect(del.body.items[0]).toMatchObject({ type: "stream.deleted", data: { id: ids[0], name: "e1" } });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/v1/events?type=stream.created&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const page = await c.api("GET", q);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      for (const e of page.body.items) seen.push(e.data.id);
      cursor = page.body.nextCursor;
    } while (cursor);
    // Newest first, each once.
    expect(seen.slice(0, 3)).toEqual([ids[2], ids[1], ids[0]] as string[]);
    expect(new Set(seen).size).toBe(seen.length);
  });

  test("node and stream transitions are recorded once each, however many reports repeat them", async () => {
    const net = c.control.network;
    if (!net) throw new Error("network expected");
    net.onAnnounce(announce("wh-node"));
    net.onAnnounce(announce("wh-node"));
    const id = await createStream(c.api, "lifecycle");
    const { claimStream, recordStreamStatus } = await import("../src/streams/assignment.ts");
    await net.reconcileNow();
    expect(
      await claimStream(c.control.db, {
        streamId: id,
        nodeId: "wh-node",
        transcodeNodeId: null,
        admitted: null,
        reservedUntil: Date.now() + 30_000,
      }),
    ).toBe(true);
    const status = (s: "starting" | "live" | "idle" | "error", lastError?: string) =>
      recordStreamStatus(
        c.control.db,
        { id, nodeId: "wh-node", status: s, ts: Date.now(), ...(lastError ? { lastError } : {}) },
        1000,
      );
    for (const s of ["starting", "live", "live", "idle", "idle", "error"] as const)
      expect(await status(s, s === "error" ? "encoder died" : undefined)).toBe(true);
    net.onState("wh-node", { state: "offline", ts: Date.now() }, "test");
    net.onState("wh-node", { state: "offline", ts: Date.now() }, "test");
    await net.reconcileNow();
    const types = async (q: string) =>
      ((await c.api("GET", `/v1/events?limit=100&${q}`)).body.items as { type: string }[])
        .map((e) => e.type)
        .reverse();
    expect(await types(`streamId=${id}`)).toEqual([
      "stream.created",
      "stream.connected",
      "stream.active",
      "stream.disconnected",
      "stream.idle",
      "stream.error",
      "stream.idle", // its node went offline: the scheduler unassigned it
    ]);
    const nodeEvents = (await c.api("GET", "/v1/events?limit=100")).body.items.filter(
      (e: { type: string; data: { id: string } }) => e.type.startsWith("node.") && e.data.id === "wh-node",
    );
    expect(nodeEvents.map((e: { type: string }) => e.type).reverse()).toEqual([
      "node.online",
      "node.offline",
    ]);
    const err = (await c.api("GET", `/v1/events?type=stream.error&streamId=${id}`)).body.items[0];
    expect(err.data).toMatchObject({ id, status: "error", error: "encoder died" });
  });
});

describe("enabled flag and retention", () => {
  test("a disabled webhook gets nothing; enabled again, it gets what comes next", async () => {
    const r = await startWebhookReceiver();
    try {
      const h = await createHook(c.api, r.url, { eventTypes: ["stream.created"], enabled: false });
      const quiet = await createStream(c.api, "while disabled");
      await sleep(300);
      expect(createdFor(r, quiet)).toEqual([]);
      expect((await c.api("PATCH", `/v1/webhooks/${h.id}`, { body: { enabled: true } })).status).toBe(200);
      const loud = await createStream(c.api, "once enabled");
      await waitFor("delivered once enabled", () => createdFor(r, loud).length === 1);
      expect(createdFor(r, quiet)).toEqual([]);
      await c.api("DELETE", `/v1/webhooks/${h.id}`);
    } finally {
      await r.close();
    }
  });

  test("retention removes old events with their deliveries and attempts", async () => {
    const own = await startControl({ env: FAST });
    try {
      const { pruneEvents } = await import("../src/webhooks/outbox.ts");
      await createHook(own.api, rx.url, { eventTypes: ["stream.created"] });
      const id = await createStream(own.api, "old news");
      await waitFor("delivered", async () => {
        const n = await own.control.client.execute("select count(*) as n from webhook_attempts");
        return Number(n.rows[0]?.n) > 0;
      });
      expect(await pruneEvents(own.control.db, Date.now() - 60_000)).toBe(0); // nothing that old
      expect((await own.api("GET", `/v1/events?streamId=${id}`)).body.items).toHaveLength(1);
      expect(await pruneEvents(own.control.db, Date.now() + 1)).toBeGreaterThan(0);
      expect((await own.api("GET", `/v1/events?streamId=${id}`)).body.items).toEqual([]);
      for (const table of ["events", "webhook_deliveries", "webhook_attempts"]) {
        const n = await own.control.client.execute(`select count(*) as n from ${table}`);
        expect(Number(n.rows[0]?.n), table).toBe(0);
      }
    } finally {
      await own.stop();
    }
  });

  test("WEBHOOK_ALLOW_PRIVATE is checked at start", async () => {
    const { loadConfig } = await import("@dionysia/shared");
    const { controlConfigSpec } = await import("../src/config.ts");
    expect(() => loadConfig(controlConfigSpec, { WEBHOOK_ALLOW_PRIVATE: "yes" })).toThrow(
      /WEBHOOK_ALLOW_PRIVATE/,
    );
    expect(loadConfig(controlConfigSpec, {}).webhookAllowPrivate).toBe("none");
  });
});

describe("durability", () => {
  test("a control restart in the middle loses no event", async () => {
    const r = await startWebhookReceiver();
    const a = await startControl({ env: FAST });
    try {
      r.answer([], 503); // down at first
      const h = await createHook(a.api, r.url, { eventTypes: ["stream.created"] });
      const ids = [await createStream(a.api, "r1"), await createStream(a.api, "r2")];
      await waitFor("attempts before the restart", () => ids.every((id) => createdFor(r, id).length >= 1));
      await a.stop({ keepDir: true });
      r.answer([], 200); // back up while control is down
      const b = await startControl({ dir: a.dir, env: FAST });
      try {
        const id3 = await createStream(b.api, "r3");
        for (const id of [...ids, id3])
          await waitFor(`delivered ${id}`, async () => {
            const d = await b.api("GET", `/v1/webhooks/${h.id}/deliveries?state=delivered&limit=100`);
            return d.body.items.length >= 3;
          });
        for (const id of [...ids, id3]) expect(createdFor(r, id).at(-1)).toBeDefined();
        expect(b.logs()).not.toContain(h.secret);
      } finally {
        await b.stop();
      }
    } finally {
      await r.close();
    }
  });

  test("two control instances on one database deliver each event once; the lease hands over", async () => {
    const r = await startWebhookReceiver();
    const a = await startControl({ env: FAST });
    const b = await startControl({ dir: a.dir, env: FAST });
    let bStopped = false;
    try {
      await waitFor("one webhooks leader", () => a.control.webhooks.isLeader !== b.control.webhooks.isLeader);
      await createHook(a.api, r.url, { eventTypes: ["stream.created"] });
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push(await createStream(i % 2 ? b.api : a.api, `pair ${i}`));
      await waitFor("each delivered", () => ids.every((id) => createdFor(r, id).length >= 1));
      // Hand-over: the leader stops; the other takes the lease and delivers what comes next.
      const [leader, other] = a.control.webhooks.isLeader ? [a, b] : [b, a];
      await leader.stop({ keepDir: true });
      if (leader === b) bStopped = true;
      const later = await createStream(other.api, "after hand-over");
      await waitFor("delivered after hand-over", () => createdFor(r, later).length >= 1, 10_000);
      ids.push(later);
      await sleep(300);
      for (const id of ids) expect(createdFor(r, id).length, id).toBe(1);
      if (leader === a) {
        await b.stop();
        bStopped = true;
      } else await a.stop();
    } finally {
      if (!bStopped) await b.stop({ keepDir: true }).catch(() => {});
      await r.close();
    }
  });
});
