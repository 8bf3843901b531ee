/**
 * The media server contract: the origin talks to mediamtx (production) or to the embedded
 * server (node-media-server RTMP + ffmpeg SRT listeners + ffmpeg pull relays) through this
 * interface only. The same behaviour tests run against whichever implementation is present.
 */
import type { NodeIngestEndpoints, ProfileSpec } from "@dionysia/shared";
import type { PublishDecision } from "../auth/publish-refusal.ts";

export type IngestProtocol = "rtmp" | "srt" | "rtsp" | "webrtc" | "pull";

/** What the media server must accept or pull for one stream (derived from the desired state). */
export interface MediaStreamSpec {
  id: string;
  /** SHA-256 hex of the stream key: a publish is accepted locally when its key hashes to this. */
  keyHash: string;
  /** Embedded SRT: the listener for this stream is protected by this passphrase. */
  srtPassphrase?: string;
  /**
   * Embedded SRT: the listener's UDP port, assigned once by control (desired state `srtPort`), so
   * the ingest URL never moves. Absent: a port from SRT_PORT_RANGE, kept while the listener lives.
   */
  srtPort?: number;
  /** Pull input (rtsp/rtmp/srt/http HLS): the media server pulls it with reconnect and back-off. */
  source?: string | null;
  /** Overflow transcoding: pull the stream from a peer node's relay URL. */
  pullFrom?: string;
  profile: ProfileSpec;
}

export interface PublishEvent {
  streamId: string;
  protocol: IngestProtocol;
  remoteAddr?: string;
  /**
   * Local URL the transcoder reads the live input from. May embed a secret (stream key,
   * passphrase): never log it.
   */
  inputUrl: string;
  /** Profile, when the publish was authorized by control for a stream not yet in the desired state. */
  profile?: ProfileSpec;
  /** Key hash of the authorized stream (lets the node treat it as desired until MQTT catches up). */
  keyHash?: string;
  /**
   * Tracks the media server has already seen in the input (embedded RTMP: parsed from the FLV
   * metadata and first packets). Absent when unknown: the supervisor then probes the input.
   */
  tracks?: InputTracks;
}

export interface InputTracks {
  video: boolean;
  audio: boolean;
  /** Video frames per second as the publisher declared them (onMetaData), when it did. */
  frameRate?: number;
}

export interface UnpublishEvent {
  streamId: string;
  reason: string;
}

export interface MediaServer {
  readonly kind: "embedded" | "mediamtx";
  start(): Promise<void>;
  /** Stops listeners and every child process it started. */
  stop(): Promise<void>;
  /** Replaces the set of streams this node accepts or pulls (declarative, idempotent). */
  configure(streams: MediaStreamSpec[]): Promise<void>;
  onPublish(cb: (e: PublishEvent) => void): () => void;
  onUnpublish(cb: (e: UnpublishEvent) => void): () => void;
  /** Streams with a live input right now. */
  active(): PublishEvent[];
  /** Ingest endpoints to announce (rtmp://host:port/live, SRT port range, relay URL...). */
  endpoints(): NodeIngestEndpoints;
  /** Bytes received from publishers/pulls since start (for ingress bit rate). */
  ingressBytes(): number;
}

/** Decides whether a stream key may publish on this node, and if not, why. Fail closed. */
export interface KeyAuthority {
  authorize(req: {
    streamKey: string;
    protocol: IngestProtocol;
    remoteAddr?: string;
    /** Check the local desired state only, never control (the address is over its failure limit). */
    localOnly?: boolean;
  }): Promise<PublishDecision>;
}
