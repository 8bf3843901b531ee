/**
 * Entry point of an origin node (`bun origin/src/main.ts`, `./dionysia origin`): the media server
 * (mediamtx or embedded), the supervisor and HTTP server (node.ts), and the MQTT agent that
 * announces this node, reports telemetry and stream status, and feeds desired state to the
 * supervisor.
 */
import { join, resolve } from "node:path";
import {
  type ConfigOf,
  createLogger,
  type DesiredStream,
  loadConfigOrExit,
  pullPolicyFrom,
  redactConfig,
  stopOnSignals,
  utcTimingUrl,
} from "@dionysia/shared";
import { CapacityCorrection, capacityMoved } from "./agent/capacity-correction.ts";
import { agentConfigSpecs } from "./agent/config.ts";
import { OriginAgent, resolveCapacity, systemTelemetry } from "./agent/index.ts";
import { createKeyAuthority } from "./auth/key-authority.ts";
import { deriveRelaySecret } from "./auth/relay-token.ts";
import { originConfigSpec } from "./config.ts";
import { PlaybackGuard } from "./http/signed.ts";
import { createMediaServer, MediamtxMediaServer, mediaConfigSpec } from "./media/index.ts";
import type { MediaStreamSpec } from "./media/types.ts";
import { createOriginMetrics } from "./metrics/index.ts";
import { createOriginNode } from "./node.ts";
import { sweepOrphans } from "./process/orphans.ts";
import { guardDesired, type PullGuardOptions } from "./pull-guard.ts";
import { PublishKeys, Reclaimer } from "./reclaim.ts";
import type { AssetMeta } from "./recording/recording.ts";
import type { StreamStatusEvent } from "./supervisor/index.ts";

export const VERSION = "0.1.0";
// Later specs win on shared names (MQTT_URL, LOG_LEVEL): the origin's own defaults apply.
const spec = { ...agentConfigSpecs, ...mediaConfigSpec, ...originConfigSpec };
const config: ConfigOf<typeof spec> = loadConfigOrExit(spec);
const log = createLogger({ service: "origin", level: config.logLevel, base: { nodeId: config.nodeId } });
log.debug({ config: redactConfig(spec, config) }, "configuration");

let desired: DesiredStream[] = [];
const localSpecs = (): MediaStreamSpec[] =>
  desired.map((s) => ({
    id: s.id,
    keyHash: s.keyHash,
    profile: s.profile,
    ...(s.srtPassphrase ? { srtPassphrase: s.srtPassphrase } : {}),
    ...(s.srtPort ? { srtPort: s.srtPort } : {}),
    ...(s.source ? { source: s.source } : {}),
    ...(s.pullFrom ? { pullFrom: s.pullFrom } : {}),
  }));

const authority = createKeyAuthority({
  local: localSpecs,
  controlUrl: config.controlUrl,
  nodeKey: config.nodeKey,
  nodeId: config.nodeId,
  logger: log,
});
// One registry for the node: the media server counts refused publishes in it.
const metrics = createOriginMetrics();
// Keys of live publishes are held in memory so a stream control lost can be re-claimed (ADR 0036).
const publishKeys = new PublishKeys();
const mediaServer = createMediaServer({
  config,
  authority: publishKeys.wrap(authority),
  logger: log,
  nodeKey: config.nodeKey,
  publishRejected: metrics.publishRejected,
  // RTMP and SRT listen where the HTTP server does unless MEDIA_BIND_HOST says otherwise.
  defaultBindHost: config.host,
});
const relaySecret = config.relaySecret ?? (config.nodeKey ? deriveRelaySecret(config.nodeKey) : undefined);
const reclaimer = new Reclaimer({
  mediaServer,
  authority,
  keys: publishKeys,
  desiredIds: () => new Set(desired.map((s) => s.id)),
  logger: log,
});
const pullGuard: PullGuardOptions = {
  policy: pullPolicyFrom(config),
  trustedHosts: config.relayTrustedHosts,
  logger: log,
  ...(relaySecret ? { relaySecret } : {}),
};
const playback = new PlaybackGuard(log); // signed playback (ADR 0060)
const node = createOriginNode(config, {
  supervisor: {
    utcTimingUrl: utcTimingUrl(config.utcTimingUrl, config.publicUrl),
    nodeId: config.nodeId,
    recordingMinFreeBytes: config.recordingMinFreeMb * 1024 * 1024,
  },
  mediaServer,
  playback,
  logger: log,
  metrics,
  ...(mediaServer instanceof MediamtxMediaServer
    ? { extraRoutes: { "/internal/mediamtx/auth": mediaServer.authHandler() } }
    : {}),
});

let agent: OriginAgent | undefined;
let correctionTimer: ReturnType<typeof setInterval> | undefined;
stopOnSignals(log, async () => {
  clearInterval(correctionTimer);
  reclaimer.stop();
  await agent?.stop();
  await node.stop();
});

await sweepOrphans({
  liveRoot: join(resolve(config.dataDir), "live"),
  rtmpPort: config.rtmpPort,
  logger: log,
});
await node.start();
const capacity = await resolveCapacity(config.capacityUnits, config.capacityFallback, {
  durationMs: config.calibrationMs,
  logger: log,
});
log.info({ capacity }, "capacity");
// What is announced: the calibration, corrected by what live streams really cost (ADR 0044).
const announced = { loadUnits: capacity.loadUnits, measured: capacity.measured };
const correction =
  capacity.measured && capacity.cpuSecondsPerMpx
    ? new CapacityCorrection({ calibrated: capacity.loadUnits, cpuSecondsPerMpx: capacity.cpuSecondsPerMpx })
    : undefined;

const egress = () => node.metrics.egressBytes();

agent = new OriginAgent({
  mqttUrl: config.mqttUrl,
  nodeId: config.nodeId,
  username: config.mqttUsername,
  password: config.mqttPassword,
  caFile: config.mqttCaFile,
  intervalMs: config.telemetryIntervalMs,
  logger: log,
  announce: () => ({
    id: config.nodeId,
    region: config.region,
    lat: config.lat,
    lon: config.lon,
    publicUrl: config.publicUrl,
    ingest: mediaServer.endpoints(),
    capacity: announced,
    encoders: [node.backend?.name ?? "ffmpeg", "libx264", "libx265", "aac", "libopus"],
    mediaServer: mediaServer.kind,
    version: VERSION,
    ts: Date.now(),
  }),
  telemetry: systemTelemetry({
    capacity: () => announced.loadUnits,
    streams: () => node.supervisor.stats(),
    loadUsed: () => node.supervisor.loadUsed(),
    ingressBytes: () => mediaServer.ingressBytes(),
    egressBytes: egress,
  }),
  onPlaybackKeys: (payload) => void playback.onKeysMessage(payload),
  onDesired: async (d) => {
    playback.setDesired(d.streams); // signed playback (ADR 0060)
    // A transcode peer pulls the ingest node's relay with a token signed by the shared secret.
    // Only vetted sources are pulled, and the relay token goes to trusted relay URLs only (ADR 0035).
    desired = await guardDesired(d.streams, pullGuard);
    log.info({ version: d.version, streams: desired.length }, "desired state");
    await node.supervisor.setDesired(desired);
    // Assets control deleted (the API, or past their retention): the files go, then the report.
    for (const id of d.deleteAssets ?? []) {
      if (!(await node.supervisor.removeAsset(id))) continue;
      playback.markAsset(id, undefined);
      await agent?.publishAsset(id, undefined);
    }
    void reclaimer.check(); // a live push this desired state lost is claimed back at once
    // Report per-stream SRT listener ports now: control shows them in the stream's ingest URLs
    // before any publisher arrives.
    for (const s of desired) if (s.srtPassphrase) publishStatus(s.id);
  },
});
function publishStatus(id: string, e?: StreamStatusEvent) {
  const srtPort = "srtPort" in mediaServer ? mediaServer.srtPort(id) : undefined;
  const stats = e?.stats ?? {};
  // A listener that could not start (its SRT port taken) is the stream's problem too.
  const inputError = "inputError" in mediaServer ? mediaServer.inputError(id) : undefined;
  const lastError = e?.lastError ?? node.supervisor.lastError(id) ?? inputError;
  void agent?.publishStreamStatus({
    id,
    nodeId: config.nodeId,
    status: e?.status ?? node.supervisor.status(id),
    ts: Date.now(),
    ...(stats.bitrateKbps !== undefined ? { bitrateKbps: stats.bitrateKbps } : {}),
    ...(stats.fps !== undefined ? { fps: stats.fps } : {}),
    ...(stats.speed !== undefined ? { speed: stats.speed } : {}),
    ...(lastError ? { lastError: lastError.slice(0, 2000) } : {}),
    ...(srtPort ? { srtPort } : {}),
    // The ladder served now: less than the profile's while the supervisor sheds rungs (ADR 0027).
    ...(e?.renditions ? { renditions: e.renditions } : {}),
    ...(e?.recordingError ? { recordingError: e.recordingError.slice(0, 500) } : {}),
  });
}
node.supervisor.onStatus((e) => publishStatus(e.id, e));
/** A recording's asset (ADR 0095): served under /vod/{id}/ (token-checked if its stream is signed). */
function publishAsset(meta: AssetMeta) {
  playback.markAsset(meta.id, meta.playbackPolicy);
  const { playbackPolicy, ...report } = meta;
  void agent
    ?.publishAsset(meta.id, report)
    .catch((err) => log.warn({ err: (err as Error).message }, "asset report failed"));
}
node.supervisor.onAsset(publishAsset);
// The assets already on disk are reported again: control learns of any it missed.
for (const meta of await node.supervisor.assets()) publishAsset(meta);
await agent.start();
if (correction) {
  correctionTimer = setInterval(() => {
    correction.observe(node.supervisor.usage());
    const next = correction.capacity;
    if (!capacityMoved(announced.loadUnits, next)) return;
    log.info(
      { from: announced.loadUnits, to: next, factor: Math.round(correction.factor * 1000) / 1000 },
      "capacity corrected from live streams",
    );
    announced.loadUnits = next;
    void agent?.reannounce().catch((err) => log.warn({ err: (err as Error).message }, "re-announce failed"));
  }, config.telemetryIntervalMs);
}
reclaimer.start();
log.info(
  {
    url: node.http?.url,
    publicUrl: config.publicUrl,
    mediaServer: mediaServer.kind,
    ingest: mediaServer.endpoints(),
  },
  "origin ready",
);
