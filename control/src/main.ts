/** Entry point: `bun control/src/main.ts` (or `./dionysia control`). */
import { createLogger, loadConfigOrExit, redactConfig, stopOnSignals } from "@dionysia/shared";
import { createControl } from "./app.ts";
import { controlConfigSpec } from "./config.ts";

const config = loadConfigOrExit(controlConfigSpec);
const log = createLogger({ service: "control", level: config.logLevel });
log.debug({ config: redactConfig(controlConfigSpec, config) }, "configuration");
const control = await createControl(config, { logger: log });

stopOnSignals(log, () => control.stop());

const { url } = await control.start();
log.info({ swagger: `${url}/swagger` }, "control ready");
