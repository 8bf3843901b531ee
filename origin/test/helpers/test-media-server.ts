/**
 * A media server for tests of the supervisor: it implements the MediaServer interface and emits
 * publish/unpublish when the test says so. It stands in for the ingest side only; the inputs it
 * announces are real live streams (see publisher.ts).
 */
import type { MediaServer, MediaStreamSpec, PublishEvent, UnpublishEvent } from "../../src/media/types.ts";

export class TestMediaServer implements MediaServer {
  readonly kind = "embedded" as const;
  configured: MediaStreamSpec[] = [];
  private live = new Map<string, PublishEvent>();
  private pubs = new Set<(e: PublishEvent) => void>();
  private unpubs = new Set<(e: UnpublishEvent) => void>();

  async start(): Promise<void> {}
  async stop(): Promise<void> {
    this.live.clear();
  }
  async configure(streams: MediaStreamSpec[]): Promise<void> {
    this.configured = streams;
  }
  onPublish(cb: (e: PublishEvent) => void): () => void {
    this.pubs.add(cb);
    return () => this.pubs.delete(cb);
  }
  onUnpublish(cb: (e: UnpublishEvent) => void): () => void {
    this.unpubs.add(cb);
    return () => this.unpubs.delete(cb);
  }
  active(): PublishEvent[] {
    return [...this.live.values()];
  }
  endpoints() {
    return {};
  }
  ingressBytes(): number {
    return 0;
  }

  publish(e: PublishEvent): void {
    this.live.set(e.streamId, e);
    for (const cb of this.pubs) cb(e);
  }
  unpublish(streamId: string, reason = "publisher left"): void {
    this.live.delete(streamId);
    for (const cb of this.unpubs) cb({ streamId, reason });
  }
}
