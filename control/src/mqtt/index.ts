export * from "./announce-policy.ts";
export * from "./auth.ts";
export * from "./broker.ts";
export * from "./bus.ts";
export * from "./config.ts";
export * from "./messages.ts";
export * from "./setup.ts";
export * from "./silence.ts";
export { MQTT_WS_PATH } from "./ws-listener.ts";
