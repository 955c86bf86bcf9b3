// The shared-health coordinator against an in-memory store engine, on a driven clock: the global view written into
// the HealthStore, the modes (shared, grace, local) and the way back after an outage.
import type { SharedHealthConfig } from '../../../src/config/types';
import type { AttemptResult } from '../../../src/health/probes';
import { SharedHealth } from '../../../src/health/shared/coordinator';
import type { ReadResult, SharedHealthStore, StoredBatch, VantagePoint } from '../../../src/health/shared/types';
import { HealthStore, type Transition } from '../../../src/health/store';
import type { HealthLogger } from '../../../src/health/types';
import { monitor, origin, target } from '../helpers';

/** One shared stream in memory; `down` makes every call fail, as an unreachable store would. */
class MemoryBus {
  readonly batches: StoredBatch[] = [];
  down = false;
  seq = 0;
  constructor(readonly clock: { now: number }) {}
  engine(): SharedHealthStore {
    return {
      description: 'memory',
      publish: (vp: VantagePoint, payload: string) => {
        if (this.down) return Promise.reject(new Error('down'));
        const id = `${this.clock.now}-${this.seq++}`;
        this.batches.push({ id, storedAt: this.clock.now, pop: vp.pop, region: vp.region, payload });
        return Promise.resolve(id);
      },
      read: (cursor: string | null, _w: number, limit: number): Promise<ReadResult> => {
        if (this.down) return Promise.reject(new Error('down'));
        const start = cursor === null ? 0 : this.batches.findIndex((b) => b.id === cursor) + 1;
        const batches = this.batches.slice(start, start + limit);
        return Promise.resolve({ batches, cursor: batches.length ? batches[batches.length - 1].id : (cursor ?? '0-0'), storeNow: this.clock.now, more: start + limit < this.batches.length });
      },
      close: () => Promise.resolve(),
    };
  }
}

const silent: HealthLogger & { lines: string[] } = {
  lines: [],
  info(m) { this.lines.push(m); },
  warn(m) { this.lines.push(m); },
  error(m) { this.lines.push(m); },
  debug() {},
};

const CONFIG: SharedHealthConfig = { url: 'redis://x', key_prefix: 't:', ttl: null, grace: 5, poll_interval: 1, timeout: 1, tls: null };
const M = monitor({ interval: 1, consecutive_down: 1, consecutive_up: 1 });
const T = target(M, origin({ address: '127.0.0.21' }));
const pass: AttemptResult = { ok: true, reason: 'No failures', rttMs: 3, responseCode: 200, detail: '', tries: 1 };
const fail: AttemptResult = { ok: false, reason: 'Response code mismatch error', rttMs: 3, responseCode: 503, detail: 'HTTP 503', tries: 1 };

function instance(bus: MemoryBus, pop: string, region: string) {
  const store = new HealthStore();
  const transitions: Transition[] = [];
  store.onTransition((t) => transitions.push(t));
  const shared = new SharedHealth({ store, engine: bus.engine(), vantage: { pop, region }, config: CONFIG, logger: silent, now: () => bus.clock.now, timer: false });
  shared.setTargets([T]);
  return { store, shared, transitions, status: () => store.peek(T.key)?.status ?? 'unknown' };
}

async function rounds(xs: ReturnType<typeof instance>[], n = 2): Promise<void> {
  for (let i = 0; i < n; i++) for (const x of xs) await x.shared.round();
}

describe('SharedHealth', () => {
  test('the quorum decides on every instance; a global change carries its vantage points', async () => {
    const clock = { now: 1_000_000 };
    const bus = new MemoryBus(clock);
    const [a, b, c] = [instance(bus, 'AMS', 'WEU'), instance(bus, 'IAD', 'ENAM'), instance(bus, 'SJC', 'WNAM')];
    await rounds([a, b, c], 1);
    expect(a.shared.mode).toBe('shared');
    for (const x of [a, b, c]) x.shared.onResult(T, pass, clock.now);
    await rounds([a, b, c]);
    expect([a, b, c].map((x) => x.status())).toEqual(['healthy', 'healthy', 'healthy']);

    // IAD alone fails: nobody changes, IAD included.
    clock.now += 1000;
    a.shared.onResult(T, pass, clock.now);
    b.shared.onResult(T, fail, clock.now);
    c.shared.onResult(T, pass, clock.now);
    await rounds([a, b, c]);
    expect([a, b, c].map((x) => x.status())).toEqual(['healthy', 'healthy', 'healthy']);
    expect(b.store.peek(T.key)?.rttEwmaMs).toBe(3); // IAD's own RTT still feeds dynamic steering

    // AMS fails too: unhealthy everywhere, with the reason and the vantage points.
    clock.now += 1000;
    a.shared.onResult(T, fail, clock.now);
    await rounds([a, b, c]);
    expect([a, b, c].map((x) => x.status())).toEqual(['unhealthy', 'unhealthy', 'unhealthy']);
    const t = c.transitions[c.transitions.length - 1];
    expect(t.to).toBe('unhealthy');
    expect(t.global?.vantage_points.map((v) => `${v.pop}:${v.healthy}`)).toEqual(['AMS:false', 'IAD:false', 'SJC:true']);
    expect(t.global?.regions.filter((r) => !r.healthy).map((r) => r.region).sort()).toEqual(['ENAM', 'WEU']);
    expect(c.store.peek(T.key)).toMatchObject({ reason: 'Response code mismatch error', responseCode: 503 });

    // Votes expire: after the ttl (3 intervals) without new results from AMS and IAD, SJC alone votes.
    clock.now += 3001;
    c.shared.onResult(T, pass, clock.now);
    await rounds([c]);
    expect(c.status()).toBe('healthy');
  });

  test('store loss: the last view for the grace period, then local results; the store back: the shared view again', async () => {
    const clock = { now: 2_000_000 };
    const bus = new MemoryBus(clock);
    const [a, b, c] = [instance(bus, 'AMS', 'WEU'), instance(bus, 'IAD', 'ENAM'), instance(bus, 'SJC', 'WNAM')];
    await rounds([a, b, c], 1);
    a.shared.onResult(T, pass, clock.now);
    b.shared.onResult(T, fail, clock.now);
    c.shared.onResult(T, pass, clock.now);
    await rounds([a, b, c]);
    expect(b.status()).toBe('healthy');

    bus.down = true;
    clock.now += 1000;
    b.shared.onResult(T, fail, clock.now);
    await b.shared.round();
    expect(b.shared.mode).toBe('grace');
    expect(b.status()).toBe('healthy'); // the last global view holds
    expect(b.shared.describe()).toMatch(/keeping the last global view/);

    clock.now += 5000; // past the grace period
    await b.shared.round();
    expect(b.shared.mode).toBe('local');
    expect(b.status()).toBe('unhealthy'); // its own latest result, at once
    expect(b.shared.stats()).toMatchObject({ store_up: false, fallbacks_total: 1 });
    // Local results now go through the monitor's own hysteresis.
    b.shared.onResult(T, pass, clock.now);
    expect(b.status()).toBe('healthy');
    b.shared.onResult(T, fail, clock.now);
    expect(b.status()).toBe('unhealthy');

    // The store returns: the global view (AMS and SJC pass) replaces the local one at once.
    bus.down = false;
    for (const x of [a, c]) x.shared.onResult(T, pass, clock.now);
    await rounds([a, c], 1);
    await b.shared.round();
    expect(b.shared.mode).toBe('shared');
    expect(b.status()).toBe('healthy');
  });

  test('unreachable at start-up: local results decide until the store answers', async () => {
    const clock = { now: 3_000_000 };
    const bus = new MemoryBus(clock);
    bus.down = true;
    const a = instance(bus, 'AMS', 'WEU');
    await a.shared.round();
    expect(a.shared.mode).toBe('local');
    a.shared.onResult(T, fail, clock.now);
    expect(a.status()).toBe('unhealthy');
    expect(a.shared.describe()).toMatch(/not reached yet/);
    bus.down = false;
    await a.shared.round();
    expect(a.shared.mode).toBe('shared');
  });

  test('whatever the store holds, malformed batches are skipped and counted', async () => {
    const clock = { now: 4_000_000 };
    const bus = new MemoryBus(clock);
    const a = instance(bus, 'AMS', 'WEU');
    bus.batches.push({ id: 'x-1', storedAt: clock.now, pop: 'bad pop!', region: 'WEU', payload: '' });
    bus.batches.push({ id: 'x-2', storedAt: clock.now, pop: 'IAD', region: 'ENAM', payload: 'garbage\nmore' });
    await a.shared.round();
    expect(a.shared.stats().malformed_total).toBe(2);
    expect(a.status()).toBe('unknown');
  });
});
