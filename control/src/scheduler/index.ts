export * from "./config.ts";
export * from "./lease.ts";
export * from "./placement.ts";
export * from "./plans.ts";
