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
  onPacketCallback: (packet: NmsPacket) => void;
  onOutputCallback: (buf: Buffer) => void;
  onPublish: (invokeMessage: { streamName: string }) => void;
  onPlay: (invokeMessage: { streamName: string }) => void;
  respondPublish(): void;
  /** `onStatus` on a message stream; level "error" makes ffmpeg print `Server error: <description>`. */
  sendStatusMessage(sid: number, level: "status" | "error", code: string, description: string): void;
  respondPlay(): void;
}

/** node-media-server's parsed FLV tag (core/avpacket.js). */
export interface NmsPacket {
  /** FLV tag type: 8 audio, 9 video, 18 script data. */
  codec_type: number;
  codec_id: number;
  /** 0 audio header, 1 audio frame, 2 video header, 3 keyframe, 4 frame, 5 metadata, 6 HDR. */
  flags: number;
  data: Buffer;
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
  onPacket: (packet: NmsPacket) => void;
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

/** AMF0 data message decoder: `@setDataFrame`/`onMetaData` give `dataObj`. */
export const decodeAmf0Data: (buf: Buffer) => { cmd?: string; dataObj?: Record<string, unknown> | null } =
  require("node-media-server/src/protocol/amf.js").decodeAmf0Data;

const nmsLogger: {
  log: (message: string, level?: string) => void;
} = require("node-media-server/src/core/logger.js");

/** Routes node-media-server's console logger into ours (debug level: its lines are noisy). */
export function routeNmsLogs(sink: (level: string, message: string) => void): void {
  nmsLogger.log = (message: string, level = "info") => sink(level, message);
}
