/**
 * Telemetry sampling for the origin agent: CPU busy fraction from os.cpus() deltas, memory
 * from /proc/meminfo (MemAvailable, falling back to os.freemem), and bit rates from monotonic
 * byte counters (media server ingress, HTTP egress).
 */
import { readFileSync } from "node:fs";
import { cpus, freemem, totalmem } from "node:os";
import type { NodeTelemetry, StreamStats } from "@dionysia/shared";

export interface TelemetrySource {
  sample(): NodeTelemetry;
}

/** Busy fraction of all cores between two calls (0..1). The first call covers uptime. */
export class CpuSampler {
  private prevIdle = 0;
  private prevTotal = 0;

  constructor() {
    this.sample();
  }

  sample(): number {
    let idle = 0;
    let total = 0;
    for (const c of cpus()) {
      const t = c.times;
      idle += t.idle;
      total += t.user + t.nice + t.sys + t.irq + t.idle;
    }
    const dIdle = idle - this.prevIdle;
    const dTotal = total - this.prevTotal;
    this.prevIdle = idle;
    this.prevTotal = total;
    if (dTotal <= 0) return 0;
    return Math.min(1, Math.max(0, 1 - dIdle / dTotal));
  }
}

/** Turns a monotonic byte total into bits per second between samples. */
export class RateMeter {
  private prevBytes: number;
  private prevAt: number;

  constructor(
    private readonly total: () => number,
    now = Date.now(),
  ) {
    this.prevBytes = safeTotal(total);
    this.prevAt = now;
  }

  /** Bits per second since the previous call; 0 on a counter reset (restart of the source). */
  sample(now = Date.now()): number {
    const bytes = safeTotal(this.total);
    const dt = (now - this.prevAt) / 1000;
    const db = bytes - this.prevBytes;
    this.prevBytes = bytes;
    this.prevAt = now;
    if (dt <= 0 || db < 0) return 0;
    return Math.round((db * 8) / dt);
  }
}

function safeTotal(f: () => number): number {
  try {
    const v = f();
    return Number.isFinite(v) && v >= 0 ? v : 0;
  } catch {
    return 0;
  }
}

/** A counter that other modules bump (e.g. bytes sent by the HTTP server). */
export class ByteCounter {
  private n = 0;
  add(bytes: number): void {
    if (bytes > 0) this.n += bytes;
  }
  readonly total = (): number => this.n;
}

export function memoryUsage(meminfo = "/proc/meminfo"): { usedBytes: number; totalBytes: number } {
  try {
    const text = readFileSync(meminfo, "utf8");
    const total = /^MemTotal:\s+(\d+) kB/m.exec(text);
    const avail = /^MemAvailable:\s+(\d+) kB/m.exec(text);
    if (total && avail) {
      const t = Number(total[1]) * 1024;
      return { usedBytes: t - Number(avail[1]) * 1024, totalBytes: t };
    }
  } catch {
    // Not Linux: fall through.
  }
  return { usedBytes: totalmem() - freemem(), totalBytes: totalmem() };
}

export interface SystemTelemetryOptions {
  /** Announced capacity in load units. */
  capacity: () => number;
  /** Per-stream stats from the supervisor. */
  streams?: () => StreamStats[];
  /** Load units in use; default: the sum of the streams' `load`. */
  loadUsed?: () => number;
  /** Monotonic byte totals. */
  ingressBytes?: () => number;
  egressBytes?: () => number;
  now?: () => number;
}

/** Default telemetry source: host CPU and memory plus what the supervisor and servers report. */
export function systemTelemetry(o: SystemTelemetryOptions): TelemetrySource {
  const now = o.now ?? Date.now;
  const cpu = new CpuSampler();
  const ingress = new RateMeter(o.ingressBytes ?? (() => 0), now());
  const egress = new RateMeter(o.egressBytes ?? (() => 0), now());
  return {
    sample(): NodeTelemetry {
      const t = now();
      const streams = o.streams?.() ?? [];
      const used = o.loadUsed ? o.loadUsed() : streams.reduce((s, x) => s + (x.load ?? 0), 0);
      return {
        ts: t,
        cpu: Math.round(cpu.sample() * 1000) / 1000,
        memory: memoryUsage(),
        loadUsed: Math.max(0, used),
        loadCapacity: Math.max(0, o.capacity()),
        ingressBps: ingress.sample(t),
        egressBps: egress.sample(t),
        streams,
      };
    },
  };
}
