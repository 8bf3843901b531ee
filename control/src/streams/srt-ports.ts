/**
 * Per-stream SRT ports (embedded media server). Control assigns each stream its port once, at
 * creation, so ingest URLs are right before the stream is placed and stay right across restarts
 * and moves. Ports are handed out round-robin from a persisted cursor: a deleted stream's port is
 * reused only after the whole range went round, so an old URL does not reach a new stream's
 * listener (which would refuse it anyway: every stream has its own passphrase).
 */
import { asc, eq, isNotNull, isNull } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { counters, streams } from "../db/schema.ts";

export interface PortRange {
  from: number;
  to: number;
}

/** First port at or after `cursor` (wrapping within the range) not in `used`; undefined when full. */
export function nextFreePort(
  range: PortRange,
  used: ReadonlySet<number>,
  cursor: number,
): number | undefined {
  const size = range.to - range.from + 1;
  const start = cursor >= range.from && cursor <= range.to ? cursor - range.from : 0;
  for (let i = 0; i < size; i++) {
    const port = range.from + ((start + i) % size);
    if (!used.has(port)) return port;
  }
  return undefined;
}

const SRT_CURSOR = "srt_port_next";

/** The next SRT port to hand out, undefined when the range is full. */
async function srtPortCandidate(db: Db, range: PortRange): Promise<number | undefined> {
  const [used, [cursor]] = await Promise.all([
    db.select({ port: streams.srtPort }).from(streams).where(isNotNull(streams.srtPort)),
    db.select({ value: counters.value }).from(counters).where(eq(counters.name, SRT_CURSOR)),
  ]);
  return nextFreePort(range, new Set(used.map((r) => r.port as number)), cursor?.value ?? range.from);
}

async function advanceSrtCursor(db: Db, port: number): Promise<void> {
  await db
    .insert(counters)
    .values({ name: SRT_CURSOR, value: port + 1 })
    .onConflictDoUpdate({ target: counters.name, set: { value: port + 1 } });
}

/** Another control instance took the same port between our read and our write. */
function isSrtPortConflict(err: unknown): boolean {
  const e = err as { message?: string; cause?: { message?: string } };
  return `${e?.message ?? ""} ${e?.cause?.message ?? ""}`.includes("streams.srt_port");
}

/**
 * Runs `write(port)` with a fresh SRT port, retrying when a concurrent writer took the port
 * (the unique index refuses the second). `write(null)` when the range is full.
 */
export async function withSrtPort<T>(
  db: Db,
  range: PortRange,
  write: (port: number | null) => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const port = (await srtPortCandidate(db, range)) ?? null;
    try {
      const out = await write(port);
      if (port !== null) await advanceSrtCursor(db, port);
      return out;
    } catch (err) {
      if (port === null || attempt >= 10 || !isSrtPortConflict(err)) throw err;
    }
  }
}

/**
 * Gives every stream without an SRT port one (streams created before control assigned them, or
 * while the range was full). Run at start; returns how many were assigned.
 */
export async function ensureSrtPorts(db: Db, range: PortRange): Promise<number> {
  const missing = await db
    .select({ id: streams.id })
    .from(streams)
    .where(isNull(streams.srtPort))
    .orderBy(asc(streams.createdAt), asc(streams.id));
  let assigned = 0;
  for (const { id } of missing) {
    const done = await withSrtPort(db, range, async (port) => {
      if (port === null) return false;
      await db.update(streams).set({ srtPort: port }).where(eq(streams.id, id));
      return true;
    });
    if (!done) break;
    assigned++;
  }
  return assigned;
}
