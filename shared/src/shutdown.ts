/** Graceful stop on SIGINT/SIGTERM for a service entry point: one stop, then exit 0 (or 1 on failure). */
import type { Logger } from "pino";

export function stopOnSignals(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const run = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    try {
      await stop();
      process.exit(0);
    } catch (err) {
      log.error({ err }, "stop failed");
      process.exit(1);
    }
  };
  process.on("SIGINT", () => void run("SIGINT"));
  process.on("SIGTERM", () => void run("SIGTERM"));
}
