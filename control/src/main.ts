/** Entry point: `bun control/src/main.ts` (or `./dionysia control`). */
import { createLogger, loadConfigOrExit, redactConfig } from "@dionysia/shared";
import { createControl } from "./app.ts";
import { controlConfigSpec } from "./config.ts";

const config = loadConfigOrExit(controlConfigSpec);
const log = createLogger({ service: "control", level: config.logLevel });
log.debug({ config: redactConfig(controlConfigSpec, config) }, "configuration");
const control = await createControl(config, { logger: log });

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "stopping");
  try {
    await control.stop();
    process.exit(0);
  } catch (err) {
    log.error({ err }, "stop failed");
    process.exit(1);
  }
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

const { url } = await control.start();
log.info({ swagger: `${url}/swagger` }, "control ready");
