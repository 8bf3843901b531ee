/**
 * Wiring shared by both entries (and tests/benchmarks): table + bootstrap + MQTT + handler.
 * Runtime-neutral; the entries only read the environment and call `Deno.serve` / `Bun.serve`.
 */
import type { MqttClient } from "mqtt";
import { PlaybackVerifier } from "../../shared/src/playback/token.ts";
import type { RouterConfig } from "./config.ts";
import { createRouter, type FetchHandler } from "./handler.ts";
import { createLog, type Log } from "./obs/log.ts";
import { createRouterMetrics, type RouterMetrics } from "./obs/router-metrics.ts";
import { Bootstrapper } from "./table/bootstrap.ts";
import { KeySync } from "./table/keys.ts";
import { connectLive } from "./table/live.ts";
import { RouteTable } from "./table/store.ts";

export interface RouterApp {
  handler: FetchHandler;
  table: RouteTable;
  metrics: RouterMetrics;
  /** Signed playback keys (ADR 0060). */
  verifier: PlaybackVerifier;
  keys: KeySync;
  /** Resolves after the first successful bootstrap (never rejects; retries forever until stop). */
  bootstrapped: Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Log;
  /** Bootstrap back-off start (tests use a short one). */
  bootstrapMinDelayMs?: number;
  mqttReconnectMs?: number;
}

export function startRouter(config: RouterConfig, o: StartOptions = {}): RouterApp {
  const log = o.log ?? createLog(config.logLevel);
  const table = new RouteTable();
  const metrics = createRouterMetrics(table);
  let mqttConnected = false;

  const boot = new Bootstrapper(
    table,
    {
      controlUrl: config.controlUrl,
      routerKey: config.routerKey,
      minDelayMs: o.bootstrapMinDelayMs ?? 500,
      maxDelayMs: config.bootstrapRetryMaxMs,
      onResult: (ok) => metrics.bootstraps.inc({ result: ok ? "ok" : "error" }),
    },
    log,
  );
  const bootstrapped = boot.start();
  // Signed playback (ADR 0060): public keys from control, then live from MQTT.
  const verifier = new PlaybackVerifier();
  const keys = new KeySync(
    verifier,
    {
      controlUrl: config.controlUrl,
      routerKey: config.routerKey,
      minDelayMs: o.bootstrapMinDelayMs ?? 500,
      maxDelayMs: config.bootstrapRetryMaxMs,
    },
    log,
  );
  void keys.start();

  let client: MqttClient | undefined;
  if (config.mqttUrl) {
    client = connectLive(
      table,
      {
        url: config.mqttUrl,
        username: config.mqttUsername,
        password: config.mqttPassword,
        caFile: config.mqttCaFile,
        reconnectPeriodMs: o.mqttReconnectMs,
        onConnectionChange: (up) => {
          mqttConnected = up;
          metrics.mqttConnected.set(up ? 1 : 0);
        },
        // Deletes published while we were away are not retained: a fresh snapshot catches them.
        onSubscribed: (resumed) => {
          if (resumed) void boot.resync();
        },
        onMessage: (kind) => metrics.updates.inc({ effect: kind }),
        onPlaybackKeys: (payload) => void keys.onMessage(payload),
      },
      log,
    );
  } else {
    log.warn("MQTT_URL is not set: the table is bootstrapped once and gets no live updates");
  }

  const handler = createRouter(config, {
    table,
    metrics,
    log,
    verifier,
    status: () => ({ mqtt: config.mqttUrl ? (mqttConnected ? "connected" : "disconnected") : "disabled" }),
  });

  return {
    handler,
    table,
    metrics,
    verifier,
    keys,
    bootstrapped,
    async stop() {
      boot.stop();
      keys.stop();
      if (client) await client.endAsync(true).catch(() => undefined);
    },
  };
}
