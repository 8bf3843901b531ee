/** Bun entry: read the environment, serve the handler. Everything else is runtime-neutral. */
import { ConfigError } from "../../shared/src/config.ts";
import { startRouter } from "./app.ts";
import { loadRouterConfig, type RouterConfig } from "./config.ts";
import { createLog } from "./obs/log.ts";

let config: RouterConfig;
try {
  config = loadRouterConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(2);
}
const log = createLog(config.logLevel);
const app = startRouter(config, { log });
const server = Bun.serve({
  hostname: config.host,
  port: config.port,
  fetch: (req) => app.handler(req),
});
log.info({ host: server.hostname, port: server.port, mode: config.mode, runtime: "bun" }, "router listening");

const shutdown = async () => {
  log.info("shutting down");
  await Promise.all([server.stop(), app.stop()]);
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
