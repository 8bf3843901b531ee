/**
 * The embedded media server: RTMP through node-media-server's protocol code in-process, SRT
 * through one ffmpeg listener per stream (protected by the stream's passphrase), pull inputs
 * through ffmpeg. SRT listeners and pulls re-publish into the local RTMP server on an internal
 * path, so the transcoder always reads `rtmp://127.0.0.1:{port}/live/{streamId}`.
 *
 * Publish: the key is checked (KeyAuthority) before the server answers `Publish.Start`; nothing
 * is registered for a refused key. Read: loopback only on `live/{id}`; peers read
 * `relay/{id}?token=...` with an HMAC token (ADR 0031).
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { type Logger, SAFE_ID, sha256Hex } from "@dionysia/shared";
import { signRelayToken, verifyRelayToken } from "../../auth/relay-token.ts";
import { isLoopback } from "../net.ts";
import type {
  IngestProtocol,
  KeyAuthority,
  MediaServer,
  MediaStreamSpec,
  PublishEvent,
  UnpublishEvent,
} from "../types.ts";
import { pullArgs, srtListenerArgs } from "./ffmpeg-args.ts";
import { type NmsSession, RtmpSession, routeNmsLogs } from "./nms.ts";
import { pickUdpPort } from "./ports.ts";
import { RelayProcess } from "./relay-process.ts";
import { TrackWatch, type TrackWatchOptions } from "./tracks.ts";

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

const INTERNAL_APP = "internal";
const LIVE_APP = "live";
const RELAY_APP = "relay";

interface Relay {
  kind: "srt" | "pull";
  /** Changes when the spec changes in a way that needs a restart. */
  sig: string;
  proc: RelayProcess;
  port?: number;
  nonce?: string;
}

interface Active {
  event: PublishEvent;
  session: NmsSession;
  /** onPublish has fired (tracks known or given up on); until then the stream is not `active()`. */
  announced: boolean;
  watch?: TrackWatch;
}

function splitName(streamName: string): { name: string; query: URLSearchParams } {
  const i = streamName.indexOf("?");
  if (i < 0) return { name: streamName, query: new URLSearchParams() };
  return { name: streamName.slice(0, i), query: new URLSearchParams(streamName.slice(i + 1)) };
}

export class EmbeddedMediaServer implements MediaServer {
  readonly kind = "embedded" as const;
  private readonly log: Logger;
  private server: Server | undefined;
  private port = 0;
  private readonly sockets = new Set<Socket>();
  private specs = new Map<string, MediaStreamSpec>();
  private readonly relays = new Map<string, Relay>();
  /** Internal publish tokens of our own ffmpeg relays: nonce -> what it publishes. */
  private readonly internal = new Map<
    string,
    { streamId: string; protocol: IngestProtocol; remoteAddr?: string }
  >();
  private readonly live = new Map<string, Active>();
  /** Publishers whose tracks are still being read from the stream. */
  private readonly watches = new Map<NmsSession, TrackWatch>();
  private readonly publishCbs = new Set<(e: PublishEvent) => void>();
  private readonly unpublishCbs = new Set<(e: UnpublishEvent) => void>();
  private ingress = 0;
  private configuring: Promise<void> = Promise.resolve();
  private stopping = false;

  constructor(private readonly o: EmbeddedMediaServerOptions) {
    this.log = o.logger.child({ component: "media-embedded" });
    const nmsLog = this.log.child({ component: "node-media-server" });
    routeNmsLogs((level, message) => {
      if (level === "error" || level === "warn") nmsLog.debug({ nmsLevel: level }, message);
      else nmsLog.trace(message);
    });
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((socket) => this.accept(socket));
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
    return this.relays.get(streamId)?.port;
  }

  /** Pids of the ffmpeg relays running now (diagnostics, tests). */
  processes(): number[] {
    return [...this.relays.values()].map((r) => r.proc.pid).filter((p): p is number => p !== undefined);
  }

  /** The URL a peer node reads this node's stream from (overflow transcoding). */
  relayUrlFor(streamId: string, ttlSec = 3600): string | undefined {
    if (!this.o.relaySecret) return undefined;
    return `rtmp://${this.o.publicHost ?? "127.0.0.1"}:${this.port}/${RELAY_APP}/${streamId}?token=${signRelayToken(this.o.relaySecret, streamId, ttlSec)}`;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.configuring.catch(() => undefined);
    await Promise.all([...this.relays.values()].map((r) => r.proc.stop()));
    this.relays.clear();
    this.internal.clear();
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    for (const w of this.watches.values()) w.cancel();
    this.watches.clear();
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
    return [...this.live.values()].filter((a) => a.announced).map((a) => a.event);
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
    return this.ingress;
  }

  // ---- desired state -------------------------------------------------------------------------

  private async reconcile(streams: MediaStreamSpec[]): Promise<void> {
    if (this.stopping) return;
    this.specs = new Map(streams.filter((s) => SAFE_ID.test(s.id)).map((s) => [s.id, s]));
    const want = new Map<string, { kind: "srt" | "pull"; sig: string; spec: MediaStreamSpec }>();
    for (const s of this.specs.values()) {
      const src = s.pullFrom ?? s.source ?? undefined;
      if (src) want.set(s.id, { kind: "pull", sig: `pull|${sha256Hex(src)}`, spec: s });
      else if (s.srtPassphrase)
        want.set(s.id, { kind: "srt", sig: `srt|${sha256Hex(s.srtPassphrase)}`, spec: s });
    }
    for (const [id, r] of this.relays) {
      if (want.get(id)?.sig === r.sig) continue;
      this.relays.delete(id);
      if (r.nonce) this.internal.delete(r.nonce);
      await r.proc.stop();
      this.log.info({ streamId: id, kind: r.kind }, "input relay stopped");
    }
    for (const [id, w] of want) {
      if (this.relays.has(id)) continue;
      if (w.kind === "pull") this.startPull(w.spec, w.sig);
      else await this.startSrt(w.spec, w.sig);
    }
  }

  private internalUrl(relay: Relay, streamId: string, protocol: IngestProtocol, remoteAddr?: string): string {
    if (relay.nonce) this.internal.delete(relay.nonce);
    const nonce = randomBytes(18).toString("base64url");
    relay.nonce = nonce;
    this.internal.set(nonce, { streamId, protocol, ...(remoteAddr ? { remoteAddr } : {}) });
    return `rtmp://127.0.0.1:${this.port}/${INTERNAL_APP}/${streamId}?t=${nonce}`;
  }

  private startPull(spec: MediaStreamSpec, sig: string): void {
    const source = (spec.pullFrom ?? spec.source)!;
    let host: string | undefined;
    try {
      host = new URL(source).host;
    } catch {
      host = undefined;
    }
    const log = this.log.child({ streamId: spec.id, kind: "pull" });
    const relay: Relay = { kind: "pull", sig, proc: undefined as unknown as RelayProcess };
    relay.proc = new RelayProcess({
      ffmpegPath: this.o.ffmpegPath ?? "ffmpeg",
      logger: log,
      initialBackoffMs: this.o.pullBackoff?.initialMs ?? 500,
      maxBackoffMs: this.o.pullBackoff?.maxMs ?? 30_000,
      args: () => pullArgs({ source, internalUrl: this.internalUrl(relay, spec.id, "pull", host) }),
    });
    this.relays.set(spec.id, relay);
    relay.proc.start();
    log.info({ sourceHost: host }, "pull input started");
  }

  private async startSrt(spec: MediaStreamSpec, sig: string): Promise<void> {
    const reserved = new Set([...this.relays.values()].map((r) => r.port).filter((p): p is number => !!p));
    const range = this.o.srtPortRange ?? { from: 10000, to: 10100 };
    const port = await pickUdpPort(range, reserved);
    const log = this.log.child({ streamId: spec.id, kind: "srt" });
    if (port === undefined) {
      log.error({ range }, "no free UDP port left for an SRT listener");
      return;
    }
    const passphrase = spec.srtPassphrase!;
    const relay: Relay = { kind: "srt", sig, port, proc: undefined as unknown as RelayProcess };
    relay.proc = new RelayProcess({
      ffmpegPath: this.o.ffmpegPath ?? "ffmpeg",
      logger: log,
      // A listener that ran at all was waiting for or serving a publisher: restart it at once.
      healthyAfterMs: 1000,
      initialBackoffMs: 500,
      maxBackoffMs: 10_000,
      args: () =>
        srtListenerArgs({
          port,
          passphrase,
          bind: this.o.bindHost ?? "0.0.0.0",
          internalUrl: this.internalUrl(relay, spec.id, "srt"),
        }),
    });
    this.relays.set(spec.id, relay);
    relay.proc.start();
    log.info({ port }, "SRT listener started");
  }

  // ---- RTMP sessions -------------------------------------------------------------------------

  private accept(socket: Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    const session = new RtmpSession(socket);
    const rtmp = session.rtmp;
    rtmp.onConnectCallback = session.onConnect;
    rtmp.onPlayCallback = session.onPlay;
    rtmp.onPushCallback = session.onPush;
    rtmp.onOutputCallback = session.onOutput;
    rtmp.onPacketCallback = (packet) => {
      session.onPacket(packet);
      this.watches.get(session)?.packet(packet);
    };
    // Publish and play are decided here, before node-media-server registers anything.
    let decided = false;
    rtmp.onPublish = (msg) => {
      if (decided) return void socket.destroy();
      decided = true;
      void this.handlePublish(session, msg.streamName).catch((err) => {
        this.log.error({ err: (err as Error).message }, "publish handling failed");
        socket.destroy();
      });
    };
    rtmp.onPlay = (msg) => {
      if (decided) return void socket.destroy();
      decided = true;
      this.handlePlay(session, msg.streamName);
    };
    socket.on("data", (data: Buffer) => {
      if (session.isPublisher) this.ingress += data.length;
      try {
        session.onData(data);
      } catch (err) {
        // Junk that trips the parser costs the connection, never the process.
        this.log.debug({ err: (err as Error).message, remoteAddr: socket.remoteAddress }, "bad RTMP data");
        socket.destroy();
      }
    });
    socket.on("error", (err) => this.log.debug({ err: err.message }, "RTMP socket error"));
    socket.on("close", () => {
      this.sockets.delete(socket);
      try {
        session.onClose();
      } catch (err) {
        this.log.debug({ err: (err as Error).message }, "RTMP session close failed");
      }
      this.closed(session);
    });
    socket.setTimeout(this.o.idleTimeoutMs ?? 30_000, () => socket.destroy());
  }

  private async handlePublish(session: NmsSession, streamName: string): Promise<void> {
    const { socket, rtmp } = session;
    const streamNum = rtmp.parserPacket.header.stream_id;
    const app = rtmp.streamApp;
    const remoteAddr = socket.remoteAddress;
    const { name, query } = splitName(streamName);
    // Nothing from this client is read until the key is decided.
    socket.pause();
    let accepted: PublishEvent | null = null;
    if (app === INTERNAL_APP) {
      const entry = this.internal.get(query.get("t") ?? "");
      if (entry && entry.streamId === name && isLoopback(remoteAddr)) {
        accepted = {
          streamId: entry.streamId,
          protocol: entry.protocol,
          inputUrl: this.inputUrl(entry.streamId),
          ...(entry.remoteAddr ? { remoteAddr: entry.remoteAddr } : {}),
        };
      }
    } else if (app === LIVE_APP) {
      const auth = await this.o.authority.authorize({
        streamKey: name,
        protocol: "rtmp",
        ...(remoteAddr ? { remoteAddr } : {}),
      });
      if (auth) {
        const known = this.specs.has(auth.streamId);
        accepted = {
          streamId: auth.streamId,
          protocol: "rtmp",
          inputUrl: this.inputUrl(auth.streamId),
          ...(remoteAddr ? { remoteAddr } : {}),
          ...(known ? {} : { profile: auth.profile, keyHash: auth.keyHash }),
        };
      }
    }
    if (socket.destroyed || this.stopping) return;
    if (!accepted) {
      this.log.warn({ remoteAddr, app }, "publish rejected: invalid stream key");
      socket.destroy();
      return;
    }
    const streamId = accepted.streamId;
    if (this.live.has(streamId)) {
      this.log.warn({ streamId, remoteAddr }, "publish rejected: stream already has a publisher");
      socket.destroy();
      return;
    }
    rtmp.streamName = streamId;
    rtmp.streamQuery = {};
    rtmp.streamId = streamNum;
    rtmp.respondPublish();
    rtmp.onConnectCallback({ app: LIVE_APP, name: streamId, host: rtmp.streamHost, query: {} });
    // A publisher that leaves ends the stream now; we do not hold it open for a resume.
    session.broadcast.publishGraceMs = 0;
    rtmp.onPushCallback();
    if (!session.isPublisher) {
      socket.destroy();
      return;
    }
    const active: Active = { event: accepted, session, announced: false };
    const startedAt = Date.now();
    active.watch = new TrackWatch((tracks) => this.announce(active, tracks, startedAt), this.o.trackWait);
    this.watches.set(session, active.watch);
    this.live.set(streamId, active);
    socket.resume();
    this.log.info({ streamId, protocol: accepted.protocol, remoteAddr }, "publish started");
  }

  /** onPublish, once the publisher's tracks are known (or could not be told in time). */
  private announce(active: Active, tracks: PublishEvent["tracks"], startedAt: number): void {
    this.watches.delete(active.session);
    active.watch = undefined;
    const { streamId } = active.event;
    if (this.live.get(streamId) !== active || this.stopping) return;
    if (tracks) active.event = { ...active.event, tracks };
    active.announced = true;
    this.log.info(
      { streamId, tracks: tracks ?? "unknown", waitedMs: Date.now() - startedAt },
      "input tracks",
    );
    const e = active.event;
    for (const cb of this.publishCbs) this.safe(() => cb(e));
  }

  private handlePlay(session: NmsSession, streamName: string): void {
    const { socket, rtmp } = session;
    const app = rtmp.streamApp;
    const { name, query } = splitName(streamName);
    const remoteAddr = socket.remoteAddress;
    let ok = false;
    // Only streams this node carries can be read: no waiting readers on arbitrary names.
    if (SAFE_ID.test(name) && (this.live.has(name) || this.specs.has(name))) {
      if (app === LIVE_APP) ok = isLoopback(remoteAddr);
      else if (app === RELAY_APP) ok = verifyRelayToken(this.o.relaySecret, name, query.get("token"));
    }
    if (!ok) {
      this.log.warn({ remoteAddr, app }, "read refused");
      socket.destroy();
      return;
    }
    rtmp.streamName = name;
    rtmp.streamQuery = {};
    rtmp.streamId = rtmp.parserPacket.header.stream_id;
    rtmp.respondPlay();
    rtmp.onConnectCallback({ app: LIVE_APP, name, host: rtmp.streamHost, query: {} });
    rtmp.onPlayCallback();
    this.log.debug({ streamId: name, remoteAddr, relay: app === RELAY_APP }, "reader attached");
  }

  private closed(session: NmsSession): void {
    for (const [streamId, a] of this.live) {
      if (a.session !== session) continue;
      this.live.delete(streamId);
      a.watch?.cancel();
      this.watches.delete(session);
      // Readers (the transcoder, relay peers) get EOF rather than a silent socket.
      for (const sub of session.broadcast.subscribers.values()) this.safe(() => sub.close());
      this.log.info({ streamId, protocol: a.event.protocol }, "publish ended");
      // Never announced, never unannounced: listeners only hear of publishes they were told of.
      if (!a.announced) continue;
      const e: UnpublishEvent = { streamId, reason: "publisher disconnected" };
      for (const cb of this.unpublishCbs) this.safe(() => cb(e));
    }
  }

  private inputUrl(streamId: string): string {
    return `rtmp://127.0.0.1:${this.port}/${LIVE_APP}/${streamId}`;
  }

  private safe(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "media event listener failed");
    }
  }
}

export function createEmbeddedMediaServer(o: EmbeddedMediaServerOptions): EmbeddedMediaServer {
  return new EmbeddedMediaServer(o);
}
