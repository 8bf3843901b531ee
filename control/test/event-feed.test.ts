/**
 * The MQTT event feed's reading rule (ADR 0097), on a real libSQL file: each event once, an event
 * committed late with an earlier time still sent, a new leader sends nothing from before it.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PlatformEvent } from "@dionysia/shared";
import { openDb } from "../src/db/client.ts";
import { applyMigrations } from "../src/db/migrate.ts";
import { EVENT_FEED_LOOKBACK_MS, EventFeed } from "../src/network/event-feed.ts";
import { recordEvent } from "../src/webhooks/outbox.ts";

const dir = mkdtempSync(join(tmpdir(), "event-feed-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("each event once and in order; a late commit with an earlier time too; a new leader starts after", async () => {
  const { db, client } = await openDb({ url: `file:${join(dir, "c.db")}` });
  await applyMigrations(db);
  const now = Date.now();
  const before = await recordEvent(db, "node.online", { id: "n0" }, { nodeId: "n0" }, now - 1000);
  const sent: PlatformEvent[] = [];
  const feed = new EventFeed(db, async (e) => {
    sent.push(e);
  });
  await feed.reset(now);
  expect(await feed.pass()).toBe(0); // what was there before this leader is not news

  const a = await recordEvent(db, "stream.created", { id: "s1" }, { streamId: "s1" }, now + 10);
  const b = await recordEvent(db, "stream.connected", { id: "s1" }, { streamId: "s1" }, now + 20);
  expect(await feed.pass()).toBe(2);
  expect(await feed.pass()).toBe(0);
  // Another instance commits an event stamped before the newest one already sent.
  const late = await recordEvent(db, "node.offline", { id: "n1" }, { nodeId: "n1" }, now + 15);
  expect(await feed.pass()).toBe(1);
  // One stamped before the look-back window is history (GET /v1/events), not sent.
  await recordEvent(db, "node.offline", { id: "n2" }, { nodeId: "n2" }, now - 2 * EVENT_FEED_LOOKBACK_MS);
  expect(await feed.pass()).toBe(0);
  expect(sent.map((e) => e.id)).toEqual([a, b, late]);
  expect(sent.map((e) => e.id)).not.toContain(before);
  expect(sent[0]).toMatchObject({ type: "stream.created", data: { id: "s1" } });

  // A hand-over: the new leader's feed sends only what comes after it took over.
  const next: string[] = [];
  const feed2 = new EventFeed(db, async (e) => {
    next.push(e.id);
  });
  await feed2.reset(now + 30);
  const c = await recordEvent(db, "stream.active", { id: "s1" }, { streamId: "s1" }, now + 40);
  expect(await feed2.pass()).toBe(1);
  expect(next).toEqual([c]);
  client.close();
});
