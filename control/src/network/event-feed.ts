/**
 * The MQTT event feed (ADR 0097): every event of GET /v1/events, published once more on
 * `dionysia/v1/events/{type}` (QoS 1, not retained) by the scheduler lease holder, so dashboards
 * and the console see what happened live without a webhook receiver. The table stays the record;
 * the feed is at least once while one leader runs and may repeat an event across a hand-over.
 *
 * Events come from every control instance, and one committed a moment late can carry an earlier
 * `createdAt` than one already sent: each pass reads a look-back window and skips the ids it sent.
 */
import type { PlatformEvent } from "@dionysia/shared";
import type { Db } from "../db/client.ts";
import { eventBody, eventsSince, newestEventAt } from "../webhooks/outbox.ts";

export const EVENT_FEED_LOOKBACK_MS = 5000;
const BATCH = 200;

export class EventFeed {
  /** Events sent, by id → createdAt (pruned past the look-back window). */
  private readonly sent = new Map<string, number>();
  private cursor: number | undefined;

  constructor(
    private readonly db: Db,
    private readonly publish: (e: PlatformEvent) => Promise<void>,
  ) {}

  /** A new leader starts after what is already in the table: history is GET /v1/events' job. */
  async reset(now = Date.now()): Promise<void> {
    this.sent.clear();
    const newest = await newestEventAt(this.db);
    this.cursor = Math.max(newest ?? 0, now - EVENT_FEED_LOOKBACK_MS);
    // Anything already in the window was before this leader: not news.
    for (const row of await eventsSince(this.db, this.cursor - EVENT_FEED_LOOKBACK_MS, BATCH * 5))
      this.sent.set(row.id, row.createdAt);
  }

  /** Publishes what is new; returns how many were sent. */
  async pass(): Promise<number> {
    if (this.cursor === undefined) await this.reset();
    const from = (this.cursor as number) - EVENT_FEED_LOOKBACK_MS;
    const rows = await eventsSince(this.db, from, BATCH + this.sent.size);
    let n = 0;
    for (const row of rows) {
      if (this.sent.has(row.id)) continue;
      await this.publish(eventBody(row));
      this.sent.set(row.id, row.createdAt);
      this.cursor = Math.max(this.cursor as number, row.createdAt);
      n++;
    }
    for (const [id, at] of this.sent) if (at < from) this.sent.delete(id);
    return n;
  }
}
