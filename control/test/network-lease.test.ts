import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "@dionysia/shared/testkit";
import { type Client, createClient } from "@libsql/client";
import {
  currentLeaseHolder,
  ensureLeaseTable,
  LeaseKeeper,
  releaseLease,
  tryAcquireLease,
} from "../src/network/lease.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDb(): { url: string; open(): Client } {
  const dir = mkdtempSync(join(tmpdir(), "dionysia-lease-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const url = `file:${join(dir, "control.db")}`;
  return {
    url,
    open() {
      const c = createClient({ url });
      cleanups.push(() => c.close());
      return c;
    },
  };
}

describe("lease compare-and-set", () => {
  test("only a free, expired or own lease can be taken", async () => {
    const db = tempDb().open();
    await ensureLeaseTable(db);
    expect(await tryAcquireLease(db, "s", "a", 1000, 10_000)).toBe(true);
    expect(await tryAcquireLease(db, "s", "b", 1000, 10_500)).toBe(false);
    expect(await tryAcquireLease(db, "s", "a", 1000, 10_500)).toBe(true); // renew → until 11_500
    expect(await tryAcquireLease(db, "s", "b", 1000, 11_400)).toBe(false);
    expect(await tryAcquireLease(db, "s", "b", 1000, 11_500)).toBe(true); // expired
    expect(await currentLeaseHolder(db, "s", 11_600)).toEqual({ holder: "b", expiresAt: 12_500 });
    expect(await releaseLease(db, "s", "a")).toBe(false);
    expect(await releaseLease(db, "s", "b")).toBe(true);
    expect(await tryAcquireLease(db, "s", "a", 1000, 11_600)).toBe(true);
    // Independent lease names do not interfere.
    expect(await tryAcquireLease(db, "other", "b", 1000, 11_600)).toBe(true);
  });
});

describe("LeaseKeeper", () => {
  test("two keepers on one database file: exactly one leads; a crashed leader is replaced within ttl + renew", async () => {
    const db = tempDb();
    const ttlMs = 1200;
    const a = new LeaseKeeper({ db: db.open(), holder: "control-a", ttlMs });
    const b = new LeaseKeeper({ db: db.open(), holder: "control-b", ttlMs });
    cleanups.push(
      () => a.stop({ release: false }),
      () => b.stop({ release: false }),
    );
    const events: string[] = [];
    a.on("gained", () => events.push("a+"));
    a.on("lost", () => events.push("a-"));
    b.on("gained", () => events.push("b+"));
    b.on("lost", () => events.push("b-"));
    await a.start();
    await b.start();
    expect(a.isLeader).toBe(true);
    expect(b.isLeader).toBe(false);

    // Over several renew periods, leadership never doubles up nor flips.
    const deadline = Date.now() + ttlMs * 2;
    while (Date.now() < deadline) {
      expect(Number(a.isLeader) + Number(b.isLeader)).toBeLessThanOrEqual(1);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(a.isLeader).toBe(true);
    expect(events).toEqual(["a+"]);

    // Crash: a stops renewing without releasing the row.
    const crashedAt = Date.now();
    await a.stop({ release: false });
    await waitFor("b to take over", () => b.isLeader, ttlMs + b.renewMs + 1000);
    const took = Date.now() - crashedAt;
    expect(took).toBeLessThanOrEqual(ttlMs + b.renewMs + 200);
    expect(events).toEqual(["a+", "a-", "b+"]);
    const row = await currentLeaseHolder(db.open(), "scheduler");
    expect(row?.holder).toBe("control-b");
  });

  test("a clean stop releases so the follower takes over at its next attempt", async () => {
    const db = tempDb();
    const a = new LeaseKeeper({ db: db.open(), holder: "a", ttlMs: 5000, renewMs: 200 });
    const b = new LeaseKeeper({ db: db.open(), holder: "b", ttlMs: 5000, renewMs: 200 });
    cleanups.push(
      () => a.stop(),
      () => b.stop(),
    );
    await a.start();
    await b.start();
    expect(a.isLeader && !b.isLeader).toBe(true);
    const t0 = Date.now();
    await a.stop();
    await waitFor("b to lead after release", () => b.isLeader, 2000);
    expect(Date.now() - t0).toBeLessThan(1000); // far less than the 5 s TTL
  });

  test("rejects a renew interval that is not shorter than the TTL", () => {
    const db = tempDb().open();
    expect(() => new LeaseKeeper({ db, holder: "x", ttlMs: 100, renewMs: 100 })).toThrow();
  });
});
