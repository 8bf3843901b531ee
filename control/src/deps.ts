import type { Logger } from "@dionysia/shared";
import type { ControlConfig } from "./config.ts";
import type { Db } from "./db/client.ts";
import type { ControlEvents } from "./events.ts";
import type { ControlMetrics } from "./metrics/service.ts";

/** What every feature module gets: passed explicitly, so two controls can share one process. */
export interface Deps {
  /** Distinguishes control instances in one process (Elysia dedups named plugins by seed). */
  instanceId: string;
  config: ControlConfig;
  db: Db;
  log: Logger;
  events: ControlEvents;
  metrics: ControlMetrics;
}
