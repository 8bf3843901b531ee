/** MQTT topic names (docs/architecture.md, "MQTT contract"). The only place topic strings are spelled. */
import { ID_CHARS } from "./id-pattern.ts";

export const TOPIC_ROOT = "dionysia/v1";

export const topics = {
  nodeAnnounce: (nodeId: string) => `${TOPIC_ROOT}/nodes/${nodeId}/announce`,
  nodeState: (nodeId: string) => `${TOPIC_ROOT}/nodes/${nodeId}/state`,
  nodeTelemetry: (nodeId: string) => `${TOPIC_ROOT}/nodes/${nodeId}/telemetry`,
  nodeDesired: (nodeId: string) => `${TOPIC_ROOT}/nodes/${nodeId}/desired`,
  /** Under the node's own tree, so a topic ACL alone binds a status to the node that sent it. */
  streamStatus: (nodeId: string, streamId: string) =>
    `${TOPIC_ROOT}/nodes/${nodeId}/streams/${streamId}/status`,
  /** A VOD asset the node holds (retained; empty: it removed it). Under its own tree, like status. */
  nodeAsset: (nodeId: string, assetId: string) => `${TOPIC_ROOT}/nodes/${nodeId}/assets/${assetId}`,
  route: (streamId: string) => `${TOPIC_ROOT}/routes/${streamId}`,
  /** Retained list of live playback verification keys (public JWKs only; ADR 0060). */
  playbackKeys: `${TOPIC_ROOT}/keys`,
  /** Platform events as GET /v1/events lists them, not retained (ADR 0097). */
  event: (type: string) => `${TOPIC_ROOT}/events/${type}`,
} as const;

/** Subscription filters. */
export const filters = {
  allNodeAnnounce: `${TOPIC_ROOT}/nodes/+/announce`,
  allNodeState: `${TOPIC_ROOT}/nodes/+/state`,
  allNodeTelemetry: `${TOPIC_ROOT}/nodes/+/telemetry`,
  allStreamStatus: `${TOPIC_ROOT}/nodes/+/streams/+/status`,
  allNodeAssets: `${TOPIC_ROOT}/nodes/+/assets/+`,
  allRoutes: `${TOPIC_ROOT}/routes/+`,
  allEvents: `${TOPIC_ROOT}/events/+`,
} as const;

export type ParsedTopic =
  | { kind: "nodeAnnounce" | "nodeState" | "nodeTelemetry" | "nodeDesired"; nodeId: string }
  | { kind: "streamStatus"; nodeId: string; streamId: string }
  | { kind: "nodeAsset"; nodeId: string; assetId: string }
  | { kind: "route"; streamId: string }
  | { kind: "playbackKeys" }
  | { kind: "event"; type: string };

const ID = `(${ID_CHARS})`;
const NODE_RE = new RegExp(`^${TOPIC_ROOT}/nodes/${ID}/(announce|state|telemetry|desired)$`);
const STATUS_RE = new RegExp(`^${TOPIC_ROOT}/nodes/${ID}/streams/${ID}/status$`);
const ASSET_RE = new RegExp(`^${TOPIC_ROOT}/nodes/${ID}/assets/${ID}$`);
const ROUTE_RE = new RegExp(`^${TOPIC_ROOT}/routes/${ID}$`);
/** An event type: `stream.active`, `node.offline` (checked against the schema by the reader). */
const EVENT_RE = new RegExp(`^${TOPIC_ROOT}/events/([a-z]{1,32}\\.[a-z]{1,32})$`);

const NODE_KINDS = {
  announce: "nodeAnnounce",
  state: "nodeState",
  telemetry: "nodeTelemetry",
  desired: "nodeDesired",
} as const;

/** Parses a topic into its kind and id; undefined for anything not in the contract. */
export function parseTopic(topic: string): ParsedTopic | undefined {
  let m = NODE_RE.exec(topic);
  if (m) return { kind: NODE_KINDS[m[2] as keyof typeof NODE_KINDS], nodeId: m[1] as string };
  m = STATUS_RE.exec(topic);
  if (m) return { kind: "streamStatus", nodeId: m[1] as string, streamId: m[2] as string };
  m = ASSET_RE.exec(topic);
  if (m) return { kind: "nodeAsset", nodeId: m[1] as string, assetId: m[2] as string };
  m = ROUTE_RE.exec(topic);
  if (m) return { kind: "route", streamId: m[1] as string };
  if (topic === topics.playbackKeys) return { kind: "playbackKeys" };
  m = EVENT_RE.exec(topic);
  if (m) return { kind: "event", type: m[1] as string };
  return undefined;
}
