/**
 * Hand-written Prometheus text exposition (ADR 0053): prom-client needs Node's `process`/`perf_hooks`
 * APIs that edge runtimes do not promise, and the router exports a handful of series only.
 * Hot-path updates add to a number in a pre-resolved cell; text is built only on scrape.
 */

type Labels = Record<string, string>;

function labelKey(labels: Labels | undefined): string {
  if (!labels) return "";
  const parts: string[] = [];
  for (const [k, val] of Object.entries(labels)) {
    parts.push(`${k}="${val.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  }
  return parts.join(",");
}

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  /** One mutable cell per label set: a hot-path increment is a field add, no Map operation. */
  private readonly values = new Map<string, { v: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  private cell(key: string): { v: number } {
    let c = this.values.get(key);
    if (!c) {
      c = { v: 0 };
      this.values.set(key, c);
    }
    return c;
  }
  /** Pre-resolved child: the hot path keeps the returned function and skips label formatting. */
  child(labels: Labels): (n?: number) => void {
    const c = this.cell(labelKey(labels));
    return (n = 1) => {
      c.v += n;
    };
  }
  inc(labels?: Labels, n = 1): void {
    this.cell(labelKey(labels)).v += n;
  }
  get(labels?: Labels): number {
    return this.values.get(labelKey(labels))?.v ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [k, c] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ""} ${c.v}`);
    return lines.join("\n");
  }
}

export class Gauge implements Metric {
  private value = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly collect?: () => number,
  ) {}
  set(n: number): void {
    this.value = n;
  }
  get(): number {
    return this.collect ? this.collect() : this.value;
  }
  render(): string {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} gauge`,
      `${this.name} ${this.get()}`,
    ].join("\n");
  }
}

export class Histogram implements Metric {
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {
    this.counts = new Float64Array(buckets.length);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) {
      if (v <= (b[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        return;
      }
    }
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    let cum = 0;
    this.buckets.forEach((le, i) => {
      cum += this.counts[i] as number;
      lines.push(`${this.name}_bucket{le="${le}"} ${cum}`);
    });
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`);
    lines.push(`${this.name}_sum ${this.sum}`);
    lines.push(`${this.name}_count ${this.count}`);
    return lines.join("\n");
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];
  register<M extends Metric>(m: M): M {
    this.metrics.push(m);
    return m;
  }
  render(): string {
    return `${this.metrics.map((m) => m.render()).join("\n")}\n`;
  }
}

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
