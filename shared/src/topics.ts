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
  route: (streamId: string) => `${TOPIC_ROOT}/routes/${streamId}`,
  /** Retained list of live playback verification keys (public JWKs only; ADR 0060). */
  playbackKeys: `${TOPIC_ROOT}/keys`,
} as const;

/** Subscription filters. */
export const filters = {
  allNodeAnnounce: `${TOPIC_ROOT}/nodes/+/announce`,
  allNodeState: `${TOPIC_ROOT}/nodes/+/state`,
  allNodeTelemetry: `${TOPIC_ROOT}/nodes/+/telemetry`,
  allStreamStatus: `${TOPIC_ROOT}/nodes/+/streams/+/status`,
  allRoutes: `${TOPIC_ROOT}/routes/+`,
} as const;

export type ParsedTopic =
  | { kind: "nodeAnnounce" | "nodeState" | "nodeTelemetry" | "nodeDesired"; nodeId: string }
  | { kind: "streamStatus"; nodeId: string; streamId: string }
  | { kind: "route"; streamId: string }
  | { kind: "playbackKeys" };

const ID = `(${ID_CHARS})`;
const NODE_RE = new RegExp(`^${TOPIC_ROOT}/nodes/${ID}/(announce|state|telemetry|desired)$`);
const STATUS_RE = new RegExp(`^${TOPIC_ROOT}/nodes/${ID}/streams/${ID}/status$`);
const ROUTE_RE = new RegExp(`^${TOPIC_ROOT}/routes/${ID}$`);

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
  m = ROUTE_RE.exec(topic);
  if (m) return { kind: "route", streamId: m[1] as string };
  if (topic === topics.playbackKeys) return { kind: "playbackKeys" };
  return undefined;
}
