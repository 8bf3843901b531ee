/**
 * A push whose publisher is still connected is re-claimed as soon as control can hear it (ADR
 * 0036). After a false offline (control's silence verdict), a control restart, or an origin
 * restart where the publisher came back before the announce, control may have unassigned the
 * stream while its publisher is still streaming into this node; nothing would ever place it back
 * until the publisher reconnects. So whenever the desired state arrives (and every `retryMs`
 * while needed), a live input that the desired state does not list is re-authorized with control
 * through the normal key check (POST /v1/ingest/authorize with the publisher's own key, which
 * claims the stream for this node exactly as a fresh publish would). Proof of possession stays
 * the key: the node cannot claim a stream it does not hold a key for.
 */
import type { Logger } from "@dionysia/shared";
import type { IngestProtocol, KeyAuthority, MediaServer } from "./media/types.ts";

interface HeldKey {
  streamKey: string;
  protocol: IngestProtocol;
  remoteAddr?: string;
}

/** A publish is authorized before its tracks are known (embedded: up to 3 s before `active()`). */
const PRUNE_GRACE_MS = 30_000;

/**
 * Remembers, in memory only, the key each live stream was authorized with (never logged, dropped
 * once the stream has no live input).
 */
export class PublishKeys {
  private readonly keys = new Map<string, { key: HeldKey; at: number }>();

  /** Wraps a KeyAuthority so every accepted publish leaves its key here. */
  wrap(authority: KeyAuthority): KeyAuthority {
    return {
      authorize: async (req) => {
        const d = await authority.authorize(req);
        if (d.ok)
          this.keys.set(d.streamId, {
            key: {
              streamKey: req.streamKey,
              protocol: req.protocol,
              ...(req.remoteAddr ? { remoteAddr: req.remoteAddr } : {}),
            },
            at: Date.now(),
          });
        return d;
      },
    };
  }

  get(streamId: string): HeldKey | undefined {
    return this.keys.get(streamId)?.key;
  }

  /** Forgets keys of streams without a live input (once past the grace of a starting publish). */
  prune(live: Set<string>, now = Date.now()): void {
    for (const [id, k] of this.keys) if (!live.has(id) && now - k.at > PRUNE_GRACE_MS) this.keys.delete(id);
  }

  get size(): number {
    return this.keys.size;
  }
}

export interface ReclaimerOptions {
  mediaServer: Pick<MediaServer, "active">;
  /** The unwrapped authority (asks control for keys the desired state does not list). */
  authority: KeyAuthority;
  keys: PublishKeys;
  /** Ids of the streams in the desired state now. */
  desiredIds: () => Set<string>;
  logger: Logger;
  /** Least time between two attempts for one stream, and the retry period (default 3000 ms). */
  retryMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

export class Reclaimer {
  private readonly retryMs: number;
  private readonly lastTry = new Map<string, number>();
  /** Per stream: the wait before the next try, doubled (to 60 s) after each refusal. */
  private readonly waitMs = new Map<string, number>();
  private readonly inFlight = new Set<string>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly log: Logger;

  constructor(private readonly o: ReclaimerOptions) {
    this.retryMs = o.retryMs ?? 3000;
    this.log = o.logger.child({ component: "reclaim" });
  }

  start(): void {
    this.timer ??= setInterval(() => void this.check(), this.retryMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Re-authorizes every live input the desired state does not list; returns the ids it tried. */
  async check(): Promise<string[]> {
    const active = this.o.mediaServer.active();
    const live = new Set(active.map((e) => e.streamId));
    this.o.keys.prune(live);
    for (const id of this.lastTry.keys()) if (!live.has(id)) this.lastTry.delete(id);
    for (const id of this.waitMs.keys()) if (!live.has(id)) this.waitMs.delete(id);
    const desired = this.o.desiredIds();
    const now = (this.o.now ?? Date.now)();
    const tried: string[] = [];
    await Promise.all(
      active.map(async (e) => {
        const id = e.streamId;
        if (desired.has(id) || this.inFlight.has(id)) return;
        if (now - (this.lastTry.get(id) ?? 0) < (this.waitMs.get(id) ?? this.retryMs)) return;
        const held = this.o.keys.get(id);
        if (!held) return; // internal relays and pulls carry no key: control places those itself
        this.lastTry.set(id, now);
        this.inFlight.add(id);
        tried.push(id);
        try {
          const d = await this.o.authority.authorize(held);
          if (d.ok && d.streamId === id) {
            this.waitMs.delete(id);
            this.log.info({ streamId: id }, "live stream not in the desired state: re-claimed with control");
          } else if (!d.ok) {
            this.waitMs.set(id, Math.min(60_000, 2 * (this.waitMs.get(id) ?? this.retryMs)));
            this.log.warn(
              { streamId: id, reason: d.reason, detail: d.detail },
              "live stream not in the desired state: control refused the re-claim",
            );
          }
        } finally {
          this.inFlight.delete(id);
        }
      }),
    );
    return tried;
  }
}
