/**
 * Counters and histograms for the per-call hot path, exposed through the same prom-client registry.
 * prom-client validates and hashes the label object on every update (a few hundred ns each, several
 * per call); these keep one series per distinct label combination, found through Maps of the label values,
 * and hand the registry finished series at scrape time through the `get()` contract it reads.
 * Labels must stay bounded, as with any Prometheus metric: callers pass enumerations, never ids.
 */
import type { Registry } from 'prom-client';

type Labels<L extends string> = Record<L, string>;

const NO_LABELS = Object.freeze({});

interface Sample {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

abstract class HotMetric<L extends string, S> {
  readonly name: string;
  readonly help: string;
  abstract readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum';
  protected readonly labelNames: readonly L[];
  protected series: Array<{ labels: Labels<L>; s: S }> = [];
  // Label values → series, one Map level per label name: found without building a key string per update.
  #index = new Map<string, unknown>();

  constructor(opts: { name: string; help: string; labelNames: readonly L[]; registers: Registry[] }) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames;
    // prom-client's registry takes any metric honouring its get()/reset() contract.
    for (const r of opts.registers) r.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  protected seriesFor(labels: Labels<L>, init: () => S): S {
    const names = this.labelNames;
    let level = this.#index;
    // The last level holds the series; with no labels, the series sits under the empty key.
    for (let i = 0; i < names.length - 1; i++) {
      const v = String(labels[names[i]!]);
      let next = level.get(v) as Map<string, unknown> | undefined;
      if (!next) level.set(v, (next = new Map()));
      level = next;
    }
    const last = names.length > 0 ? String(labels[names[names.length - 1]!]) : '';
    let entry = level.get(last) as { labels: Labels<L>; s: S } | undefined;
    if (!entry) {
      // Keep a copy in label-name order: the caller's object may be reused or carry extra members.
      const own = {} as Labels<L>;
      for (const n of names) own[n] = String(labels[n]);
      entry = { labels: own, s: init() };
      level.set(last, entry);
      this.series.push(entry);
    }
    return entry.s;
  }

  reset(): void {
    this.series = [];
    this.#index.clear();
  }

  protected abstract samples(): Sample[];

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.samples() });
  }
}

export class HotCounter<L extends string> extends HotMetric<L, { value: number }> {
  readonly type = 'counter';

  inc(labels: Labels<L>, value = 1): void {
    if (!(value >= 0) || !Number.isFinite(value)) throw new RangeError(`${this.name}: a counter only goes up by finite amounts`);
    this.seriesFor(labels, () => ({ value: 0 })).value += value;
  }

  protected samples(): Sample[] {
    return this.series.map(({ labels, s }) => ({ labels, value: s.value }));
  }
}

interface Buckets {
  counts: Float64Array;
  sum: number;
  count: number;
}

export class HotHistogram<L extends string> extends HotMetric<L, Buckets> {
  readonly type = 'histogram';
  readonly #bounds: readonly number[];

  constructor(opts: { name: string; help: string; labelNames: readonly L[]; buckets: readonly number[]; registers: Registry[] }) {
    super(opts);
    this.#bounds = [...opts.buckets].sort((a, b) => a - b);
  }

  /** `observe(labels, value)`, or `observe(value)` for a histogram without labels (as prom-client). */
  observe(labels: Labels<L> | number, value?: number): void {
    const v = typeof labels === 'number' ? labels : value;
    if (v === undefined || !Number.isFinite(v)) throw new RangeError(`${this.name}: observed a non-finite value`);
    const b = this.seriesFor(typeof labels === 'number' ? (NO_LABELS as Labels<L>) : labels, () => ({ counts: new Float64Array(this.#bounds.length), sum: 0, count: 0 }));
    // Per-bucket counts here; the cumulative `le` series Prometheus expects are summed at scrape time.
    let i = 0;
    while (i < this.#bounds.length && v > this.#bounds[i]!) i++;
    if (i < this.#bounds.length) b.counts[i]! += 1;
    b.sum += v;
    b.count += 1;
  }

  protected samples(): Sample[] {
    const out: Sample[] = [];
    for (const { labels, s } of this.series) {
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += s.counts[i]!;
        out.push({ metricName: `${this.name}_bucket`, labels: { le, ...labels }, value: cumulative });
      });
      out.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...labels }, value: s.count });
      out.push({ metricName: `${this.name}_sum`, labels, value: s.sum });
      out.push({ metricName: `${this.name}_count`, labels, value: s.count });
    }
    return out;
  }
}
