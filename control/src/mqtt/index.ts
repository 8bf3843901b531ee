export * from "./broker.ts";
export * from "./bus.ts";
export * from "./config.ts";
export * from "./messages.ts";
export * from "./silence.ts";
