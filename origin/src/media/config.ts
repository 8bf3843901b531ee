/** Media server settings, spread into the origin's config spec. */
import { optional, v } from "@dionysia/shared";
import { ingestLimitConfigSpecs } from "../auth/config.ts";

export const mediaConfigSpec = {
  ...ingestLimitConfigSpecs,
  mediaServer: optional(
    v.enumOf("MEDIA_SERVER", ["embedded", "mediamtx"] as const, {
      doc: "Force the media server; default: mediamtx when MEDIAMTX_BIN/PATH/MEDIAMTX_API_URL has one, else embedded",
    }),
  ),
  publicHost: v.string("PUBLIC_HOST", {
    default: "127.0.0.1",
    doc: "Host name used in announced ingest and relay URLs",
  }),
  rtmpPort: v.port("RTMP_PORT", { default: 1935, doc: "RTMP ingest port (embedded server and mediamtx)" }),
  mediaBindHost: optional(
    v.string("MEDIA_BIND_HOST", {
      doc: "Listen address of the embedded RTMP and SRT listeners; default: ORIGIN_HOST",
    }),
  ),
  srtPortRange: v.portRange("SRT_PORT_RANGE", {
    default: { from: 10000, to: 10100 },
    doc: "Embedded server: UDP ports for per-stream SRT listeners (one per stream with a passphrase)",
  }),
  mediamtxBin: optional(
    v.string("MEDIAMTX_BIN", { doc: "Path of the mediamtx binary to run (else looked up on PATH)" }),
  ),
  mediamtxApiUrl: optional(
    v.url("MEDIAMTX_API_URL", {
      protocols: ["http", "https"],
      doc: "Attach to a mediamtx managed elsewhere (systemd): its control API URL",
    }),
  ),
  mediamtxConfigPath: v.string("MEDIAMTX_CONFIG", {
    default: "./data/mediamtx.yml",
    doc: "Where the origin writes mediamtx.yml when it runs mediamtx itself",
  }),
  mediamtxAuthUrl: v.url("MEDIAMTX_AUTH_URL", {
    default: "http://127.0.0.1:8090/internal/mediamtx/auth",
    doc: "The origin's auth endpoint as mediamtx reaches it (authHTTPAddress)",
  }),
  rtspPort: v.port("RTSP_PORT", { default: 8554, doc: "mediamtx RTSP port" }),
  srtPort: v.port("SRT_PORT", { default: 8890, doc: "mediamtx SRT port (streamid publish:live/{key})" }),
  webrtcPort: v.port("WEBRTC_PORT", { default: 8889, doc: "mediamtx WebRTC/WHIP HTTP port" }),
  mediamtxApiPort: v.port("MEDIAMTX_API_PORT", {
    default: 9997,
    doc: "mediamtx control API port (loopback)",
  }),
  relaySecret: optional(
    v.secret("RELAY_SECRET", {
      doc: "HMAC secret for peer relay tokens; default: derived from DIONYSIA_NODE_KEY (must match across nodes)",
    }),
  ),
  pullMaxBackoffMs: v.int("PULL_MAX_BACKOFF_MS", {
    default: 30000,
    min: 1000,
    doc: "Longest wait between pull retries",
  }),
};
