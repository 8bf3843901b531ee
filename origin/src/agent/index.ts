export * from "./agent.ts";
export * from "./capacity.ts";
export * from "./config.ts";
export * from "./telemetry.ts";
