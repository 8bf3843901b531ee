/**
 * An origin node without its entry point: supervisor + HTTP server around a media server.
 * main.ts wires the real media server and the MQTT agent; tests wire a test media server.
 */
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Logger } from "@dionysia/shared";
import type { OriginConfig } from "./config.ts";
import { createOriginHttp, type OriginHttp, type RouteHandler } from "./http/index.ts";
import type { PlaybackGuard } from "./http/signed.ts";
import type { MediaServer } from "./media/types.ts";
import { createOriginMetrics, type OriginMetrics } from "./metrics/index.ts";
import { Supervisor, type SupervisorOptions } from "./supervisor/index.ts";
import { selectBackend } from "./transcoder/select.ts";
import type { TranscoderBackend } from "./transcoder/types.ts";

export interface OriginNodeDeps {
  mediaServer: MediaServer;
  logger: Logger;
  /** Override the back end chosen from config.transcoder. */
  backend?: TranscoderBackend;
  metrics?: OriginMetrics;
  extraRoutes?: Record<string, RouteHandler>;
  /** Signed playback (ADR 0060). */
  playback?: PlaybackGuard;
  supervisor?: Partial<Omit<SupervisorOptions, "dataDir" | "backend" | "mediaServer" | "logger" | "metrics">>;
}

export interface OriginNode {
  supervisor: Supervisor;
  metrics: OriginMetrics;
  /** Set once start() resolved. */
  readonly http: OriginHttp | undefined;
  readonly backend: TranscoderBackend | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createOriginNode(
  config: Pick<OriginConfig, "host" | "port" | "dataDir" | "transcoder" | "nodeId">,
  deps: OriginNodeDeps,
): OriginNode {
  const metrics = deps.metrics ?? createOriginMetrics();
  const dataDir = resolve(config.dataDir);
  let http: OriginHttp | undefined;
  let backend: TranscoderBackend | undefined = deps.backend;
  // The supervisor needs the back end at construction; resolve it lazily through a proxy object.
  const backendRef: TranscoderBackend = {
    get name() {
      return backend?.name ?? "ffmpeg";
    },
    available: () => backend!.available(),
    buildCommand: (job) => backend!.buildCommand(job),
    layout: (job) => backend!.layout(job),
  };
  const supervisor = new Supervisor({
    ...deps.supervisor,
    dataDir,
    backend: backendRef,
    mediaServer: deps.mediaServer,
    logger: deps.logger.child({ nodeId: config.nodeId }),
    metrics,
  });
  return {
    supervisor,
    metrics,
    get http() {
      return http;
    },
    get backend() {
      return backend;
    },
    async start() {
      backend ??= await selectBackend(config.transcoder, {
        logger: deps.logger.child({ nodeId: config.nodeId }),
      });
      deps.logger.info({ nodeId: config.nodeId, transcoder: backend.name }, "origin starting");
      // Playlists left by an earlier run describe streams this process is not transcoding:
      // a viewer routed here after a failover must get 404 until the new run is live, not stale media.
      rmSync(join(dataDir, "live"), { recursive: true, force: true });
      await deps.mediaServer.start();
      supervisor.start();
      http = createOriginHttp({
        dataDir,
        logger: deps.logger,
        metrics,
        hostname: config.host,
        port: config.port,
        extraRoutes: deps.extraRoutes,
        ...(deps.playback ? { playback: deps.playback } : {}),
        lowLatency: supervisor,
        health: () => ({
          nodeId: config.nodeId,
          streams: supervisor.processes().length,
          load: supervisor.loadUsed(),
        }),
      });
    },
    async stop() {
      await supervisor.stop();
      await deps.mediaServer.stop();
      await http?.stop();
    },
  };
}
