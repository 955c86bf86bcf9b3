import type { MonitorGroupConfig } from '../../src/config/types';
import { evaluatePool } from '../../src/health/pool-state';
import { HealthStore } from '../../src/health/store';
import { targetKey } from '../../src/health/targets';
import type { ProbeResult } from '../../src/health/types';
import { config, monitor, origin, pool } from './helpers';

const pass = (rtt = 10): ProbeResult => ({ ok: true, reason: 'No failures', rttMs: rtt, responseCode: 200, detail: '' });
const fail: ProbeResult = { ok: false, reason: 'HTTP timeout occurred', rttMs: null, responseCode: null, detail: '' };
const H = { consecutive_up: 1, consecutive_down: 1 };

describe('evaluatePool — single monitor', () => {
  const m = monitor();
  const a1 = origin({ name: 'a1', address: '192.0.2.1' });
  const a2 = origin({ name: 'a2', address: '192.0.2.2' });
  const a3 = origin({ name: 'a3', address: '192.0.2.3' });
  const set = (s: HealthStore, o: typeof a1, ok: boolean, rtt = 10) => s.record(targetKey(m, o), ok ? pass(rtt) : fail, H, 0);

  it('unknown before any result: endpoints down, pool unknown and unusable (T10)', () => {
    const s = new HealthStore();
    const p = pool({ origins: [a1, a2] });
    const h = evaluatePool(p, config({ monitors: [m], pools: [p] }), s);
    expect(h).toMatchObject({ state: 'unknown', usable: false, healthyCount: 0 });
    expect(h.endpoints.map((e) => [e.healthy, e.status, e.reason])).toEqual([
      [false, 'unknown', 'Not yet probed'],
      [false, 'unknown', 'Not yet probed'],
    ]);
  });

  it('healthy, degraded (T08), critical (T07)', () => {
    const s = new HealthStore();
    const p = pool({ minimum_origins: 2, origins: [a1, a2, a3] });
    const cfg = config({ monitors: [m], pools: [p] });
    set(s, a1, true, 10);
    set(s, a2, true, 30);
    set(s, a3, true, 50);
    expect(evaluatePool(p, cfg, s)).toMatchObject({ state: 'healthy', usable: true, rttMs: 30 });
    set(s, a3, false);
    const d = evaluatePool(p, cfg, s);
    expect(d).toMatchObject({ state: 'degraded', usable: true, healthyCount: 2, rttMs: 20 });
    expect(d.endpoints[2]).toMatchObject({ healthy: false, status: 'unhealthy', reason: 'HTTP timeout occurred' });
    set(s, a2, false);
    expect(evaluatePool(p, cfg, s)).toMatchObject({ state: 'critical', usable: false, healthyCount: 1 });
  });

  it('disabled endpoints are ignored; a disabled pool is never usable', () => {
    const s = new HealthStore();
    const p = pool({ origins: [a1, { ...a2, enabled: false }] });
    set(s, a1, true);
    const h = evaluatePool(p, config({ monitors: [m], pools: [p] }), s);
    expect(h).toMatchObject({ state: 'healthy', usable: true, enabledCount: 1 });
    expect(h.endpoints[1]).toMatchObject({ enabled: false, healthy: false, reason: null });
    const off = { ...p, enabled: false };
    expect(evaluatePool(off, config({ monitors: [m], pools: [off] }), s).usable).toBe(false);
  });

  it('no monitor: all enabled endpoints up, state unknown (T09)', () => {
    const p = pool({ monitor: null, origins: [a1, a2] });
    const h = evaluatePool(p, config({ pools: [p] }), new HealthStore());
    expect(h).toMatchObject({ monitored: false, state: 'unknown', usable: true, healthyCount: 2 });
  });
});

describe('evaluatePool — monitor groups (T58)', () => {
  const m1 = monitor({ name: 'M1', path: '/1' });
  const m2 = monitor({ name: 'M2', path: '/2' });
  const m3 = monitor({ name: 'M3', path: '/3' });
  const a1 = origin({ name: 'a1', address: '192.0.2.1' });
  const group = (over: Partial<Record<'M1' | 'M2' | 'M3', { must_be_healthy?: boolean; monitoring_only?: boolean; enabled?: boolean }>> = {}): MonitorGroupConfig => ({
    name: 'g',
    description: '',
    members: (['M1', 'M2', 'M3'] as const).map((name) => ({
      monitor: name,
      enabled: over[name]?.enabled ?? true,
      must_be_healthy: over[name]?.must_be_healthy ?? (name === 'M1'),
      monitoring_only: over[name]?.monitoring_only ?? false,
    })),
  });
  const evalWith = (g: MonitorGroupConfig, results: Record<'M1' | 'M2' | 'M3', boolean | null>) => {
    const s = new HealthStore();
    const byName = { M1: m1, M2: m2, M3: m3 };
    for (const [name, ok] of Object.entries(results)) {
      if (ok === null) continue;
      s.record(targetKey(byName[name as 'M1'], a1), ok ? pass(name === 'M1' ? 10 : name === 'M2' ? 20 : 90) : fail, H, 0);
    }
    const p = pool({ monitor: null, monitor_group: 'g', origins: [a1] });
    return evaluatePool(p, config({ monitors: [m1, m2, m3], groups: [g], pools: [p] }), s);
  };

  it('(a) the must_be_healthy member fails → unhealthy', () => {
    const h = evalWith(group(), { M1: false, M2: true, M3: true });
    expect(h.endpoints[0]).toMatchObject({ healthy: false, status: 'unhealthy', reason: 'HTTP timeout occurred' });
    expect(h.usable).toBe(false);
  });

  it('(b) only M2 fails → healthy (1 of 3 is not more than 50 %)', () => {
    expect(evalWith(group(), { M1: true, M2: false, M3: true }).endpoints[0]).toMatchObject({ healthy: true, reason: 'No failures' });
  });

  it('(c) M2 and M3 fail → unhealthy', () => {
    expect(evalWith(group(), { M1: true, M2: false, M3: false }).endpoints[0].healthy).toBe(false);
  });

  it('(d) a monitoring_only member failing does not vote', () => {
    const g = group({ M3: { monitoring_only: true } });
    const h = evalWith(g, { M1: true, M2: true, M3: false });
    expect(h.endpoints[0].healthy).toBe(true);
    expect(h.endpoints[0].monitors?.find((x) => x.monitor === 'M3')).toMatchObject({ healthy: false, monitoring_only: true });
    // Even M2 failing too: 1 of 2 voters is exactly 50 %, not more → healthy.
    expect(evalWith(g, { M1: true, M2: false, M3: false }).endpoints[0].healthy).toBe(true);
  });

  it('disabled members neither vote nor appear; unknown members count as down', () => {
    const g = group({ M2: { enabled: false } });
    const h = evalWith(g, { M1: true, M2: false, M3: null });
    // voters M1 (healthy) and M3 (unknown = down): 1 of 2 → healthy.
    expect(h.endpoints[0].healthy).toBe(true);
    expect(h.endpoints[0].monitors?.map((x) => x.monitor)).toEqual(['M1', 'M3']);
    expect(evalWith(group(), { M1: null, M2: null, M3: null }).endpoints[0]).toMatchObject({ healthy: false, status: 'unknown' });
  });

  it('pool RTT averages the voting members', () => {
    const g = group({ M3: { monitoring_only: true } });
    expect(evalWith(g, { M1: true, M2: true, M3: true }).rttMs).toBe(15);
  });
});
