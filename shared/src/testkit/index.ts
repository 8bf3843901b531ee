/**
 * The test kit every package uses (`@dionysia/shared/testkit`; the router and e2e import it by
 * path): waiting on conditions, free ports, external binaries and skips, a real mosquitto, and
 * real ffmpeg publishers. node: built-ins only, so it runs under Bun and Deno alike.
 */
export { findBinary, playwrightNode, reportSkip, requireBinary } from "./binaries.ts";
export {
  FFMPEG,
  FFMPEG_INSTALL,
  FFPROBE,
  type PatternOptions,
  type ProbeStream,
  type Publisher,
  type PublishOptions,
  probe,
  publish,
  publishRtmp,
  publishSrt,
  runFfmpeg,
  serveSrtListener,
  smallLadder,
  testPatternArgs,
} from "./ffmpeg.ts";
export {
  hasMosquitto,
  MOSQUITTO,
  MOSQUITTO_INSTALL,
  type Mosquitto,
  requireMosquitto,
  startMosquitto,
} from "./mosquitto.ts";
export { canConnect, freePort, freePorts } from "./ports.ts";
export { httpOk, isAlive, sleep, waitFor } from "./wait.ts";
export { type ReceivedHook, startWebhookReceiver, type WebhookReceiver } from "./webhook-receiver.ts";
