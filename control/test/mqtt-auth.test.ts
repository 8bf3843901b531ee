/** The pure parts of MQTT security: credentials, packet guard, retained budget, announce bounds, mosquitto files. */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodePassword } from "@dionysia/shared";
import { announceRefusal, hostAllowed } from "../src/mqtt/announce-policy.ts";
import { type BrokerCredentials, verifyCredentials } from "../src/mqtt/auth.ts";
import { run } from "../src/mqtt/cli.ts";
import {
  mosquittoConf,
  mosquittoPasswordFile,
  mosquittoPasswordHash,
  mosquittoPasswordMatches,
} from "../src/mqtt/mosquitto.ts";
import { MqttFrameGuard } from "../src/mqtt/packet-guard.ts";
import { RetainedBudget } from "../src/mqtt/retained-budget.ts";
import { sampleAnnounce } from "./helpers/mqttFixtures.ts";

const creds: BrokerCredentials = {
  nodeSecrets: ["new-secret-0123456789abcdef", "old-secret-0123456789abcdef"],
  routerPassword: "router-password-0123456789",
  dashboardPassword: undefined,
  control: { username: "dionysia.control", password: "in-process-0123456789" },
};
const buf = (s: string) => Buffer.from(s);

describe("verifyCredentials", () => {
  test("nodes by derived password (current or previous secret); roles by their password", () => {
    const ok = verifyCredentials(creds, "edge-1", buf(nodePassword("new-secret-0123456789abcdef", "edge-1")));
    expect(ok).toEqual({ ok: true, identity: { role: "node", username: "edge-1", nodeId: "edge-1" } });
    expect(
      verifyCredentials(creds, "edge-1", buf(nodePassword("old-secret-0123456789abcdef", "edge-1"))).ok,
    ).toBe(true);
    expect(
      verifyCredentials(creds, "edge-1", buf(nodePassword("new-secret-0123456789abcdef", "edge-2"))),
    ).toEqual({
      ok: false,
      reason: "bad_password",
    });
    expect(verifyCredentials(creds, "dionysia.router", buf("router-password-0123456789")).ok).toBe(true);
    expect(verifyCredentials(creds, "dionysia.control", buf("in-process-0123456789")).ok).toBe(true);
    // An instance suffix is for external brokers; the in-process control user is exact.
    expect(verifyCredentials(creds, "dionysia.control.x", buf("in-process-0123456789"))).toEqual({
      ok: false,
      reason: "unknown_user",
    });
  });

  test("anonymous, unknown names and disabled roles are refused with their reason", () => {
    expect(verifyCredentials(creds, undefined, undefined)).toEqual({ ok: false, reason: "anonymous" });
    expect(verifyCredentials(creds, "edge-1", undefined)).toEqual({ ok: false, reason: "anonymous" });
    expect(verifyCredentials(creds, "evil/user", buf("x"))).toEqual({ ok: false, reason: "unknown_user" });
    expect(verifyCredentials(creds, "dionysia.dashboard", buf("anything"))).toEqual({
      ok: false,
      reason: "role_disabled",
    });
    expect(verifyCredentials({ ...creds, nodeSecrets: [] }, "edge-1", buf("x"))).toEqual({
      ok: false,
      reason: "role_disabled",
    });
    const good = buf(nodePassword("new-secret-0123456789abcdef", "edge-9"));
    expect(verifyCredentials({ ...creds, revokedNodes: new Set(["edge-9"]) }, "edge-9", good)).toEqual({
      ok: false,
      reason: "revoked",
    });
  });
});

describe("MqttFrameGuard", () => {
  test("follows packets across chunk boundaries and refuses a length over the limit from its header", () => {
    const g = new MqttFrameGuard(200);
    const pkt = (len: number) => {
      const out = [0x30];
      let n = len;
      do {
        let b = n % 128;
        n = Math.floor(n / 128);
        if (n > 0) b |= 0x80;
        out.push(b);
      } while (n > 0);
      return Buffer.concat([Buffer.from(out), Buffer.alloc(len)]);
    };
    const stream = Buffer.concat([pkt(0), pkt(150), pkt(200), pkt(3)]);
    for (let i = 0; i < stream.length; i += 7)
      expect(g.feed(stream.subarray(i, i + 7))).toEqual({ ok: true });
    // 16 MB announced: refused on the length bytes, before any body.
    const huge = pkt(16 * 1024 * 1024).subarray(0, 5);
    expect(new MqttFrameGuard(200).feed(huge)).toMatchObject({ ok: false, reason: "packet_too_large" });
    expect(new MqttFrameGuard(1e9).feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff]))).toMatchObject({
      ok: false,
      reason: "malformed",
    });
  });
});

describe("RetainedBudget", () => {
  test("counts topics and bytes per owner; replacing and clearing give budget back; control is exempt", () => {
    const b = new RetainedBudget(2, 100);
    expect(b.admit("a", "t1", 40)).toBe(true);
    expect(b.admit("a", "t1", 60)).toBe(true); // replaces, still one topic
    expect(b.admit("a", "t2", 50)).toBe(false); // 110 bytes
    expect(b.admit("a", "t2", 40)).toBe(true);
    expect(b.admit("a", "t3", 1)).toBe(false); // a third topic
    expect(b.usage("a")).toEqual({ topics: 2, bytes: 100 });
    expect(b.admit("a", "t1", 0)).toBe(true); // cleared
    expect(b.admit("a", "t3", 1)).toBe(true);
    expect(b.admit("control", "r1", 10_000, true)).toBe(true);
    expect(b.usage("control")).toEqual({ topics: 0, bytes: 0 });
    // Another owner's topic taken over: the first owner gets its budget back.
    expect(b.admit("b", "t3", 5)).toBe(true);
    expect(b.usage("a")).toEqual({ topics: 1, bytes: 40 });
  });
});

describe("announceRefusal", () => {
  const policy = { maxLoadUnits: 1000, maxStreams: 500 };
  test("a plausible announce passes", () => {
    expect(announceRefusal(sampleAnnounce("n1"), policy)).toBeUndefined();
    expect(
      announceRefusal(sampleAnnounce("n1", { ingest: { srt: "n1.example:10000-10100" } }), policy),
    ).toBeUndefined();
  });
  test("implausible capacity, bad schemes, credentials in URLs and foreign hosts are refused", () => {
    const bad = [
      sampleAnnounce("n1", { capacity: { loadUnits: 1e9 } }),
      sampleAnnounce("n1", { capacity: { loadUnits: Number.POSITIVE_INFINITY } }),
      sampleAnnounce("n1", { capacity: { loadUnits: 10, maxStreams: 1e6 } }),
      sampleAnnounce("n1", { publicUrl: "javascript:alert(1)" }),
      sampleAnnounce("n1", { publicUrl: "file:///etc/passwd" }),
      sampleAnnounce("n1", { publicUrl: "http://user:pw@n1.example/" }),
      sampleAnnounce("n1", { publicUrl: "http://n1.example/?x=1" }),
      sampleAnnounce("n1", { publicUrl: "not a url" }),
      sampleAnnounce("n1", { ingest: { rtmp: "http://n1.example/live" } }),
      sampleAnnounce("n1", { ingest: { relay: "file:///x" } }),
      sampleAnnounce("n1", { ingest: { srt: "n1.example:99999" } }),
      sampleAnnounce("n1", { ingest: { srt: "srt://x" } }),
    ];
    for (const a of bad) expect(announceRefusal(a, policy)).toBeString();
    const hosts = { ...policy, hosts: [".example.net", "origin.local"] };
    expect(
      announceRefusal(sampleAnnounce("n1", { publicUrl: "http://e1.example.net:8090", ingest: {} }), hosts),
    ).toBeUndefined();
    expect(
      announceRefusal(sampleAnnounce("n1", { publicUrl: "http://evil.test/", ingest: {} }), hosts),
    ).toContain("NODE_URL_HOSTS");
    expect(
      announceRefusal(
        sampleAnnounce("n1", {
          publicUrl: "http://e1.example.net/",
          ingest: { rtmp: "rtmp://127.0.0.1/live" },
        }),
        hosts,
      ),
    ).toContain("NODE_URL_HOSTS");
    expect(hostAllowed("example.net", [".example.net"])).toBe(true);
    expect(hostAllowed("badexample.net", [".example.net"])).toBe(false);
  });
});

describe("mosquitto files", () => {
  test("our $7$ hashes and mosquitto_passwd's agree both ways", () => {
    const h = mosquittoPasswordHash("secret-password-123", Buffer.alloc(12, 7));
    expect(h).toMatch(/^\$7\$101\$[A-Za-z0-9+/=]{16}\$[A-Za-z0-9+/=]{88}$/);
    expect(mosquittoPasswordMatches("secret-password-123", h)).toBe(true);
    expect(mosquittoPasswordMatches("wrong", h)).toBe(false);
    const dir = mkdtempSync(join(tmpdir(), "dionysia-pw-"));
    try {
      const r = spawnSync("mosquitto_passwd", ["-c", "-b", join(dir, "pw"), "alice", "secret-password-123"]);
      if (r.error) return console.warn("mosquitto_passwd not installed: cross-check skipped");
      const line = readFileSync(join(dir, "pw"), "utf8").trim();
      expect(mosquittoPasswordMatches("secret-password-123", line.split(":")[1] as string)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("user names that would break the files, short passwords and duplicates are refused", () => {
    const control = [{ username: "dionysia.control", password: "x".repeat(16) }];
    expect(() =>
      mosquittoPasswordFile({ nodes: [], control: [{ username: "a:b", password: "x".repeat(16) }] }),
    ).toThrow();
    expect(() =>
      mosquittoPasswordFile({ nodes: [], control: [{ username: "dionysia.control", password: "short" }] }),
    ).toThrow();
    expect(() => mosquittoPasswordFile({ nodes: ["n1"], control })).toThrow(); // no secret
    expect(() =>
      mosquittoPasswordFile({ nodes: ["n1", "n1"], nodeSecret: "s".repeat(20), control }),
    ).toThrow();
  });

  test("during a rotation, nodes not yet moved keep their password from the previous secret", () => {
    const control = [{ username: "dionysia.control", password: "x".repeat(16) }];
    expect(() => mosquittoPasswordFile({ nodes: [], nodesOnPrevious: ["n1"], control })).toThrow();
    const rolling = mosquittoPasswordFile({
      nodes: ["n1"],
      nodeSecret: "new".repeat(8),
      nodesOnPrevious: ["n2"],
      nodeSecretPrevious: "old".repeat(8),
      control,
    });
    const hashOf = (u: string) =>
      rolling
        .split("\n")
        .find((l) => l.startsWith(`${u}:`))
        ?.slice(u.length + 1) ?? "";
    expect(mosquittoPasswordMatches(nodePassword("new".repeat(8), "n1"), hashOf("n1"))).toBe(true);
    expect(mosquittoPasswordMatches(nodePassword("old".repeat(8), "n2"), hashOf("n2"))).toBe(true);
  });

  test("the CLI prints a node's password and writes the three files, passwd 0600", () => {
    const env = { ...process.env };
    process.env.MQTT_NODE_SECRET = "cli-secret-0123456789abcdef";
    process.env.MQTT_CONTROL_PASSWORD = "cli-control-0123456789";
    process.env.MQTT_ROUTER_PASSWORD = "cli-router-0123456789";
    const dir = mkdtempSync(join(tmpdir(), "dionysia-cli-"));
    try {
      expect(run(["node-password", "edge-1"])).toBe(nodePassword("cli-secret-0123456789abcdef", "edge-1"));
      run(["mosquitto", "--out", dir, "--nodes", "edge-1,edge-2", "--host", "127.0.0.1"]);
      const passwd = readFileSync(join(dir, "passwd"), "utf8");
      expect(
        passwd
          .split("\n")
          .filter(Boolean)
          .map((l) => l.split(":")[0]),
      ).toEqual(["dionysia.control", "dionysia.router", "edge-1", "edge-2"]);
      expect(statSync(join(dir, "passwd")).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(dir, "acl"), "utf8")).toContain("pattern write dionysia/v1/nodes/%u/announce");
      const conf = readFileSync(join(dir, "mosquitto.conf"), "utf8");
      expect(conf).toContain("allow_anonymous false");
      expect(conf).toContain("listener 1883 127.0.0.1");
      expect(conf).toContain("use_username_as_clientid true");
      expect(conf).toContain(`max_packet_size ${256 * 1024}`);
    } finally {
      process.env = env;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the dashboard user: a password line, read-only ACL on the four topic kinds, a WebSocket listener", () => {
    const env = { ...process.env };
    process.env.MQTT_CONTROL_PASSWORD = "cli-control-0123456789";
    process.env.MQTT_DASHBOARD_PASSWORD = "cli-dashboard-0123456789";
    delete process.env.MQTT_ROUTER_PASSWORD;
    const dir = mkdtempSync(join(tmpdir(), "dionysia-cli-"));
    try {
      run(["mosquitto", "--out", dir, "--host", "127.0.0.1", "--ws-port", "1884"]);
      const passwd = readFileSync(join(dir, "passwd"), "utf8");
      const dashLine = passwd.split("\n").find((l) => l.startsWith("dionysia.dashboard:")) ?? "";
      expect(
        mosquittoPasswordMatches("cli-dashboard-0123456789", dashLine.slice(dashLine.indexOf(":") + 1)),
      ).toBe(true);
      const acl = readFileSync(join(dir, "acl"), "utf8");
      const block =
        acl.slice(acl.indexOf("user dionysia.dashboard")).trim().split("\n\n")[0]?.split("\n") ?? [];
      expect(block).toEqual([
        "user dionysia.dashboard",
        "topic deny dionysia/v1/nodes/dionysia.dashboard/#",
        "topic read dionysia/v1/nodes/+/telemetry",
        "topic read dionysia/v1/nodes/+/state",
        "topic read dionysia/v1/nodes/+/announce",
        "topic read dionysia/v1/nodes/+/streams/+/status",
        "topic read dionysia/v1/events/+",
      ]);
      const conf = readFileSync(join(dir, "mosquitto.conf"), "utf8");
      expect(conf).toContain("listener 1883 127.0.0.1\nuse_username_as_clientid true");
      expect(conf).toContain("listener 1884 127.0.0.1\nprotocol websockets\nuse_username_as_clientid true");
      // mosquitto 2.0.11 refuses to start with a WebSocket listener alone.
      expect(() =>
        mosquittoConf({
          listeners: [{ port: 1884, protocol: "websockets" }],
          passwordFile: "p",
          aclFile: "a",
        }),
      ).toThrow(/plain MQTT listener/);
    } finally {
      process.env = env;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
