import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import {
  clientIdRefusal,
  filterCovers,
  identityOf,
  mayPublish,
  mayRead,
  maySubscribe,
  nodeClientId,
  nodePassword,
  topicMatches,
} from "../src/mqtt-auth.ts";
import { topics } from "../src/topics.ts";

describe("MQTT identities", () => {
  test("a user name is a node id, or a role name with an optional instance suffix", () => {
    expect(identityOf("edge-par-1")).toEqual({ role: "node", username: "edge-par-1", nodeId: "edge-par-1" });
    expect(identityOf("dionysia.router")?.role).toBe("router");
    expect(identityOf("dionysia.router.eu-1")?.role).toBe("router");
    expect(identityOf("dionysia.dashboard")?.role).toBe("dashboard");
    expect(identityOf("dionysia.control")?.role).toBe("control");
    for (const bad of [
      "",
      "dionysia.routerx",
      "dionysia.router.",
      "a/b",
      "x".repeat(65),
      "dionysia.router.a.b",
      "n:1",
    ])
      expect(identityOf(bad)).toBeUndefined();
  });

  test("node passwords are HMACs any shell can compute, different per node and per secret", () => {
    const secret = "enrolment-secret-0123456789";
    const p = nodePassword(secret, "edge-1");
    expect(p).toMatch(/^[0-9a-f]{64}$/);
    expect(p).not.toBe(nodePassword(secret, "edge-2"));
    expect(p).not.toBe(nodePassword(`${secret}x`, "edge-1"));
    expect(() => nodePassword(secret, "../x")).toThrow();
    const sh = spawnSync("sh", [
      "-c",
      `printf '%s' "dionysia/mqtt/node/edge-1" | openssl dgst -sha256 -hmac "${secret}"`,
    ]);
    if (sh.status === 0) expect(String(sh.stdout).trim().split(" ").at(-1)).toBe(p);
    else console.warn("openssl not available: shell derivation not checked");
  });

  test("client ids: a node's is fixed; role prefixes are reserved", () => {
    const node = identityOf("edge-1");
    const router = identityOf("dionysia.router");
    const dash = identityOf("dionysia.dashboard");
    if (!node || !router || !dash) throw new Error("identities");
    expect(clientIdRefusal(node, nodeClientId("edge-1"))).toBeUndefined();
    expect(clientIdRefusal(node, nodeClientId("edge-2"))).toBeDefined();
    expect(clientIdRefusal(node, "anything")).toBeDefined();
    expect(clientIdRefusal(router, "dionysia-router-abc")).toBeUndefined();
    expect(clientIdRefusal(router, nodeClientId("edge-1"))).toBeDefined();
    expect(clientIdRefusal(router, "dionysia-control-1")).toBeDefined();
    expect(clientIdRefusal(dash, "grafana-1")).toBeUndefined();
    expect(clientIdRefusal(dash, "dionysia-router-x")).toBeDefined();
  });
});

describe("topic matching", () => {
  test("topicMatches follows MQTT: + one level, # the rest and its parent, no wildcard into $", () => {
    expect(topicMatches("a/+/c", "a/b/c")).toBe(true);
    expect(topicMatches("a/+/c", "a/b/c/d")).toBe(false);
    expect(topicMatches("a/#", "a")).toBe(true);
    expect(topicMatches("a/#", "a/b/c")).toBe(true);
    expect(topicMatches("#", "$SYS/x")).toBe(false);
    expect(topicMatches("a/b", "a/b/")).toBe(false);
  });

  test("filterCovers: a subscription is inside a permission only if everything it matches is", () => {
    expect(filterCovers("a/+/c", "a/b/c")).toBe(true);
    expect(filterCovers("a/+/c", "a/+/c")).toBe(true);
    expect(filterCovers("a/b/c", "a/+/c")).toBe(false);
    expect(filterCovers("a/+", "a/#")).toBe(false);
    expect(filterCovers("a/#", "a/+/x")).toBe(true);
    expect(filterCovers("#", "$SYS/#")).toBe(false);
    expect(filterCovers("a/+", "a")).toBe(false);
  });

  test("permissions: nodes own their tree; routers and dashboards read only; nobody reads others' desired", () => {
    const a = identityOf("edge-a");
    const router = identityOf("dionysia.router");
    const dash = identityOf("dionysia.dashboard");
    const control = identityOf("dionysia.control");
    if (!a || !router || !dash || !control) throw new Error("identities");
    expect(mayPublish(a, topics.nodeAnnounce("edge-a"))).toBe(true);
    expect(mayPublish(a, topics.streamStatus("edge-a", "s1"))).toBe(true);
    expect(mayPublish(a, topics.streamStatus("edge-b", "s1"))).toBe(false);
    // VOD assets (ADR 0095): a node reports its own, never another node's.
    expect(mayPublish(a, topics.nodeAsset("edge-a", "asset1"))).toBe(true);
    expect(mayPublish(a, topics.nodeAsset("edge-b", "asset1"))).toBe(false);
    expect(mayPublish(a, topics.nodeAnnounce("edge-b"))).toBe(false);
    expect(mayPublish(a, topics.nodeDesired("edge-a"))).toBe(false);
    expect(mayPublish(a, topics.route("s1"))).toBe(false);
    expect(maySubscribe(a, topics.nodeDesired("edge-a"))).toBe(true);
    expect(maySubscribe(a, topics.nodeDesired("edge-b"))).toBe(false);
    expect(maySubscribe(a, "dionysia/v1/nodes/+/desired")).toBe(false);
    for (const id of [router, dash]) {
      expect(mayPublish(id, topics.route("s1"))).toBe(false);
      expect(mayPublish(id, topics.nodeState("edge-a"))).toBe(false);
      expect(maySubscribe(id, "#")).toBe(false);
      expect(mayRead(id, topics.nodeDesired("edge-a"))).toBe(false);
    }
    expect(maySubscribe(router, "dionysia/v1/routes/+")).toBe(true);
    expect(mayRead(dash, topics.route("s1"))).toBe(false);
    expect(maySubscribe(dash, "dionysia/v1/nodes/+/streams/+/status")).toBe(true);
    expect(mayPublish(control, topics.nodeDesired("edge-a"))).toBe(true);
    expect(mayPublish(control, "$SYS/x")).toBe(false);
  });
});
