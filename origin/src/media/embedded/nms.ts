/**
 * Typed access to the few node-media-server 4.4.3 internals the embedded RTMP server drives.
 * We use its RTMP protocol/session/broadcast code, not its NodeMediaServer class: that one also
 * starts an HTTP server, a JSON store under ./data, a rate sampler, and calls process.exit() when a
 * port is taken. Pinned version: these are internals (see ADR 0030).
 */

import type { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import type { Socket } from "node:net";

const require = createRequire(import.meta.url);

export interface NmsRtmp {
  streamApp: string;
  streamHost: string;
  streamName: string;
  streamQuery: Record<string, unknown>;
  streamId: number;
  parserPacket: { header: { stream_id: number } };
  onConnectCallback: (req: {
    app: string;
    name: string;
    host: string;
    query: Record<string, unknown>;
  }) => void;
  onPlayCallback: () => void;
  onPushCallback: () => void;
  onPacketCallback: (packet: unknown) => void;
  onOutputCallback: (buf: Buffer) => void;
  onPublish: (invokeMessage: { streamName: string }) => void;
  onPlay: (invokeMessage: { streamName: string }) => void;
  respondPublish(): void;
  respondPlay(): void;
}

export interface NmsBroadcast {
  streamPath: string;
  publisher: NmsSession | null;
  subscribers: Map<string, NmsSession>;
  publishGraceMs: number;
}

export interface NmsSession {
  id: string;
  ip: string;
  socket: Socket;
  rtmp: NmsRtmp;
  isPublisher: boolean;
  inBytes: number;
  streamPath: string;
  broadcast: NmsBroadcast;
  onConnect: NmsRtmp["onConnectCallback"];
  onPlay: () => void;
  onPush: () => void;
  onOutput: (buf: Buffer) => void;
  onPacket: (packet: unknown) => void;
  onData: (data: Buffer) => void;
  onClose: () => void;
  onError: (err: Error) => void;
  close: () => void;
}

export const RtmpSession: new (
  socket: Socket,
) => NmsSession = require("node-media-server/src/session/rtmp_session.js");

export const nmsContext: {
  broadcasts: Map<string, NmsBroadcast>;
  sessions: Map<string, NmsSession>;
  eventEmitter: EventEmitter;
  config: Record<string, unknown>;
} = require("node-media-server/src/core/context.js");

const nmsLogger: {
  log: (message: string, level?: string) => void;
} = require("node-media-server/src/core/logger.js");

/** Routes node-media-server's console logger into ours (debug level: its lines are noisy). */
export function routeNmsLogs(sink: (level: string, message: string) => void): void {
  nmsLogger.log = (message: string, level = "info") => sink(level, message);
}
