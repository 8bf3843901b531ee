import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NodeTelemetry, validate } from "@dionysia/shared";
import { ByteCounter, CpuSampler, memoryUsage, RateMeter, systemTelemetry } from "../src/agent/telemetry.ts";

describe("telemetry sampling", () => {
  test("RateMeter turns byte totals into bits per second and survives resets and throws", () => {
    let total = 1000;
    const m = new RateMeter(() => total, 0);
    total = 1000 + 250_000;
    expect(m.sample(1000)).toBe(2_000_000);
    total = 10; // counter reset (source restarted)
    expect(m.sample(2000)).toBe(0);
    total = 1010;
    expect(m.sample(4000)).toBe(4000);
    const broken = new RateMeter(() => {
      throw new Error("gone");
    }, 0);
    expect(broken.sample(1000)).toBe(0);
  });

  test("CpuSampler reports a busy fraction while a core spins", () => {
    const s = new CpuSampler();
    const end = Date.now() + 300;
    let x = 0;
    while (Date.now() < end) x += Math.sqrt(x + 1);
    const v = s.sample();
    expect(v).toBeGreaterThan(0);
    expect(v).toBeLessThanOrEqual(1);
  });

  test("memoryUsage reads MemAvailable, and falls back to os when the file is missing", () => {
    const dir = mkdtempSync(join(tmpdir(), "dionysia-meminfo-"));
    try {
      const f = join(dir, "meminfo");
      writeFileSync(f, "MemTotal:        4000 kB\nMemFree:  100 kB\nMemAvailable:    1000 kB\n");
      expect(memoryUsage(f)).toEqual({ usedBytes: 3000 * 1024, totalBytes: 4000 * 1024 });
      const fallback = memoryUsage(join(dir, "missing"));
      expect(fallback.totalBytes).toBeGreaterThan(0);
      expect(fallback.usedBytes).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("systemTelemetry produces valid telemetry with load and rates", () => {
    let now = 10_000;
    const ingress = new ByteCounter();
    const egress = new ByteCounter();
    const src = systemTelemetry({
      capacity: () => 55,
      streams: () => [
        { id: "a", status: "live", load: 7 },
        { id: "b", status: "starting", load: 3 },
      ],
      ingressBytes: ingress.total,
      egressBytes: egress.total,
      now: () => now,
    });
    ingress.add(500_000);
    egress.add(1_000_000);
    egress.add(-5);
    now += 2000;
    const t = src.sample();
    expect(validate(NodeTelemetry, t)).toBeUndefined();
    expect(t).toMatchObject({
      ts: 12_000,
      loadUsed: 10,
      loadCapacity: 55,
      ingressBps: 2_000_000,
      egressBps: 4_000_000,
    });
    expect(t.streams).toHaveLength(2);
    expect(t.memory.totalBytes).toBeGreaterThan(0);
  });
});
