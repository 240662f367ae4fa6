// A mirror's lifecycle steps no staff member takes: one added by hand goes active once a probe shows it up, an
// accepted offer's mirror goes active once a scan shows it carries its share. Audited and written like staff changes.
import { randomUUID } from 'node:crypto';
import type { AuditEntry, MirrorOverride } from '../core/records.js';
import type { Store } from '../store/store.js';
import type { ScanResult } from './scan.js';
import type { Serially } from './serialWrites.js';
import type { StateSync } from './stateSync.js';

export interface MirrorLifecycleOptions {
  store: Store;
  state: Pick<StateSync, 'override' | 'keepOverride' | 'noteAudit'>;
  /** The instance's queue of override writes (staff changes go through it too). */
  serially: Serially;
  /** The share of its files a scan must find on a syncing mirror to launch it (config scan.launchCompletion). */
  launchCompletion: number;
  clock: () => number;
}

export class MirrorLifecycle {
  constructor(private readonly opts: MirrorLifecycleOptions) {}

  /** A mirror added by hand goes into rotation once a probe has shown it up. */
  async activateIfPending(id: string): Promise<void> {
    if (this.opts.state.override(id)?.lifecycle !== 'pending') return;
    await this.opts.serially(() => this.activateNow(id));
  }

  /** An accepted mirror goes live once a scan shows it carries its share. */
  async launchIfReady(id: string, result: ScanResult): Promise<void> {
    if (this.opts.state.override(id)?.lifecycle !== 'syncing' || result.report.completion < this.opts.launchCompletion) return;
    await this.opts.serially(() => this.launchNow(id, result));
  }

  private activateNow(id: string): Promise<void> {
    return this.goActive(id, 'pending', { actor: 'prober', action: 'mirror.activate' });
  }

  private launchNow(id: string, result: ScanResult): Promise<void> {
    return this.goActive(id, 'syncing', { actor: 'scanner', action: 'mirror.launch', after: { completion: result.report.completion } });
  }

  /** `from` → active, audited write-ahead as staff changes are (AdminService.change). */
  private async goActive(
    id: string,
    from: 'pending' | 'syncing',
    step: { actor: 'prober' | 'scanner'; action: 'mirror.activate' | 'mirror.launch'; after?: Record<string, unknown> },
  ): Promise<void> {
    const { store, state, clock } = this.opts;
    // The store's copy: a staff change made since our last reload (here or elsewhere) must not be undone.
    const o = (await store.getOverrides()).get(id);
    if (o?.lifecycle !== from) return;
    const next: MirrorOverride = { ...o, lifecycle: 'active', updatedAt: clock(), updatedBy: step.actor };
    const entry: AuditEntry = {
      id: randomUUID(),
      at: clock(),
      actor: step.actor,
      action: step.action,
      target: `mirror:${id}`,
      before: { lifecycle: from },
      after: { lifecycle: 'active', ...step.after },
      applies: { override: next },
    };
    await store.appendAudit(entry);
    state.noteAudit(entry);
    state.keepOverride(id, next);
    await store.putOverride(id, next);
    await store.publish({ kind: 'override', mirror: id });
  }
}
