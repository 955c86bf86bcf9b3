// The scheduler driving real probes against real servers, with sub-second intervals (test-only option).
import { HealthScheduler } from '../../src/health/scheduler';
import { HealthStore } from '../../src/health/store';
import type { Transition } from '../../src/health/store';
import { buildTargets } from '../../src/health/targets';
import type { ProbeTarget } from '../../src/health/types';
import { config, listenHttp, monitor, origin, pool, sleep, target, waitFor } from './helpers';

const HOST = '127.0.0.31';

type Srv = Awaited<ReturnType<typeof listenHttp>>;

let srv: Srv;
beforeAll(async () => {
  srv = await listenHttp(HOST);
});
afterAll(() => srv.close());

const schedulers: HealthScheduler[] = [];
function scheduler(store: HealthStore, opts: ConstructorParameters<typeof HealthScheduler>[1] = {}): HealthScheduler {
  const s = new HealthScheduler(store, { minIntervalMs: 10, startSpreadMs: 0, random: () => 0.5, ...opts });
  schedulers.push(s);
  return s;
}
afterEach(() => {
  for (const s of schedulers.splice(0)) s.stop();
  srv.handler = (_q, res) => res.end('ok');
});

describe('HealthScheduler', () => {
  it('T13: consecutive_down 2 / consecutive_up 3 with real probes', async () => {
    let good = true;
    let servedSinceFlip = 0;
    srv.handler = (_q, res) => {
      servedSinceFlip++;
      res.statusCode = good ? 200 : 500;
      res.end();
    };
    const store = new HealthStore();
    const log: Array<{ t: Transition; served: number }> = [];
    store.onTransition((t) => log.push({ t, served: servedSinceFlip }));
    const m = monitor({ port: srv.port, path: '/t13', interval: 0.08, timeout: 0.5, consecutive_down: 2, consecutive_up: 3 });
    const tg = target(m, origin({ address: HOST }));
    scheduler(store).setTargets([tg]);

    await waitFor(() => log.length === 1);
    expect(log[0].t.to).toBe('healthy');

    good = false;
    servedSinceFlip = 0;
    await waitFor(() => log.length === 2);
    expect(log[1]).toMatchObject({ t: { from: 'healthy', to: 'unhealthy' }, served: 2 });
    expect(store.state(tg.key).reason).toBe('Response code mismatch error');

    good = true;
    servedSinceFlip = 0;
    await waitFor(() => log.length === 3);
    expect(log[2]).toMatchObject({ t: { from: 'unhealthy', to: 'healthy' }, served: 3 });
    expect(store.state(tg.key).responseCode).toBe(200);
  });

  it('T55: an attempt against a silent endpoint fails only after 1 + retries timeouts', async () => {
    const arrivals: number[] = [];
    srv.handler = () => {
      arrivals.push(Date.now());
    };
    const store = new HealthStore();
    const m = monitor({ port: srv.port, path: '/t55', interval: 5, timeout: 0.15, retries: 2 });
    const tg = target(m, origin({ address: HOST }));
    const start = Date.now();
    let at = 0;
    store.onTransition(() => (at = Date.now()));
    scheduler(store).setTargets([tg]);
    await waitFor(() => at > 0, 3000);
    expect(store.state(tg.key)).toMatchObject({ status: 'unhealthy', reason: 'HTTP timeout occurred' });
    expect(arrivals).toHaveLength(3);
    expect(at - start).toBeGreaterThanOrEqual(440);
  });

  it('plans rounds from the planned time, so slow probes do not make intervals drift', async () => {
    const arrivals: number[] = [];
    srv.handler = (q, res) => {
      if (q.url === '/drift') arrivals.push(Date.now());
      setTimeout(() => res.end('ok'), 40);
    };
    const store = new HealthStore();
    const m = monitor({ port: srv.port, path: '/drift', interval: 0.1, timeout: 1 });
    scheduler(store).setTargets([target(m, origin({ address: HOST }))]);
    await waitFor(() => arrivals.length >= 9, 3000);
    // From the second round on, gaps are the interval (100 ms), not interval + probe time (140 ms).
    const steady = arrivals.slice(1);
    const mean = (steady[steady.length - 1] - steady[0]) / (steady.length - 1);
    expect(mean).toBeGreaterThan(90);
    expect(mean).toBeLessThan(125);
  });

  it('runs at most one attempt per target and skips rounds that are still running', async () => {
    let active = 0;
    let maxActive = 0;
    srv.handler = (_q, res) => {
      active++;
      maxActive = Math.max(maxActive, active);
      setTimeout(() => {
        active--;
        res.end('ok');
      }, 150);
    };
    const store = new HealthStore();
    const m = monitor({ port: srv.port, path: '/busy', interval: 0.03, timeout: 1 });
    const s = scheduler(store);
    s.setTargets([target(m, origin({ address: HOST }))]);
    await sleep(500);
    expect(maxActive).toBe(1);
    expect(s.stats().roundsSkipped).toBeGreaterThan(3);
  });

  it('bounds global concurrency and queues the rest; firstRoundDone resolves when all have a result', async () => {
    let active = 0;
    let maxActive = 0;
    srv.handler = (_q, res) => {
      active++;
      maxActive = Math.max(maxActive, active);
      setTimeout(() => {
        active--;
        res.end('ok');
      }, 50);
    };
    const store = new HealthStore();
    const targets: ProbeTarget[] = [];
    for (let i = 0; i < 20; i++) targets.push(target(monitor({ port: srv.port, path: `/c${i}`, interval: 10, timeout: 2 }), origin({ address: HOST })));
    const s = scheduler(store, { concurrency: 4 });
    s.setTargets(targets);
    expect(s.isFirstRoundDone).toBe(false);
    await s.firstRoundDone;
    expect(s.isFirstRoundDone).toBe(true);
    expect(maxActive).toBe(4);
    for (const t of targets) expect(store.state(t.key).status).toBe('healthy');
    expect(s.stats()).toMatchObject({ targets: 20, attemptsCompleted: 20 });
  });

  it('spreads first attempts over the start spread', async () => {
    const arrivals: number[] = [];
    srv.handler = (_q, res) => {
      arrivals.push(Date.now());
      res.end('ok');
    };
    const store = new HealthStore();
    const targets = Array.from({ length: 10 }, (_, i) => target(monitor({ port: srv.port, path: `/s${i}`, interval: 10 }), origin({ address: HOST })));
    const s = new HealthScheduler(store, { startSpreadMs: 300, minIntervalMs: 10 });
    schedulers.push(s);
    const t0 = Date.now();
    s.setTargets(targets);
    await s.firstRoundDone;
    expect(Math.max(...arrivals) - t0).toBeLessThan(400);
    expect(Math.max(...arrivals) - Math.min(...arrivals)).toBeGreaterThan(20);
  });

  it('reload: unchanged keys keep state and timers, changed ones are dropped, new ones start at once', async () => {
    const hits = new Map<string, number>();
    srv.handler = (q, res) => {
      hits.set(q.url ?? '', (hits.get(q.url ?? '') ?? 0) + 1);
      res.end('ok');
    };
    const mA = monitor({ name: 'A', port: srv.port, path: '/A', interval: 30 });
    const mB = monitor({ name: 'B', port: srv.port, path: '/B', interval: 30 });
    const o = origin({ address: HOST });
    const cfg1 = config({ monitors: [mA, mB], pools: [pool({ name: 'PA', monitor: 'A', origins: [o] }), pool({ name: 'PB', monitor: 'B', origins: [o] })] });
    const store = new HealthStore();
    const s = scheduler(store);
    const t1 = buildTargets(cfg1);
    s.setTargets(t1);
    await s.firstRoundDone;
    const keyA = t1.find((t) => t.monitor.path === '/A')!.key;
    const keyB = t1.find((t) => t.monitor.path === '/B')!.key;
    const stateA = store.state(keyA);
    const checkedA = stateA.lastCheckedAt;
    expect(stateA.status).toBe('healthy');

    // Reload: A unchanged (new config objects, same definition), B's path changed, C new.
    const mA2 = monitor({ name: 'A', port: srv.port, path: '/A', interval: 30 });
    const mB2 = monitor({ name: 'B', port: srv.port, path: '/B2', interval: 30 });
    const mC = monitor({ name: 'C', port: srv.port, path: '/C', interval: 30 });
    const o2 = origin({ address: HOST });
    const cfg2 = config({
      monitors: [mA2, mB2, mC],
      pools: [pool({ name: 'PA', monitor: 'A', origins: [o2] }), pool({ name: 'PB', monitor: 'B', origins: [o2] }), pool({ name: 'PC', monitor: 'C', origins: [o2] })],
    });
    const t2 = buildTargets(cfg2);
    expect(t2.find((t) => t.monitor.path === '/A')!.key).toBe(keyA);
    s.setTargets(t2);
    expect(store.state(keyA)).toBe(stateA); // same object: the query path's references stay valid
    expect(stateA.status).toBe('healthy');
    expect(store.peek(keyB)).toBeUndefined(); // changed definition → dropped
    const keyB2 = t2.find((t) => t.monitor.path === '/B2')!.key;
    const keyC = t2.find((t) => t.monitor.path === '/C')!.key;
    await waitFor(() => store.state(keyB2).status === 'healthy' && store.state(keyC).status === 'healthy', 2000);
    await sleep(100);
    expect(hits.get('/A')).toBe(1); // A kept its timer (30 s): not probed again by the reload
    expect(stateA.lastCheckedAt).toBe(checkedA);
    expect(s.target(keyA)?.users[0].pool).toBe('PA');
  });

  it('reload: a change of interval/consecutive counts only carries the state over to the new key', async () => {
    srv.handler = (_q, res) => setTimeout(() => res.end('ok'), 300);
    const o = origin({ address: HOST });
    const m1 = monitor({ port: srv.port, path: '/carry', interval: 30, timeout: 2 });
    const store = new HealthStore();
    const s = scheduler(store);
    const [t1] = buildTargets(config({ monitors: [m1], pools: [pool({ origins: [o] })] }));
    s.setTargets([t1]);
    await s.firstRoundDone;
    const m2 = monitor({ port: srv.port, path: '/carry', interval: 20, timeout: 2, consecutive_down: 3 });
    const [t2] = buildTargets(config({ monitors: [m2], pools: [pool({ origins: [o] })] }));
    expect(t2.key).not.toBe(t1.key);
    s.setTargets([t2]);
    // Healthy at once (carried), before the new key's first probe (which takes 300 ms) completes.
    expect(store.state(t2.key).status).toBe('healthy');
    expect(store.peek(t1.key)).toBeUndefined();
  });

  it('stop() ends probing', async () => {
    let n = 0;
    srv.handler = (_q, res) => {
      n++;
      res.end('ok');
    };
    const store = new HealthStore();
    const s = scheduler(store);
    s.setTargets([target(monitor({ port: srv.port, path: '/stop', interval: 0.05 }), origin({ address: HOST }))]);
    await waitFor(() => n >= 2);
    s.stop();
    const after = n;
    await sleep(200);
    expect(n).toBeLessThanOrEqual(after + 1);
  });
});
