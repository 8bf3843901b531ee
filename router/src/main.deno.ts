/** Deno entry: read the environment, serve the handler. Everything else is runtime-neutral. */
import { ConfigError } from "../../shared/src/config.ts";
import { startRouter } from "./app.ts";
import { loadRouterConfig } from "./config.ts";
import { createLog } from "./obs/log.ts";

/** The few Deno APIs used here, typed locally so the repo's tsc (Bun types) checks this file too. */
interface DenoApi {
  env: { toObject(): Record<string, string> };
  exit(code: number): never;
  addSignalListener(signal: "SIGINT" | "SIGTERM", fn: () => void): void;
  serve(
    o: { hostname: string; port: number; onListen?: (a: { hostname: string; port: number }) => void },
    handler: (req: Request, info: unknown) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
}
const Deno = (globalThis as unknown as { Deno: DenoApi }).Deno;

function config() {
  try {
    return loadRouterConfig(Deno.env.toObject());
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    return Deno.exit(2);
  }
}

const cfg = config();
const log = createLog(cfg.logLevel);
const app = startRouter(cfg, { log });
const server = Deno.serve(
  {
    hostname: cfg.host,
    port: cfg.port,
    onListen: ({ hostname, port }) =>
      log.info({ host: hostname, port, mode: cfg.mode, runtime: "deno" }, "router listening"),
  },
  app.handler,
);

const shutdown = async () => {
  log.info("shutting down");
  await Promise.all([server.shutdown(), app.stop()]);
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", shutdown);
Deno.addSignalListener("SIGTERM", shutdown);
