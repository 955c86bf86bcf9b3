import type { MonitorGroupConfig } from '../../src/config/types';
import { HealthEvents } from '../../src/health/events';
import type { HealthEvent } from '../../src/health/events';
import { HealthScheduler } from '../../src/health/scheduler';
import { HealthStore } from '../../src/health/store';
import { buildTargets, targetKey } from '../../src/health/targets';
import type { ProbeResult } from '../../src/health/types';
import { config, listenHttp, monitor, origin, pool, sleep, waitFor } from './helpers';

const pass: ProbeResult = { ok: true, reason: 'No failures', rttMs: 5, responseCode: 200, detail: '' };
const fail: ProbeResult = { ok: false, reason: 'TCP connection failed', rttMs: null, responseCode: null, detail: 'refused' };

describe('HealthEvents (T59)', () => {
  const m = monitor({ consecutive_down: 1, consecutive_up: 1 });
  const a1 = origin({ name: 'a1', address: '192.0.2.1' });
  const a2 = origin({ name: 'a2', address: '192.0.2.2' });
  const P1 = pool({ name: 'P1', minimum_origins: 2, origins: [a1, a2] });
  const P2 = pool({ name: 'P2', minimum_origins: 1, origins: [a1] });
  const cfg = config({ monitors: [m], pools: [P1, P2] });
  const k1 = targetKey(m, a1);
  const k2 = targetKey(m, a2);

  function setup() {
    const store = new HealthStore();
    const events = new HealthEvents(store, { capacity: 5 });
    events.setConfig(cfg);
    const seen: HealthEvent[] = [];
    events.onEvent((e) => seen.push(e));
    return { store, events, seen };
  }

  it('start-up unknown → healthy is not an event; healthy → unhealthy is exactly one per pool using the endpoint', () => {
    const { store, events, seen } = setup();
    store.record(k1, pass, m, 1000);
    store.record(k2, pass, m, 1000);
    expect(seen).toHaveLength(0);

    store.record(k1, fail, m, 2000);
    expect(seen).toHaveLength(2); // a1 is in P1 and P2
    const e = seen.find((x) => x.pool.name === 'P1')!;
    expect(e.pool).toEqual({ name: 'P1', healthy: false, changed: true, minimum_origins: 2, state: 'critical' });
    expect(e.origins).toEqual([
      { name: 'a1', ip: '192.0.2.1', enabled: true, healthy: false, failure_reason: 'TCP connection failed', response_code: null, changed: true },
      { name: 'a2', ip: '192.0.2.2', enabled: true, healthy: true, failure_reason: 'No failures', response_code: 200, changed: false },
    ]);
    expect(e.timestamp).toBe(new Date(2000).toISOString());

    // More failing probes: no more events.
    store.record(k1, fail, m, 3000);
    store.record(k1, fail, m, 4000);
    expect(seen).toHaveLength(2);

    store.record(k1, pass, m, 5000);
    expect(seen).toHaveLength(4);
    expect(seen[2].origins[0]).toMatchObject({ healthy: true, changed: true, failure_reason: 'No failures' });
    expect(events.list({ pool: 'P2' }).map((x) => x.origins[0].healthy)).toEqual([false, true]);
  });

  it('unknown → unhealthy at start-up is an event (a fault found), without a pool change from unknown', () => {
    const { store, seen } = setup();
    store.record(k2, fail, m, 1);
    expect(seen).toHaveLength(1);
    expect(seen[0].pool).toMatchObject({ name: 'P1', changed: false, healthy: false });
    expect(seen[0].origins[1]).toMatchObject({ name: 'a2', changed: true, healthy: false });
  });

  it('a pool that recovers through another endpoint reports the pool change', () => {
    const store = new HealthStore();
    const p = pool({ name: 'PX', minimum_origins: 1, origins: [a1, a2] });
    const events = new HealthEvents(store);
    events.setConfig(config({ monitors: [m], pools: [p] }));
    store.record(k1, fail, m, 1); // event: a1 down, pool critical (from unknown: not a pool change)
    store.record(k2, pass, m, 2); // a2 unknown → healthy: pool critical → healthy is a change
    const list = events.list();
    expect(list).toHaveLength(2);
    expect(list[1].pool).toMatchObject({ changed: true, healthy: true });
    expect(list[1].origins.every((o) => !o.changed)).toBe(true);
  });

  it('the ring is bounded and ids keep increasing', () => {
    const { store, events } = setup();
    store.record(k1, pass, m, 0);
    for (let i = 0; i < 6; i++) store.record(k1, i % 2 === 0 ? fail : pass, m, i + 1);
    const list = events.list();
    expect(list).toHaveLength(5);
    expect(list.map((e) => e.id)).toEqual([8, 9, 10, 11, 12]);
    expect(events.list({ sinceId: 10 }).map((e) => e.id)).toEqual([11, 12]);
    expect(events.list({ limit: 2 }).map((e) => e.id)).toEqual([11, 12]);
  });

  it('monitor groups: events carry monitors[], and a monitoring_only member change is an event without an endpoint change', () => {
    const M1 = monitor({ name: 'M1', path: '/1' });
    const M2 = monitor({ name: 'M2', path: '/2' });
    const M3 = monitor({ name: 'M3', path: '/3' });
    const g: MonitorGroupConfig = {
      name: 'g',
      description: '',
      members: [
        { monitor: 'M1', enabled: true, must_be_healthy: true, monitoring_only: false },
        { monitor: 'M2', enabled: true, must_be_healthy: false, monitoring_only: false },
        { monitor: 'M3', enabled: true, must_be_healthy: false, monitoring_only: true },
      ],
    };
    const p = pool({ name: 'PG', monitor: null, monitor_group: 'g', origins: [a1] });
    const store = new HealthStore();
    const events = new HealthEvents(store);
    events.setConfig(config({ monitors: [M1, M2, M3], groups: [g], pools: [p] }));
    for (const mm of [M1, M2, M3]) store.record(targetKey(mm, a1), pass, mm, 1);
    expect(events.size).toBe(0);
    store.record(targetKey(M3, a1), { ...fail, reason: 'HTTP timeout occurred' }, M3, 2);
    const [e] = events.list();
    expect(e.origins[0]).toMatchObject({ healthy: true, changed: false });
    expect(e.origins[0].monitors).toEqual([
      { id: 'M1', healthy: true, failure_reason: 'No failures', response_code: 200, must_be_healthy: true, monitoring_only: false, changed: false },
      { id: 'M2', healthy: true, failure_reason: 'No failures', response_code: 200, must_be_healthy: false, monitoring_only: false, changed: false },
      { id: 'M3', healthy: false, failure_reason: 'HTTP timeout occurred', response_code: null, must_be_healthy: false, monitoring_only: true, changed: true },
    ]);
    store.record(targetKey(M1, a1), fail, M1, 3);
    const last = events.list().pop()!;
    expect(last.origins[0]).toMatchObject({ healthy: false, changed: true, failure_reason: 'TCP connection failed' });
    expect(last.pool).toMatchObject({ changed: true, healthy: false });
  });
});

describe('HealthEvents with the scheduler and a real server (T59)', () => {
  it('exactly one event per real change, none while the state stays the same', async () => {
    const srv = await listenHttp('127.0.0.32');
    let up = true;
    srv.handler = (_q, res) => {
      res.statusCode = up ? 200 : 503;
      res.end();
    };
    const m = monitor({ port: srv.port, interval: 0.05, timeout: 0.5 });
    const cfg = config({ monitors: [m], pools: [pool({ origins: [origin({ address: '127.0.0.32' })] })] });
    const store = new HealthStore();
    const events = new HealthEvents(store);
    events.setConfig(cfg);
    const sched = new HealthScheduler(store, { minIntervalMs: 10, startSpreadMs: 0 });
    sched.setTargets(buildTargets(cfg));
    await sched.firstRoundDone;
    up = false;
    await waitFor(() => events.size === 1);
    const checked = store.state(buildTargets(cfg)[0].key).lastCheckedAt;
    await sleep(300); // several more failing probes
    expect(store.state(buildTargets(cfg)[0].key).lastCheckedAt).toBeGreaterThan(checked!);
    expect(events.size).toBe(1);
    expect(events.list()[0].origins[0]).toMatchObject({ healthy: false, failure_reason: 'Response code mismatch error', response_code: 503, changed: true });
    up = true;
    await waitFor(() => events.size === 2);
    await sleep(200);
    expect(events.size).toBe(2);
    sched.stop();
    await srv.close();
  });
});
