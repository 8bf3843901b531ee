/**
 * The embedded media server: RTMP through node-media-server's protocol code in-process, SRT
 * through one ffmpeg listener per stream (protected by the stream's passphrase), pull inputs
 * through ffmpeg. SRT listeners and pulls re-publish into the local RTMP server on an internal
 * path, so the transcoder always reads `rtmp://127.0.0.1:{port}/live/{streamId}`.
 *
 * This file is the `MediaServer` facade (listen, configure, events); RTMP connections are in
 * rtmp-sessions.ts, SRT listeners and pulls in relays.ts, track detection in tracks.ts.
 */
import { createServer, type Server } from "node:net";
import { type Logger, SAFE_ID } from "@dionysia/shared";
import { type AccessPolicyOptions, createAccessPolicy } from "../../auth/access.ts";
import { signRelayToken } from "../../auth/relay-token.ts";
import type { KeyAuthority, MediaServer, MediaStreamSpec, PublishEvent, UnpublishEvent } from "../types.ts";
import { routeNmsLogs } from "./nms.ts";
import { InputRelays } from "./relays.ts";
import { LIVE_APP, RELAY_APP, RtmpSessions } from "./rtmp-sessions.ts";
import type { TrackWatchOptions } from "./tracks.ts";

export interface EmbeddedMediaServerOptions {
  authority: KeyAuthority;
  logger: Logger;
  /** RTMP listen port (default 1935; 0 picks a free port). */
  rtmpPort?: number;
  /** Listen address for RTMP and SRT (default 0.0.0.0). */
  bindHost?: string;
  /** Host name announced in ingest URLs (default 127.0.0.1). */
  publicHost?: string;
  /** UDP ports for per-stream SRT listeners (default 10000-10100). */
  srtPortRange?: { from: number; to: number };
  /** HMAC secret for relay tokens; without it peers cannot read (only loopback can). */
  relaySecret?: string;
  /** Counts refused publishes by reason (`dionysia_origin_publish_rejected_total`). */
  publishRejected?: AccessPolicyOptions["rejected"];
  /** Wrong stream keys per source address (default 20 a minute). */
  keyFailures?: AccessPolicyOptions["keyFailures"];
  ffmpegPath?: string;
  /** Pull restart back-off (default 500 ms doubling to 30 s). */
  pullBackoff?: { initialMs?: number; maxMs?: number };
  /** An RTMP connection with no traffic for this long is closed (default 30 s). */
  idleTimeoutMs?: number;
  /**
   * onPublish waits until the publisher's tracks are known from its FLV stream (metadata and first
   * packets): at most `settleMs` after the first media packet (default 300), `maxWaitMs` in all
   * (default 3000; then the event has no `tracks` and the supervisor probes).
   */
  trackWait?: TrackWatchOptions;
}

export class EmbeddedMediaServer implements MediaServer {
  readonly kind = "embedded" as const;
  private readonly log: Logger;
  private server: Server | undefined;
  private port = 0;
  private specs = new Map<string, MediaStreamSpec>();
  private readonly relays: InputRelays;
  private readonly sessions: RtmpSessions;
  private readonly publishCbs = new Set<(e: PublishEvent) => void>();
  private readonly unpublishCbs = new Set<(e: UnpublishEvent) => void>();
  private configuring: Promise<void> = Promise.resolve();
  private stopping = false;

  constructor(private readonly o: EmbeddedMediaServerOptions) {
    this.log = o.logger.child({ component: "media-embedded" });
    const nmsLog = this.log.child({ component: "node-media-server" });
    routeNmsLogs((level, message) => {
      if (level === "error" || level === "warn") nmsLog.debug({ nmsLevel: level }, message);
      else nmsLog.trace(message);
    });
    this.relays = new InputRelays({
      logger: this.log,
      rtmpPort: () => this.port,
      ...(o.bindHost ? { bindHost: o.bindHost } : {}),
      ...(o.srtPortRange ? { srtPortRange: o.srtPortRange } : {}),
      ...(o.ffmpegPath ? { ffmpegPath: o.ffmpegPath } : {}),
      ...(o.pullBackoff ? { pullBackoff: o.pullBackoff } : {}),
    });
    const access = createAccessPolicy({
      authority: o.authority,
      logger: this.log,
      isPublishing: (id) => this.sessions.isPublishing(id),
      ...(o.relaySecret ? { relaySecret: o.relaySecret } : {}),
      ...(o.publishRejected ? { rejected: o.publishRejected } : {}),
      ...(o.keyFailures ? { keyFailures: o.keyFailures } : {}),
    });
    this.sessions = new RtmpSessions({
      logger: this.log,
      access,
      ...(o.idleTimeoutMs !== undefined ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
      ...(o.trackWait ? { trackWait: o.trackWait } : {}),
      isStopping: () => this.stopping,
      hasSpec: (id) => this.specs.has(id),
      internalPublisher: (nonce) => this.relays.internalPublisher(nonce),
      inputUrl: (id) => `rtmp://127.0.0.1:${this.port}/${LIVE_APP}/${id}`,
      emitPublish: (e) => this.emit(this.publishCbs, e),
      emitUnpublish: (e) => this.emit(this.unpublishCbs, e),
    });
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((socket) => this.sessions.accept(socket));
    server.on("error", (err) => this.log.error({ err: err.message }, "RTMP server error"));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.o.rtmpPort ?? 1935, this.o.bindHost ?? "0.0.0.0", () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
    const addr = server.address();
    this.port = typeof addr === "object" && addr ? addr.port : (this.o.rtmpPort ?? 1935);
    this.log.info({ port: this.port }, "embedded RTMP server listening");
  }

  /** The bound RTMP port (useful when started with port 0). */
  rtmpPort(): number {
    return this.port;
  }

  /** UDP port of the SRT listener for a stream, to announce in its status. */
  srtPort(streamId: string): number | undefined {
    return this.relays.srtPort(streamId);
  }

  /** Why the stream's input listener is not running (e.g. its SRT port is taken), if it is not. */
  inputError(streamId: string): string | undefined {
    return this.relays.inputError(streamId);
  }

  /** Pids of the ffmpeg relays running now (diagnostics, tests). */
  processes(): number[] {
    return this.relays.pids();
  }

  /** The URL a peer node reads this node's stream from (overflow transcoding). */
  relayUrlFor(streamId: string, ttlSec = 3600): string | undefined {
    if (!this.o.relaySecret) return undefined;
    return `rtmp://${this.o.publicHost ?? "127.0.0.1"}:${this.port}/${RELAY_APP}/${streamId}?token=${signRelayToken(this.o.relaySecret, streamId, ttlSec)}`;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.configuring.catch(() => undefined);
    await this.relays.stop();
    const server = this.server;
    this.server = undefined;
    this.sessions.closeAll();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    this.stopping = false;
  }

  configure(streams: MediaStreamSpec[]): Promise<void> {
    const next = this.configuring.then(() => this.reconcile(streams));
    this.configuring = next.catch((err) => {
      this.log.error({ err: (err as Error).message }, "configure failed");
    });
    return next;
  }

  onPublish(cb: (e: PublishEvent) => void): () => void {
    this.publishCbs.add(cb);
    return () => this.publishCbs.delete(cb);
  }

  onUnpublish(cb: (e: UnpublishEvent) => void): () => void {
    this.unpublishCbs.add(cb);
    return () => this.unpublishCbs.delete(cb);
  }

  active(): PublishEvent[] {
    return this.sessions.active();
  }

  endpoints() {
    const host = this.o.publicHost ?? "127.0.0.1";
    const range = this.o.srtPortRange ?? { from: 10000, to: 10100 };
    return {
      rtmp: `rtmp://${host}:${this.port}/${LIVE_APP}`,
      srt: `${host}:${range.from}-${range.to}`,
      ...(this.o.relaySecret ? { relay: `rtmp://${host}:${this.port}/${RELAY_APP}` } : {}),
    };
  }

  ingressBytes(): number {
    return this.sessions.ingressBytes();
  }

  private async reconcile(streams: MediaStreamSpec[]): Promise<void> {
    if (this.stopping) return;
    this.specs = new Map(streams.filter((s) => SAFE_ID.test(s.id)).map((s) => [s.id, s]));
    await this.relays.reconcile(this.specs.values());
  }

  private emit<E>(cbs: Set<(e: E) => void>, e: E): void {
    for (const cb of cbs) {
      try {
        cb(e);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, "media event listener failed");
      }
    }
  }
}

export function createEmbeddedMediaServer(o: EmbeddedMediaServerOptions): EmbeddedMediaServer {
  return new EmbeddedMediaServer(o);
}
