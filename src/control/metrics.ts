// Prometheus metrics (prom-client) for the Node runtime: redirects, decision latency, probes, store errors, snapshot age.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { mirrorSummaries } from '../core/mirrorStatus.js';
import type { Snapshot } from '../core/snapshot.js';
import type { Store } from '../store/store.js';

export class Metrics {
  readonly registry = new Registry();
  private readonly redirects: Tally;
  private readonly decision: LatencyHistogram;
  private readonly probes: Counter<'mirror' | 'result'>;
  readonly storeErrors: Counter<'operation'>;

  constructor(snapshot: () => Snapshot, store?: Store) {
    collectDefaultMetrics({ register: this.registry, prefix: 'mirrorgate_' });
    this.redirects = new Tally('mirrorgate_redirects_total', 'Download answers by chosen mirror and outcome (mirror, origin, not-found, page)', [
      'mirror',
      'outcome',
    ]);
    this.decision = new LatencyHistogram(
      'mirrorgate_decision_seconds',
      'Time to decide one download (the pure core), in seconds',
      'outcome',
      [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2],
    );
    this.registry.registerMetric(this.redirects as unknown as Parameters<Registry['registerMetric']>[0]);
    this.registry.registerMetric(this.decision as unknown as Parameters<Registry['registerMetric']>[0]);
    this.probes = new Counter({
      name: 'mirrorgate_probes_total',
      help: 'Health probes by mirror and result (ok, failed)',
      labelNames: ['mirror', 'result'],
      registers: [this.registry],
    });
    this.storeErrors = new Counter({
      name: 'mirrorgate_store_errors_total',
      help: 'Failed store operations',
      labelNames: ['operation'],
      registers: [this.registry],
    });
    new Gauge({
      name: 'mirrorgate_snapshot_age_seconds',
      help: 'Seconds since the routing snapshot in use was built',
      registers: [this.registry],
      // A cluster's answer is its workers' (src/node/cluster.ts): the oldest snapshot in use, not a sum.
      aggregator: 'max',
      collect() {
        this.set((Date.now() - snapshot().builtAtMs) / 1000);
      },
    });
    new Gauge({
      name: 'mirrorgate_snapshot_version',
      help: 'Version of the routing snapshot in use',
      registers: [this.registry],
      aggregator: 'min',
      collect() {
        this.set(snapshot().version);
      },
    });
    new Gauge({
      name: 'mirrorgate_mirrors',
      help: 'Mirrors by status',
      labelNames: ['status'],
      registers: [this.registry],
      // Every worker counts the same mirrors: one worker's count, not the sum of them.
      aggregator: 'first',
      collect() {
        this.reset();
        // The status /mirrors and /api/v1/mirrors show (`pending` among them), counted once per snapshot there.
        for (const m of mirrorSummaries(snapshot())) this.inc({ status: m.status });
      },
    });
    new Gauge({
      name: 'mirrorgate_store_available',
      help: '1 while the shared store is reachable',
      registers: [this.registry],
      // 0 when any worker cannot reach it.
      aggregator: 'min',
      collect() {
        this.set(store && !store.status().available ? 0 : 1);
      },
    });
  }

  /** On every download answer: two Map lookups and a few additions, no label hashing or validation. */
  observeDecision(seconds: number, outcome: string, mirror: string): void {
    this.decision.observe(outcome, seconds);
    this.redirects.inc(mirror, outcome);
  }

  observeProbe(mirror: string, ok: boolean): void {
    this.probes.inc({ mirror, result: ok ? 'ok' : 'failed' });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** One exported sample, as prom-client's registry prints and the cluster aggregator sums them. */
interface Sample {
  labels: Record<string, string>;
  value: number;
  metricName?: string;
}

/**
 * The metric shapes prom-client's registry reads (name, help, type, get(), reset()), kept in plain Maps for the
 * download path: prom-client's own Counter and Histogram hash and validate the label set on every call, a
 * tenth of a plain 302's CPU. Same exposition, same cluster aggregation (summed).
 */
abstract class PlainMetric {
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram',
  ) {}
  abstract samples(): Sample[];
  abstract reset(): void;
  get(): { name: string; help: string; type: string; values: Sample[]; aggregator: string } {
    return { name: this.name, help: this.help, type: this.type, values: this.samples(), aggregator: this.aggregator };
  }
}

/** A counter over two labels, counted by (first, second) value. */
class Tally extends PlainMetric {
  /** second label's value → first label's value → count (outcomes are few, mirrors many). */
  private counts = new Map<string, Map<string, number>>();
  constructor(
    name: string,
    help: string,
    private readonly labelNames: readonly [first: string, second: string],
  ) {
    super(name, help, 'counter');
  }

  /** Counts one for the label values, in the order of labelNames. */
  inc(first: string, second: string): void {
    let bySecond = this.counts.get(second);
    if (!bySecond) this.counts.set(second, (bySecond = new Map()));
    bySecond.set(first, (bySecond.get(first) ?? 0) + 1);
  }

  samples(): Sample[] {
    const [firstName, secondName] = this.labelNames;
    const out: Sample[] = [];
    for (const [second, byFirst] of this.counts)
      for (const [first, value] of byFirst) out.push({ labels: { [firstName]: first, [secondName]: second }, value });
    return out;
  }

  reset(): void {
    this.counts = new Map();
  }
}

/** A histogram over one label: cumulative buckets, sum and count, as Prometheus expects. */
class LatencyHistogram extends PlainMetric {
  private cells = new Map<string, { buckets: Float64Array; sum: number; count: number }>();
  constructor(
    name: string,
    help: string,
    private readonly labelName: string,
    private readonly bounds: readonly number[],
  ) {
    super(name, help, 'histogram');
  }

  observe(label: string, value: number): void {
    let cell = this.cells.get(label);
    if (!cell) this.cells.set(label, (cell = { buckets: new Float64Array(this.bounds.length), sum: 0, count: 0 }));
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        cell.buckets[i]!++;
        break;
      }
    }
    cell.sum += value;
    cell.count++;
  }

  samples(): Sample[] {
    const out: Sample[] = [];
    for (const [label, cell] of this.cells) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += cell.buckets[i]!;
        out.push({ labels: { [this.labelName]: label, le: String(this.bounds[i]) }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      out.push({ labels: { [this.labelName]: label, le: '+Inf' }, value: cell.count, metricName: `${this.name}_bucket` });
      out.push({ labels: { [this.labelName]: label }, value: cell.sum, metricName: `${this.name}_sum` });
      out.push({ labels: { [this.labelName]: label }, value: cell.count, metricName: `${this.name}_count` });
    }
    return out;
  }

  reset(): void {
    this.cells = new Map();
  }
}
