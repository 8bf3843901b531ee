import { describe, expect, test } from "bun:test";
import { loadConfig } from "../src/config.ts";
import {
  checkPullSource,
  classifyAddress,
  type PullPolicy,
  pullPolicyConfigSpecs,
  pullPolicyFrom,
  STRICT_PULL_POLICY,
} from "../src/pull-source.ts";

const fakeDns = (table: Record<string, string[]>) => async (h: string) => {
  const a = table[h];
  if (!a) throw new Error("ENOTFOUND");
  return a;
};

describe("pull source policy", () => {
  test("address classes", () => {
    expect(classifyAddress("127.0.0.1")).toBe("loopback");
    expect(classifyAddress("::1")).toBe("loopback");
    expect(classifyAddress("::ffff:127.0.0.1")).toBe("loopback");
    expect(classifyAddress("169.254.169.254")).toBe("metadata");
    expect(classifyAddress("fd00:ec2::254")).toBe("metadata");
    expect(classifyAddress("169.254.1.2")).toBe("link-local");
    expect(classifyAddress("fe80::1")).toBe("link-local");
    expect(classifyAddress("10.1.2.3")).toBe("private");
    expect(classifyAddress("172.31.255.255")).toBe("private");
    expect(classifyAddress("172.32.0.1")).toBe("public");
    expect(classifyAddress("192.168.0.1")).toBe("private");
    expect(classifyAddress("100.64.0.1")).toBe("private");
    expect(classifyAddress("fd12::1")).toBe("private");
    expect(classifyAddress("0.0.0.0")).toBe("unspecified");
    expect(classifyAddress("::")).toBe("unspecified");
    expect(classifyAddress("239.1.1.1")).toBe("multicast");
    expect(classifyAddress("8.8.8.8")).toBe("public");
    expect(classifyAddress("2001:db8::1")).toBe("public");
  });

  test("schemes: only the pullable ones", async () => {
    for (const u of [
      "file:///etc/passwd",
      "gopher://1.2.3.4/",
      "ftp://1.2.3.4/x",
      "concat:a|b",
      "not a url",
    ]) {
      const r = await checkPullSource(u, STRICT_PULL_POLICY);
      expect(r.ok).toBe(false);
    }
    for (const s of ["rtsp", "rtsps", "rtmp", "rtmps", "srt", "http", "https"])
      expect((await checkPullSource(`${s}://8.8.8.8:1234/x`, STRICT_PULL_POLICY)).ok).toBe(true);
  });

  test("inside destinations refused by default, with the reason; allowed by the operator", async () => {
    const bad = [
      "rtsp://127.0.0.1/cam",
      "rtmp://[::1]:1935/live/x",
      "http://169.254.169.254/latest/meta-data/",
      "https://10.0.0.5/x.m3u8",
      "srt://192.168.1.10:9000",
      "rtsp://[::ffff:127.0.0.1]/x",
      "rtmp://0.0.0.0/live/x",
    ];
    for (const u of bad) {
      const r = await checkPullSource(u, STRICT_PULL_POLICY);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/is a (loopback|metadata|private|unspecified) address/);
    }
    const dev: PullPolicy = { allowPrivate: true, allowCidrs: [] };
    expect((await checkPullSource("rtsp://127.0.0.1/cam", dev)).ok).toBe(true);
    // Metadata stays refused even with PULL_ALLOW_PRIVATE; only an explicit CIDR opens it.
    expect((await checkPullSource("http://169.254.169.254/", dev)).ok).toBe(false);
    expect(
      (
        await checkPullSource("http://169.254.169.254/", {
          allowPrivate: false,
          allowCidrs: ["169.254.169.254/32"],
        })
      ).ok,
    ).toBe(true);
    const cidr: PullPolicy = { allowPrivate: false, allowCidrs: ["10.20.0.0/16"] };
    expect((await checkPullSource("rtsp://10.20.3.4/cam", cidr)).ok).toBe(true);
    expect((await checkPullSource("rtsp://10.21.3.4/cam", cidr)).ok).toBe(false);
  });

  test("host names are resolved and every address checked", async () => {
    const dns = fakeDns({
      "cam.example.com": ["203.0.113.9"],
      "evil.example.com": ["203.0.113.9", "127.0.0.1"],
      "meta.example.com": ["169.254.169.254"],
    });
    expect(await checkPullSource("rtsp://cam.example.com/x", STRICT_PULL_POLICY, dns)).toEqual({
      ok: true,
      addresses: ["203.0.113.9"],
    });
    const evil = await checkPullSource("rtsp://evil.example.com/x", STRICT_PULL_POLICY, dns);
    expect(evil).toEqual({
      ok: false,
      reason: expect.stringContaining("evil.example.com resolves to 127.0.0.1"),
    });
    expect((await checkPullSource("http://meta.example.com/", STRICT_PULL_POLICY, dns)).ok).toBe(false);
    expect((await checkPullSource("http://nx.example.com/", STRICT_PULL_POLICY, dns)).ok).toBe(false);
    // The real resolver: localhost is loopback.
    expect((await checkPullSource("rtmp://localhost/live/x", STRICT_PULL_POLICY)).ok).toBe(false);
  });

  test("env: PULL_ALLOW_PRIVATE and PULL_ALLOW_CIDRS, bad CIDRs refused at start", () => {
    expect(pullPolicyFrom(loadConfig(pullPolicyConfigSpecs, {}))).toEqual(STRICT_PULL_POLICY);
    expect(
      pullPolicyFrom(
        loadConfig(pullPolicyConfigSpecs, {
          PULL_ALLOW_PRIVATE: "1",
          PULL_ALLOW_CIDRS: "10.0.0.0/8, fd00::/8",
        }),
      ),
    ).toEqual({ allowPrivate: true, allowCidrs: ["10.0.0.0/8", "fd00::/8"] });
    expect(() => loadConfig(pullPolicyConfigSpecs, { PULL_ALLOW_CIDRS: "10.0.0.0/33" })).toThrow(
      /PULL_ALLOW_CIDRS/,
    );
  });
});
