/**
 * RTMP connections of the embedded server, through node-media-server's session code: the access
 * policy (auth/access.ts) decides before `Publish.Start` is answered, a refusal is answered with an
 * onStatus error that names the reason (ffmpeg prints `Server error: <description>`, OBS shows it),
 * the publish is renamed to `live/{streamId}`, onPublish waits for the publisher's tracks
 * (tracks.ts), and reads go through the same policy (ADR 0030, 0031, 0033).
 */
import type { Socket } from "node:net";
import { type Logger, SAFE_ID } from "@dionysia/shared";
import type { AccessPolicy } from "../../auth/access.ts";
import { describeRefusal, type PublishRefusal } from "../../auth/publish-refusal.ts";
import { isLoopback } from "../net.ts";
import type { PublishEvent, UnpublishEvent } from "../types.ts";
import { type NmsSession, RtmpSession } from "./nms.ts";
import { INTERNAL_APP, type InternalPublisher } from "./relays.ts";
import { TrackWatch, type TrackWatchOptions } from "./tracks.ts";

export const LIVE_APP = "live";
export const RELAY_APP = "relay";

/** How long a refused client gets to read the onStatus error and hang up before we cut it. */
const REFUSAL_LINGER_MS = 2000;

/**
 * The onStatus a refused publish gets. BadName is Adobe's code for a wrong stream name (the key is
 * the name here) and for a stream already being published; the rest are denials whose description
 * says why.
 */
export function refusalStatus(reason: PublishRefusal | "bad_app"): { code: string; description: string } {
  if (reason === "bad_app")
    return { code: "NetStream.Publish.BadName", description: "publish to rtmp://<host>/live/<stream key>" };
  const code =
    reason === "wrong_key" || reason === "already_live"
      ? "NetStream.Publish.BadName"
      : "NetStream.Publish.Denied";
  return { code, description: describeRefusal(reason) };
}

export interface RtmpSessionsOptions {
  logger: Logger;
  access: AccessPolicy;
  idleTimeoutMs?: number;
  trackWait?: TrackWatchOptions;
  isStopping: () => boolean;
  /** Whether the desired state has this stream (else the publish carries control's profile). */
  hasSpec: (streamId: string) => boolean;
  internalPublisher: (nonce: string) => InternalPublisher | undefined;
  inputUrl: (streamId: string) => string;
  emitPublish: (e: PublishEvent) => void;
  emitUnpublish: (e: UnpublishEvent) => void;
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

export class RtmpSessions {
  private readonly log: Logger;
  private readonly sockets = new Set<Socket>();
  private readonly live = new Map<string, Active>();
  /** Publishers whose tracks are still being read from the stream. */
  private readonly watches = new Map<NmsSession, TrackWatch>();
  private ingress = 0;

  constructor(private readonly o: RtmpSessionsOptions) {
    this.log = o.logger;
  }

  /** Announced publishes (onPublish fired). */
  active(): PublishEvent[] {
    return [...this.live.values()].filter((a) => a.announced).map((a) => a.event);
  }

  /** Bytes received from publishers since start. */
  ingressBytes(): number {
    return this.ingress;
  }

  /** Drops every connection and pending track watch (server stopping). */
  closeAll(): void {
    for (const s of this.sockets) s.destroy();
    for (const w of this.watches.values()) w.cancel();
    this.watches.clear();
  }

  /** Whether a publisher holds the stream now (announced or still being looked at). */
  isPublishing(streamId: string): boolean {
    return this.live.has(streamId);
  }

  /** Takes over a new TCP connection. */
  accept(socket: Socket): void {
    if (this.o.isStopping()) {
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
      void this.handlePlay(session, msg.streamName).catch((err) => {
        this.log.error({ err: (err as Error).message }, "play handling failed");
        socket.destroy();
      });
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
    let refusal: PublishRefusal | "bad_app" = "bad_app";
    if (app === INTERNAL_APP) {
      const entry = this.o.internalPublisher(query.get("t") ?? "");
      if (entry && entry.streamId === name && isLoopback(remoteAddr)) {
        accepted = {
          streamId: entry.streamId,
          protocol: entry.protocol,
          inputUrl: this.o.inputUrl(entry.streamId),
          ...(entry.remoteAddr ? { remoteAddr: entry.remoteAddr } : {}),
        };
      }
    } else if (app === LIVE_APP) {
      const d = await this.o.access.authorize({
        action: "publish",
        streamKey: name,
        protocol: "rtmp",
        ...(remoteAddr ? { remoteAddr } : {}),
      });
      if (d.ok) {
        const known = this.o.hasSpec(d.streamId);
        accepted = {
          streamId: d.streamId,
          protocol: "rtmp",
          inputUrl: this.o.inputUrl(d.streamId),
          ...(remoteAddr ? { remoteAddr } : {}),
          ...(known ? {} : { profile: d.profile, keyHash: d.keyHash }),
        };
      } else refusal = d.reason;
    }
    if (socket.destroyed || this.o.isStopping()) return;
    if (!accepted) {
      // The access policy logged and counted its refusals; an unknown app or a forged internal
      // publish never reached it.
      if (app !== LIVE_APP) this.log.warn({ remoteAddr, app }, "publish rejected: not a live/{key} publish");
      this.refusePublish(session, streamNum, refusal);
      return;
    }
    const streamId = accepted.streamId;
    // Also catches two publishers of one key racing through the (async) key check.
    if (this.live.has(streamId)) {
      this.o.access.rejected({
        reason: "already_live",
        protocol: accepted.protocol,
        streamId,
        ...(accepted.remoteAddr ? { remoteAddr: accepted.remoteAddr } : {}),
        detail: "a publisher is already connected here",
      });
      this.refusePublish(session, streamNum, "already_live");
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
    if (this.live.get(streamId) !== active || this.o.isStopping()) return;
    if (tracks) active.event = { ...active.event, tracks };
    active.announced = true;
    this.log.info(
      { streamId, tracks: tracks ?? "unknown", waitedMs: Date.now() - startedAt },
      "input tracks",
    );
    const e = active.event;
    this.o.emitPublish(e);
  }

  /** Answers the publish with an onStatus error, then closes once the client had time to read it. */
  private refusePublish(session: NmsSession, streamNum: number, reason: PublishRefusal | "bad_app"): void {
    const { socket, rtmp } = session;
    const { code, description } = refusalStatus(reason);
    try {
      rtmp.sendStatusMessage(streamNum, "error", code, description);
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, "could not send the refusal");
    }
    // end() flushes the answer first; a client that does not hang up is cut after the linger.
    socket.end();
    const timer = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
    socket.once("close", () => clearTimeout(timer));
  }

  private async handlePlay(session: NmsSession, streamName: string): Promise<void> {
    const { socket, rtmp } = session;
    const app = rtmp.streamApp;
    const { name, query } = splitName(streamName);
    const remoteAddr = socket.remoteAddress;
    const streamNum = rtmp.parserPacket.header.stream_id;
    let ok = false;
    // Only streams this node carries can be read: no waiting readers on arbitrary names.
    if (
      (app === LIVE_APP || app === RELAY_APP) &&
      SAFE_ID.test(name) &&
      (this.live.has(name) || this.o.hasSpec(name))
    ) {
      socket.pause();
      const d = await this.o.access.authorize({
        action: "read",
        path: `${app}/${name}`,
        token: query.get("token"),
        ...(remoteAddr ? { remoteAddr } : {}),
      });
      ok = d.ok;
      if (socket.destroyed) return;
      socket.resume();
    } else {
      this.log.warn({ remoteAddr, app }, "read refused: no such stream here");
    }
    if (!ok) {
      socket.destroy();
      return;
    }
    rtmp.streamName = name;
    rtmp.streamQuery = {};
    rtmp.streamId = streamNum;
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
      this.o.emitUnpublish(e);
    }
  }

  private safe(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "media event listener failed");
    }
  }
}
