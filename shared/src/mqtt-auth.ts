/**
 * MQTT identities and permissions (docs/security.md, ADR 0016): who may connect as what, and
 * which topics each role may publish and read. One table serves both the embedded aedes broker
 * (control/src/mqtt/broker.ts) and the mosquitto ACL file generated from it
 * (control/src/mqtt/mosquitto.ts), so the two brokers cannot drift apart.
 *
 * User names: a node's is its node id (so mosquitto `%u` patterns name its topics); the other
 * roles' contain a dot, which no node id can, so no node can be enrolled under a role's name.
 * A role name may carry an instance suffix (`dionysia.router.eu-1`): one credential per instance
 * where the broker binds client ids to user names (mosquitto `use_username_as_clientid`).
 */
import { createHmac } from "node:crypto";
import { TOPIC_ROOT } from "./topics.ts";

export type MqttRole = "control" | "node" | "router" | "dashboard";

export interface MqttIdentity {
  role: MqttRole;
  username: string;
  /** Set for the node role. */
  nodeId?: string;
}

export const ROLE_USERNAMES = {
  control: "dionysia.control",
  router: "dionysia.router",
  dashboard: "dionysia.dashboard",
} as const;

const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SUFFIX = /^[A-Za-z0-9_-]{1,64}$/;

/** The identity a user name stands for; undefined for a name no role can have. */
export function identityOf(username: string): MqttIdentity | undefined {
  if (NODE_ID.test(username)) return { role: "node", username, nodeId: username };
  for (const role of ["control", "router", "dashboard"] as const) {
    const base = ROLE_USERNAMES[role];
    if (username === base) return { role, username };
    if (username.startsWith(`${base}.`) && SUFFIX.test(username.slice(base.length + 1)))
      return { role, username };
  }
  return undefined;
}

/** Text HMAC'd into a node's password (kept stable: launchers and ansible compute it too). */
export const NODE_PASSWORD_CONTEXT = "dionysia/mqtt/node/";

/**
 * A node's MQTT password: hex HMAC-SHA256(enrolment secret, "dionysia/mqtt/node/" + id). Whoever
 * holds the secret (control, the launcher, ansible) can enrol a node; a node holding only its own
 * password cannot compute another's. Shell equivalent:
 * `printf '%s' "dionysia/mqtt/node/$NODE_ID" | openssl dgst -sha256 -hmac "$SECRET"`.
 */
export function nodePassword(secret: string, nodeId: string): string {
  if (!NODE_ID.test(nodeId)) throw new Error(`invalid node id ${JSON.stringify(nodeId)}`);
  return createHmac("sha256", secret).update(`${NODE_PASSWORD_CONTEXT}${nodeId}`).digest("hex");
}

/** The client id a node connects with; no other identity may use it. */
export function nodeClientId(nodeId: string): string {
  return `dionysia-origin-${nodeId}`;
}

/** Client-id prefixes reserved to one role, so no identity can squat another's session. */
const RESERVED_CLIENT_IDS: readonly [string, MqttRole][] = [
  ["dionysia-origin-", "node"],
  ["dionysia-control-", "control"],
  ["dionysia-router-", "router"],
];

/** Why a client id is refused for this identity, or undefined when it may use it. */
export function clientIdRefusal(id: MqttIdentity, clientId: string): string | undefined {
  if (id.role === "node") {
    const want = nodeClientId(id.nodeId as string);
    return clientId === want ? undefined : `a node's client id must be ${want}`;
  }
  for (const [prefix, role] of RESERVED_CLIENT_IDS) {
    if (clientId.startsWith(prefix) && role !== id.role)
      return `client ids ${prefix}* are reserved to ${role}`;
  }
  return undefined;
}

/** `{node}` stands for the node's id (mosquitto: `%u`). */
export interface RolePermissions {
  publish: readonly string[];
  subscribe: readonly string[];
}

const N = `${TOPIC_ROOT}/nodes`;

export const PERMISSIONS: Record<MqttRole, RolePermissions> = {
  control: { publish: ["#"], subscribe: ["#"] },
  node: {
    publish: [
      `${N}/{node}/announce`,
      `${N}/{node}/state`,
      `${N}/{node}/telemetry`,
      `${N}/{node}/streams/+/status`,
      `${N}/{node}/assets/+`,
    ],
    // Public playback keys (signed streams, ADR 0060): public JWKs only, never private keys.
    subscribe: [`${N}/{node}/desired`, `${TOPIC_ROOT}/keys`],
  },
  router: { publish: [], subscribe: [`${TOPIC_ROOT}/routes/+`, `${N}/+/state`, `${TOPIC_ROOT}/keys`] },
  dashboard: {
    publish: [],
    // Events carry ids, names and states, never keys or secrets (ADR 0097).
    subscribe: [
      `${N}/+/telemetry`,
      `${N}/+/state`,
      `${N}/+/announce`,
      `${N}/+/streams/+/status`,
      `${TOPIC_ROOT}/events/+`,
    ],
  },
};

const filled = new WeakMap<MqttIdentity, RolePermissions>();

/** The filters an identity may publish to / read from, with its node id filled in (cached). */
export function permissionsOf(id: MqttIdentity): RolePermissions {
  let perms = filled.get(id);
  if (!perms) {
    const p = PERMISSIONS[id.role];
    const fill = (f: string) => (id.nodeId ? f.replaceAll("{node}", id.nodeId) : f);
    perms = { publish: p.publish.map(fill), subscribe: p.subscribe.map(fill) };
    filled.set(id, perms);
  }
  return perms;
}

/** MQTT topic matching: `+` one level, `#` the rest (parent included); wildcards skip `$` topics. */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) return false;
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === "#") return true;
    if (i >= t.length) return false;
    if (level !== "+" && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** True when every topic `inner` can match is also matched by `outer`. */
export function filterCovers(outer: string, inner: string): boolean {
  if (inner.startsWith("$") && (outer.startsWith("+") || outer.startsWith("#"))) return false;
  const o = outer.split("/");
  const i = inner.split("/");
  for (let k = 0; k < o.length; k++) {
    const ol = o[k];
    if (ol === "#") return true;
    if (k >= i.length) return false;
    const il = i[k];
    if (il === "#") return false;
    if (ol === "+") continue;
    if (il === "+" || il !== ol) return false;
  }
  return o.length === i.length;
}

export function mayPublish(id: MqttIdentity, topic: string): boolean {
  if (topic.startsWith("$")) return false;
  return permissionsOf(id).publish.some((f) => topicMatches(f, topic));
}

/** A subscription is granted only when all it could match is readable (`#` by a router is not). */
export function maySubscribe(id: MqttIdentity, filter: string): boolean {
  return permissionsOf(id).subscribe.some((f) => filterCovers(f, filter));
}

export function mayRead(id: MqttIdentity, topic: string): boolean {
  return permissionsOf(id).subscribe.some((f) => topicMatches(f, topic));
}
