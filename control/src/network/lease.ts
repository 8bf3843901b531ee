/**
 * Scheduler lease: several control instances share one libSQL database and exactly one of them
 * schedules. The lease is one row with an expiry; taking or renewing it is a single conditional
 * upsert (compare-and-set on holder/expiry), so two instances can never both succeed.
 * Holders count their lease from the moment they *sent* the request, so a holder always believes
 * it has lost the lease no later than the database lets another instance take it (given clocks
 * that agree to well under the TTL, which NTP provides).
 */
import { EventEmitter } from "node:events";
import type { Logger } from "@dionysia/shared";
import type { Client } from "@libsql/client";

const LEASE_TABLE_SQL =
  "CREATE TABLE IF NOT EXISTS scheduler_lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL)";

export async function ensureLeaseTable(db: Client): Promise<void> {
  await db.execute(LEASE_TABLE_SQL);
}

/**
 * Takes the lease if it is free, expired, or already ours; returns true when `holder` holds it
 * until `now + ttlMs`.
 */
export async function tryAcquireLease(
  db: Client,
  name: string,
  holder: string,
  ttlMs: number,
  now = Date.now(),
): Promise<boolean> {
  const r = await db.execute({
    sql: `INSERT INTO scheduler_lease (name, holder, expires_at) VALUES (?1, ?2, ?3)
          ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
          WHERE scheduler_lease.holder = excluded.holder OR scheduler_lease.expires_at <= ?4`,
    args: [name, holder, now + ttlMs, now],
  });
  return r.rowsAffected === 1;
}

/** Gives the lease up at once (clean shutdown) so another instance need not wait for expiry. */
export async function releaseLease(db: Client, name: string, holder: string): Promise<boolean> {
  const r = await db.execute({
    sql: "UPDATE scheduler_lease SET expires_at = 0 WHERE name = ?1 AND holder = ?2",
    args: [name, holder],
  });
  return r.rowsAffected === 1;
}

export async function currentLeaseHolder(
  db: Client,
  name: string,
  now = Date.now(),
): Promise<{ holder: string; expiresAt: number } | undefined> {
  const r = await db.execute({
    sql: "SELECT holder, expires_at FROM scheduler_lease WHERE name = ?1 AND expires_at > ?2",
    args: [name, now],
  });
  const row = r.rows[0];
  return row ? { holder: String(row.holder), expiresAt: Number(row.expires_at) } : undefined;
}

export interface LeaseKeeperOptions {
  db: Client;
  /** Unique per control instance, e.g. hostname + pid + random suffix. */
  holder: string;
  name?: string;
  ttlMs?: number;
  /** Default ttl/3: two renewals may fail before the lease lapses. */
  renewMs?: number;
  logger?: Logger;
}

export interface LeaseKeeperEvents {
  gained: [];
  lost: [];
}

/**
 * Keeps trying to hold the lease: renews every `renewMs` while leader, retries at the same
 * pace while follower. Emits `gained` and `lost`; `isLeader` is the current belief.
 */
export class LeaseKeeper extends EventEmitter<LeaseKeeperEvents> {
  readonly holder: string;
  readonly name: string;
  readonly ttlMs: number;
  readonly renewMs: number;
  private readonly db: Client;
  private readonly log: Logger | undefined;
  private leader = false;
  private validUntil = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private expiryTimer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private ready: Promise<void> | undefined;
  private inflight: Promise<void> | undefined;

  constructor(o: LeaseKeeperOptions) {
    super();
    this.db = o.db;
    this.holder = o.holder;
    this.name = o.name ?? "scheduler";
    this.ttlMs = o.ttlMs ?? 10_000;
    this.renewMs = o.renewMs ?? Math.max(50, Math.floor(this.ttlMs / 3));
    if (this.renewMs >= this.ttlMs) throw new Error("renewMs must be shorter than ttlMs");
    this.log = o.logger?.child({ component: "scheduler-lease", holder: this.holder });
  }

  get isLeader(): boolean {
    return this.leader && Date.now() < this.validUntil;
  }

  /** Starts the loop; resolves after the first attempt (so `isLeader` is meaningful). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.ready ??= ensureLeaseTable(this.db);
    await this.ready;
    await this.tick();
  }

  /**
   * Stops renewing. `release: true` (clean shutdown) frees the row so a follower takes over at
   * its next attempt; `release: false` behaves like a crash: the lease lapses after the TTL.
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.inflight;
    const wasLeader = this.leader;
    if (opts.release !== false && wasLeader) {
      try {
        await releaseLease(this.db, this.name, this.holder);
      } catch (err) {
        this.log?.warn({ err: (err as Error).message }, "lease release failed");
      }
    }
    this.setLeader(false);
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => void this.tick(), this.renewMs);
  }

  private async tick(): Promise<void> {
    const run = async () => {
      const sentAt = Date.now();
      try {
        const ok = await tryAcquireLease(this.db, this.name, this.holder, this.ttlMs, sentAt);
        if (!this.running) return;
        if (ok) {
          this.validUntil = sentAt + this.ttlMs;
          this.armExpiry();
          this.setLeader(true);
        } else {
          this.setLeader(false);
        }
      } catch (err) {
        // Database unreachable: keep the belief until our own expiry passes (armExpiry).
        this.log?.warn({ err: (err as Error).message }, "lease renewal failed");
      }
    };
    this.inflight = run();
    await this.inflight;
    this.inflight = undefined;
    this.schedule();
  }

  private armExpiry(): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(
      () => {
        if (Date.now() >= this.validUntil) this.setLeader(false);
      },
      Math.max(0, this.validUntil - Date.now()),
    );
  }

  private setLeader(v: boolean): void {
    if (v === this.leader) return;
    this.leader = v;
    if (!v) clearTimeout(this.expiryTimer);
    this.log?.info({ lease: this.name }, v ? "scheduler lease gained" : "scheduler lease lost");
    this.emit(v ? "gained" : "lost");
  }
}
