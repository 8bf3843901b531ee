/**
 * The control service: HTTP API (Elysia) over libSQL. `createControl` opens and migrates the
 * database, seeds built-in profiles and the bootstrap admin key; `start` listens.
 */
import { dirname, resolve } from "node:path";
import { createLogger, ErrorBody, type Logger } from "@dionysia/shared";
import { swagger } from "@elysiajs/swagger";
import type { Client } from "@libsql/client";
import { Elysia } from "elysia";
import { apiKeyRoutes } from "./api-keys/index.ts";
import { apiDocsAssets, SCALAR_ASSET_PATH, scalarOfflineConfig } from "./apidocs/index.ts";
import { assetRoutes } from "./assets/index.ts";
import { preAuthPlugin } from "./auth/index.ts";
import { ensureAdminKey } from "./auth/service.ts";
import { parseJsonBody } from "./body/parse.ts";
import type { ControlConfig } from "./config.ts";
import { consoleRoutes } from "./console/index.ts";
import { type Db, localDbPath, openDb } from "./db/client.ts";
import { applyMigrations } from "./db/migrate.ts";
import type { Deps } from "./deps.ts";
import { errorBody, errorsPlugin } from "./errors/index.ts";
import { ControlEvents } from "./events.ts";
import { healthRoutes } from "./health/index.ts";
import { ingestRoutes } from "./ingest/index.ts";
import { metricsRoutes, requestMetricsPlugin } from "./metrics/index.ts";
import { createMetrics } from "./metrics/service.ts";
import { Network } from "./network/service.ts";
import { nodeRoutes } from "./nodes/index.ts";
import { profileRoutes } from "./profiles/index.ts";
import { seedBuiltinProfiles } from "./profiles/service.ts";
import { routeRoutes } from "./routes/index.ts";
import { signingKeyRoutes } from "./signing-keys/index.ts";
import { ensureControlKey } from "./signing-keys/service.ts";
import { streamRoutes } from "./streams/index.ts";
import { ensureSrtPorts } from "./streams/srt-ports.ts";
import { telemetryRoutes } from "./telemetry/index.ts";
import { WebhookDispatcher } from "./webhooks/dispatcher.ts";
import { eventRoutes, webhookRoutes } from "./webhooks/index.ts";

export interface Control {
  app: ReturnType<typeof buildApp>;
  db: Db;
  client: Client;
  deps: Deps;
  events: ControlEvents;
  /** MQTT bus, node registry and scheduler (undefined when created with `network: false`). */
  network: Network | undefined;
  /** Webhook delivery from the outbox (ADR 0090), on the `webhooks` lease holder. */
  webhooks: WebhookDispatcher;
  start(): Promise<{ port: number; url: string }>;
  stop(): Promise<void>;
}

const API_VERSION = "0.1.0";

let instances = 0;

/**
 * A body over the limit is refused from its Content-Length before it is read; a chunked body
 * (no Content-Length) is measured once read. Bun itself cuts anything past twice the limit.
 */
function bodyLimitPlugin(limit: number, instanceId: string) {
  return new Elysia({ name: "body-limit", seed: instanceId })
    .onRequest(({ request, set }) => {
      const len = Number(request.headers.get("content-length") ?? 0);
      if (len > limit) {
        set.status = 413;
        set.headers["content-type"] = "application/json";
        return errorBody("body_too_large", `request body exceeds ${limit} bytes`);
      }
    })
    .onParse({ as: "global" }, ({ request, contentType }) => parseJsonBody(request, contentType, limit));
}

function buildApp(deps: Deps) {
  return (
    new Elysia({ normalize: false })
      .use(errorsPlugin(deps.log, deps.instanceId))
      .use(requestMetricsPlugin(deps))
      // Both refuse from headers alone, before any body is read: the size first, then the credential.
      .use(bodyLimitPlugin(deps.config.bodyLimitBytes, deps.instanceId))
      .use(preAuthPlugin(deps))
      .use(
        swagger({
          path: "/swagger",
          // Offline: Scalar from the pinned npm package, served below (ADR 0075).
          scalarCDN: SCALAR_ASSET_PATH,
          scalarConfig: scalarOfflineConfig,
          documentation: {
            info: {
              title: "Dionysia control API",
              version: API_VERSION,
              description:
                "Streams, ABR profiles, origin nodes and API keys. Errors are `{error: {code, message, details?}}`.",
            },
            tags: [
              { name: "streams", description: "Live streams: keys, ingest and playback URLs" },
              { name: "profiles", description: "ABR ladders" },
              { name: "nodes", description: "Origin nodes" },
              { name: "ingest", description: "Origin callbacks" },
              { name: "routes", description: "Router bootstrap" },
              { name: "api-keys", description: "API keys (admin)" },
              { name: "signing-keys", description: "Playback signing keys and tokens (signed streams)" },
              { name: "webhooks", description: "Signed event deliveries to your endpoints" },
              { name: "events", description: "What happened: the event log webhooks deliver" },
              { name: "ops", description: "Health and metrics" },
            ],
            components: {
              securitySchemes: {
                bearer: { type: "http", scheme: "bearer", description: "API key (dk_...)" },
              },
              schemas: { ErrorBody: ErrorBody as never },
            },
            security: [{ bearer: [] }],
          },
        }),
      )
      .use(apiDocsAssets())
      .use(consoleRoutes(deps))
      .use(healthRoutes(deps))
      .use(metricsRoutes(deps))
      .use(streamRoutes(deps))
      .use(assetRoutes(deps))
      .use(profileRoutes(deps))
      .use(nodeRoutes(deps))
      .use(ingestRoutes(deps))
      .use(routeRoutes(deps))
      .use(apiKeyRoutes(deps))
      .use(signingKeyRoutes(deps))
      .use(telemetryRoutes(deps))
      .use(webhookRoutes(deps))
      .use(eventRoutes(deps))
  );
}

export async function createControl(
  config: ControlConfig,
  opts: { logger?: Logger; network?: boolean } = {},
): Promise<Control> {
  const log = opts.logger ?? createLogger({ service: "control", level: config.logLevel });
  const { db, client } = await openDb({
    url: config.databaseUrl,
    syncUrl: config.databaseSyncUrl,
    authToken: config.databaseAuthToken,
  });
  try {
    await applyMigrations(db);
    await seedBuiltinProfiles(db);
    const ported = await ensureSrtPorts(db, config.srtPortRange);
    if (ported > 0) log.info({ streams: ported }, "SRT ports assigned to streams that had none");
    await ensureControlKey(db); // signed playback (ADR 0060): control's own token key
    const dbPath = localDbPath(config.databaseUrl);
    const keyFileDir = dbPath && dbPath !== ":memory:" ? dirname(resolve(dbPath)) : resolve("data");
    const boot = await ensureAdminKey(db, { adminKey: config.adminKey, keyFileDir, log });
    if (boot.generatedKey) {
      // Printed once, outside the logger, so it never lands in a shipped log stream.
      process.stderr.write(
        `\nDionysia admin API key (shown once): ${boot.generatedKey}\n` +
          (boot.writtenTo ? `It was also written to ${boot.writtenTo} (mode 0600).\n\n` : "\n"),
      );
    }
  } catch (err) {
    client.close();
    throw err;
  }
  const events = new ControlEvents();
  events.onListenerError((err, name) => log.error({ err, event: name }, "event listener failed"));
  const deps: Deps = {
    instanceId: `control-${++instances}`,
    config,
    db,
    log,
    events,
    metrics: createMetrics(),
  };
  const app = buildApp(deps);
  const network =
    opts.network === false
      ? undefined
      : new Network({ db, client, events, log, config, registry: deps.metrics.registry });
  const webhooks = new WebhookDispatcher({ db, client, log, config, registry: deps.metrics.registry });
  let running = false;
  return {
    app,
    db,
    client,
    deps,
    events,
    network,
    webhooks,
    async start() {
      app.listen({
        hostname: config.host,
        port: config.port,
        // Hard stop for bodies far past the limit; the JSON 413 comes from bodyLimitPlugin.
        maxRequestBodySize: config.bodyLimitBytes * 2,
      });
      running = true;
      const port = app.server?.port ?? config.port;
      const host = config.host === "0.0.0.0" ? "127.0.0.1" : config.host;
      const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
      log.info({ port, host: config.host }, "control listening");
      if (network) {
        await network.start();
        log.info({ mqttUrl: network.mqttUrl, embeddedBroker: !!network.broker }, "MQTT connected");
      }
      await webhooks.start();
      return { port, url };
    },
    async stop() {
      await network?.stop();
      await webhooks.stop();
      if (running) {
        await app.stop(true);
        running = false;
      }
      client.close();
    },
  };
}
