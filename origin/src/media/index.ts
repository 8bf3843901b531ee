/**
 * Media server factory: mediamtx when forced, configured or on PATH; the embedded server otherwise.
 */
import { join } from "node:path";
import { type ConfigOf, FailureLimiter, type Logger } from "@dionysia/shared";
import { deriveRelaySecret } from "../auth/relay-token.ts";
import type { mediaConfigSpec } from "./config.ts";
import { EmbeddedMediaServer } from "./embedded/index.ts";
import type { MediamtxAuthDeps } from "./mediamtx/auth.ts";
import { MediamtxMediaServer } from "./mediamtx/index.ts";
import type { KeyAuthority } from "./types.ts";

export { mediaConfigSpec } from "./config.ts";
export { EmbeddedMediaServer } from "./embedded/index.ts";
export { mediamtxAuthHandler } from "./mediamtx/auth.ts";
export { buildMediamtxConfig, MEDIAMTX_VERSION, renderMediamtxYaml } from "./mediamtx/config.ts";
export { MediamtxMediaServer } from "./mediamtx/index.ts";
export { isLoopback } from "./net.ts";
export type * from "./types.ts";

export type MediaConfig = ConfigOf<typeof mediaConfigSpec>;

export interface CreateMediaServerOptions {
  config: MediaConfig;
  authority: KeyAuthority;
  logger: Logger;
  /** Node key: relay tokens are derived from it unless RELAY_SECRET is set. */
  nodeKey?: string;
  ffmpegPath?: string;
  /** Counts refused publishes by reason (`dionysia_origin_publish_rejected_total`). */
  publishRejected?: MediamtxAuthDeps["publishRejected"];
  /** Embedded listen address when MEDIA_BIND_HOST is unset (the origin's ORIGIN_HOST). */
  defaultBindHost?: string;
}

/** Which implementation to run and, for mediamtx, which binary. Pure apart from the PATH lookup. */
export function chooseMediaServer(
  c: Pick<MediaConfig, "mediaServer" | "mediamtxBin" | "mediamtxApiUrl">,
  which: (bin: string) => string | null = (b) => Bun.which(b),
): { kind: "embedded" } | { kind: "mediamtx"; bin?: string; apiUrl?: string } {
  const bin = c.mediamtxBin ?? which("mediamtx") ?? undefined;
  if (c.mediaServer === "embedded") return { kind: "embedded" };
  if (c.mediaServer === "mediamtx" || c.mediamtxBin || c.mediamtxApiUrl || bin) {
    if (!bin && !c.mediamtxApiUrl)
      throw new Error(
        "MEDIA_SERVER=mediamtx but no mediamtx binary (MEDIAMTX_BIN/PATH) nor MEDIAMTX_API_URL",
      );
    return {
      kind: "mediamtx",
      ...(bin ? { bin } : {}),
      ...(c.mediamtxApiUrl ? { apiUrl: c.mediamtxApiUrl } : {}),
    };
  }
  return { kind: "embedded" };
}

export function createMediaServer(o: CreateMediaServerOptions): EmbeddedMediaServer | MediamtxMediaServer {
  const c = o.config;
  const relaySecret = c.relaySecret ?? (o.nodeKey ? deriveRelaySecret(o.nodeKey) : undefined);
  const choice = chooseMediaServer(c);
  const keyFailures = new FailureLimiter({
    limit: c.ingestKeyFailureLimit,
    windowMs: c.ingestKeyFailureWindowMs,
  });
  if (choice.kind === "mediamtx") {
    return new MediamtxMediaServer({
      authority: o.authority,
      logger: o.logger,
      configPath: c.mediamtxConfigPath || join(process.cwd(), "data", "mediamtx.yml"),
      publicHost: c.publicHost,
      ...(choice.bin && !choice.apiUrl ? { bin: choice.bin } : {}),
      ...(choice.apiUrl ? { apiUrl: choice.apiUrl } : {}),
      ...(relaySecret ? { relaySecret } : {}),
      ...(o.publishRejected ? { publishRejected: o.publishRejected } : {}),
      keyFailures,
      config: {
        authHttpAddress: c.mediamtxAuthUrl,
        rtmpPort: c.rtmpPort,
        rtspPort: c.rtspPort,
        srtPort: c.srtPort,
        webrtcPort: c.webrtcPort,
        apiPort: c.mediamtxApiPort,
      },
    });
  }
  return new EmbeddedMediaServer({
    authority: o.authority,
    logger: o.logger,
    rtmpPort: c.rtmpPort,
    bindHost: c.mediaBindHost ?? o.defaultBindHost ?? "0.0.0.0",
    publicHost: c.publicHost,
    srtPortRange: c.srtPortRange,
    pullBackoff: { maxMs: c.pullMaxBackoffMs },
    ...(relaySecret ? { relaySecret } : {}),
    ...(o.publishRejected ? { publishRejected: o.publishRejected } : {}),
    keyFailures,
    ...(o.ffmpegPath ? { ffmpegPath: o.ffmpegPath } : {}),
  });
}
