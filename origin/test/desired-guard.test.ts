/**
 * Issue 9 item 3 at the origin: what desired state says to pull is vetted before anything is
 * pulled or signed (pull-guard), and desired versions are bounded (no lock-out). The last test
 * runs the real agent over mosquitto with a forged 2^53-1 version.
 */
import { describe, expect, test } from "bun:test";
import { createLogger, type NodeDesired, STRICT_PULL_POLICY, topics } from "@dionysia/shared";
import { hasMosquitto, startMosquitto, waitFor } from "@dionysia/shared/testkit";
import mqtt from "mqtt";
import {
  sampleAnnounce,
  sampleDesiredStream,
  sampleTelemetry,
} from "../../control/test/helpers/mqttFixtures.ts";
import { OriginAgent } from "../src/agent/agent.ts";
import { implausibleVersion, MAX_DESIRED_VERSION } from "../src/agent/desired-version.ts";
import { verifyRelayToken } from "../src/auth/relay-token.ts";
import { guardDesired, type PullGuardOptions } from "../src/pull-guard.ts";
import { captureLogger } from "./media-helpers/fixtures.ts";

const SECRET = "relay-secret-for-the-guard-test-0123";
const dns = async (h: string) => {
  const table: Record<string, string[]> = {
    "peer.origins.example.com": ["203.0.113.20"],
    "evil.example.net": ["198.51.100.66"],
    "rebind.example.net": ["169.254.169.254"],
    "internal.example.com": ["10.0.0.9"],
  };
  const a = table[h];
  if (!a) throw new Error("ENOTFOUND");
  return a;
};

function opts(over: Partial<PullGuardOptions> = {}) {
  const { logger, lines } = captureLogger();
  return {
    o: { policy: STRICT_PULL_POLICY, trustedHosts: [], relaySecret: SECRET, logger, resolve: dns, ...over },
    lines,
  };
}

describe("pull guard", () => {
  test("inside pull sources are dropped with the reason; public ones kept untouched", async () => {
    const { o, lines } = opts();
    const out = await guardDesired(
      [
        sampleDesiredStream("s-ok", { source: "rtsp://203.0.113.5/cam" }),
        sampleDesiredStream("s-meta", { source: "http://169.254.169.254/latest/meta-data/" }),
        sampleDesiredStream("s-lo", { source: "rtmp://127.0.0.1:1935/live/x" }),
        sampleDesiredStream("s-dns", { source: "rtsp://rebind.example.net/cam" }),
        sampleDesiredStream("s-nx", { source: "rtsp://nx.example.net/cam" }),
        sampleDesiredStream("s-push"),
      ],
      o,
    );
    expect(out.map((s) => s.id)).toEqual(["s-ok", "s-push"]);
    expect(out[0]?.source).toBe("rtsp://203.0.113.5/cam");
    const dropped = lines.filter((l) => String(l.msg).includes("pull source refused"));
    expect(dropped.map((l) => l.streamId)).toEqual(["s-meta", "s-lo", "s-dns", "s-nx"]);
    expect(String(dropped[0]?.reason)).toContain("metadata");
  });

  test("the relay token is appended only to a relay URL of this stream on a trusted host", async () => {
    const { o, lines } = opts();
    const out = await guardDesired(
      [
        sampleDesiredStream("s1", {
          role: "transcode",
          pullFrom: "rtmp://peer.origins.example.com:1935/relay/s1",
        }),
        // An attacker URL with the stream id, another path, a query, credentials, another stream's id:
        sampleDesiredStream("s2", { role: "transcode", pullFrom: "http://evil.example.net/relay/s2" }),
        sampleDesiredStream("s3", { role: "transcode", pullFrom: "rtmp://evil.example.net/steal?x=s3" }),
        sampleDesiredStream("s4", {
          role: "transcode",
          pullFrom: "rtmp://u:p@peer.origins.example.com/relay/s4",
        }),
        sampleDesiredStream("s5", {
          role: "transcode",
          pullFrom: "rtmp://peer.origins.example.com/relay/s1",
        }),
        sampleDesiredStream("s6", {
          role: "transcode",
          pullFrom: "rtmp://internal.example.com:1935/relay/s6",
        }),
        sampleDesiredStream("s7", { role: "transcode", pullFrom: "rtmp://169.254.169.254/relay/s7" }),
      ],
      o,
    );
    expect(out.map((s) => s.id)).toEqual(["s1"]);
    const u = new URL(out[0]!.pullFrom!);
    expect(verifyRelayToken(SECRET, "s1", u.searchParams.get("token") ?? undefined)).toBe(true);
    const logged = lines.filter((l) => String(l.msg).includes("relay URL not trusted"));
    expect(logged.map((l) => l.streamId)).toEqual(["s2", "s3", "s4", "s5", "s6", "s7"]);
    expect(lines.map((l) => JSON.stringify(l)).join("\n")).not.toContain("token=");
  });

  test("RELAY_TRUSTED_HOSTS: only listed hosts get the token (names, *.suffix, CIDRs, private allowed)", async () => {
    const { o } = opts({ trustedHosts: ["*.origins.example.com", "10.0.0.0/8"] });
    const out = await guardDesired(
      [
        sampleDesiredStream("a", { role: "transcode", pullFrom: "rtmp://peer.origins.example.com/relay/a" }),
        sampleDesiredStream("b", { role: "transcode", pullFrom: "rtmp://internal.example.com/relay/b" }),
        sampleDesiredStream("c", { role: "transcode", pullFrom: "rtmp://evil.example.net/relay/c" }),
        sampleDesiredStream("d", { role: "transcode", pullFrom: "rtsp://10.1.2.3:8554/relay/d" }),
        sampleDesiredStream("e", {
          role: "transcode",
          pullFrom: "rtmp://origins.example.com.evil.example.net/relay/e",
        }),
      ],
      o,
    );
    expect(out.map((s) => s.id)).toEqual(["a", "b", "d"]);
  });
});

describe("desired versions are bounded", () => {
  test("pure rule", () => {
    expect(implausibleVersion(1, undefined)).toBeUndefined();
    expect(implausibleVersion(MAX_DESIRED_VERSION, undefined)).toBeUndefined();
    expect(implausibleVersion(2 ** 53 - 1, undefined)).toContain("2^40");
    expect(implausibleVersion(16 + 1_000_000, 16)).toBeUndefined();
    expect(implausibleVersion(17 + 1_000_000, 16)).toContain("jumps");
  });

  test.skipIf(!hasMosquitto)(
    "a forged 2^53-1 version is dropped; control's next version still applies",
    async () => {
      const broker = await startMosquitto();
      const applied: NodeDesired[] = [];
      const a = new OriginAgent({
        mqttUrl: broker.url,
        nodeId: "agent-v",
        announce: () => sampleAnnounce("agent-v", { ts: Date.now() }),
        telemetry: () => sampleTelemetry(),
        onDesired: (d) => void applied.push(d),
        logger: createLogger({ service: "test", level: "silent" }),
        intervalMs: 2000,
        reconnectPeriodMs: 200,
      });
      const c = mqtt.connect(broker.url, { protocolVersion: 4 });
      try {
        await a.start();
        if (!c.connected) await new Promise((r) => c.once("connect", r));
        const topic = topics.nodeDesired("agent-v");
        const d = (version: number, streams = [sampleDesiredStream("s1")]) =>
          JSON.stringify({ version, nodeId: "agent-v", streams });
        await c.publishAsync(topic, d(16), { qos: 1 });
        await waitFor("v16", () => applied.length === 1, 5000);
        await c.publishAsync(topic, d(2 ** 53 - 1, []), { qos: 1 });
        await c.publishAsync(topic, d(16 + 2_000_000, []), { qos: 1 });
        await waitFor("forged versions dropped", () => a.counts.desiredDropped === 2, 5000);
        expect(a.desired?.version).toBe(16);
        expect(a.desired?.streams.length).toBe(1); // the live stream was not stopped
        await c.publishAsync(topic, d(17), { qos: 1 });
        await waitFor("v17 applied: control is not locked out", () => applied.length === 2, 5000);
      } finally {
        await c.endAsync(true);
        await a.stop();
        await broker.stop();
      }
    },
  );
});
