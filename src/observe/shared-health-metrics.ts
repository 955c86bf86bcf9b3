// steerdns_shared_health_*: where health comes from when vantage points share results, and how the store fares.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { SharedHealthStats } from '../health/shared/coordinator';

export function registerSharedHealthMetrics(registry: Registry, stats: () => SharedHealthStats | null): void {
  new Gauge({
    name: 'steerdns_shared_health_mode',
    help: 'Where health comes from: 1 for the current mode (shared: the global view; grace: the last global view, store unreachable; local: this vantage point alone).',
    labelNames: ['mode'],
    registers: [registry],
    collect() {
      this.reset();
      const s = stats();
      if (!s) return;
      for (const mode of ['shared', 'grace', 'local'] as const) this.set({ mode }, s.mode === mode ? 1 : 0);
    },
  });
  const gauge = (name: string, help: string, value: (s: SharedHealthStats) => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        const s = stats();
        if (s) this.set(value(s));
      },
    });
  };
  const counter = (name: string, help: string, value: (s: SharedHealthStats) => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        const s = stats();
        if (s) this.inc(value(s));
      },
    });
  };
  gauge('steerdns_shared_health_store_up', 'Whether the last round reached the shared health store (1) or not (0).', (s) => (s.store_up ? 1 : 0));
  gauge('steerdns_shared_health_vantage_points', 'Vantage points with fresh results, this one included.', (s) => s.vantage_points.length);
  counter('steerdns_shared_health_published_total', 'Probe results this vantage point published.', (s) => s.published_total);
  counter('steerdns_shared_health_received_total', 'Probe results read from other vantage points.', (s) => s.received_total);
  counter('steerdns_shared_health_malformed_total', 'Entries read from the store that were not valid results (skipped).', (s) => s.malformed_total);
  counter('steerdns_shared_health_fallbacks_total', 'Times the store stayed unreachable past the grace period and local results took over.', (s) => s.fallbacks_total);
  new Counter({
    name: 'steerdns_shared_health_errors_total',
    help: 'Store operations that failed or timed out, by operation.',
    labelNames: ['op'],
    registers: [registry],
    collect() {
      this.reset();
      const s = stats();
      if (!s) return;
      this.inc({ op: 'publish' }, s.publish_errors_total);
      this.inc({ op: 'read' }, s.read_errors_total);
    },
  });
}
