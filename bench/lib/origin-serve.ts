/**
 * The origin's HTTP server alone (no agent, no media server), over DATA_DIR, on 127.0.0.1:PORT.
 * Spawned by bench/serve.ts so that the server has a process of its own, like nginx.
 */

import { createOriginHttp } from "../../origin/src/http/index.ts";
import { createOriginMetrics } from "../../origin/src/metrics/index.ts";
import { createLogger } from "../../shared/src/index.ts";

const dataDir = process.env.DATA_DIR;
const port = Number(process.env.PORT ?? "0");
if (!dataDir) throw new Error("DATA_DIR is required");
const http = createOriginHttp({
  dataDir,
  logger: createLogger({ service: "bench-origin", level: "warn", pretty: false }),
  metrics: createOriginMetrics(),
  hostname: "127.0.0.1",
  port,
});
console.log(`listening ${http.port}`);
const stop = () => void http.stop().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
