// Prometheus metrics (prom-client) for the Node runtime: redirects, decision latency, probes, store errors, snapshot age.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Snapshot } from '../core/snapshot.js';
import type { Store } from '../store/store.js';

export class Metrics {
  readonly registry = new Registry();
  private readonly redirects: Counter<'mirror' | 'outcome'>;
  private readonly decision: Histogram<'outcome'>;
  private readonly probes: Counter<'mirror' | 'result'>;
  readonly storeErrors: Counter<'operation'>;

  constructor(snapshot: () => Snapshot, store?: Store) {
    collectDefaultMetrics({ register: this.registry, prefix: 'mirrorgate_process_' });
    this.redirects = new Counter({
      name: 'mirrorgate_redirects_total',
      help: 'Download answers by chosen mirror and outcome (mirror, origin, not-found, page)',
      labelNames: ['mirror', 'outcome'],
      registers: [this.registry],
    });
    this.decision = new Histogram({
      name: 'mirrorgate_decision_seconds',
      help: 'Time to decide one download (the pure core), in seconds',
      labelNames: ['outcome'],
      buckets: [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2],
      registers: [this.registry],
    });
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
      collect() {
        this.set((Date.now() - snapshot().builtAtMs) / 1000);
      },
    });
    new Gauge({
      name: 'mirrorgate_snapshot_version',
      help: 'Version of the routing snapshot in use',
      registers: [this.registry],
      collect() {
        this.set(snapshot().version);
      },
    });
    new Gauge({
      name: 'mirrorgate_mirrors',
      help: 'Mirrors by status',
      labelNames: ['status'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const m of snapshot().mirrors) this.inc({ status: m.status });
      },
    });
    new Gauge({
      name: 'mirrorgate_store_available',
      help: '1 while the shared store is reachable',
      registers: [this.registry],
      collect() {
        this.set(store && !store.status().available ? 0 : 1);
      },
    });
  }

  observeDecision(seconds: number, outcome: string, mirror: string): void {
    this.decisionBy(outcome).observe(seconds);
    this.redirectsBy(mirror, outcome).inc();
  }

  // prom-client's labels() hashes the label set on every call; a download answer needs only a cached child.
  private readonly decisionChildren = new Map<string, ReturnType<Histogram<'outcome'>['labels']>>();
  private readonly redirectChildren = new Map<string, ReturnType<Counter<'mirror' | 'outcome'>['labels']>>();

  private decisionBy(outcome: string) {
    let child = this.decisionChildren.get(outcome);
    if (!child) this.decisionChildren.set(outcome, (child = this.decision.labels(outcome)));
    return child;
  }

  private redirectsBy(mirror: string, outcome: string) {
    const key = `${mirror}\n${outcome}`;
    let child = this.redirectChildren.get(key);
    if (!child) this.redirectChildren.set(key, (child = this.redirects.labels(mirror, outcome)));
    return child;
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
