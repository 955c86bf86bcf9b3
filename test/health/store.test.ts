import { HealthStore, RTT_EWMA_ALPHA } from '../../src/health/store';
import type { Transition } from '../../src/health/store';
import type { ProbeResult } from '../../src/health/types';

const pass = (rtt = 10): ProbeResult => ({ ok: true, reason: 'No failures', rttMs: rtt, responseCode: 200, detail: '' });
const fail = (reason: ProbeResult['reason'] = 'TCP connection failed'): ProbeResult => ({ ok: false, reason, rttMs: null, responseCode: null, detail: 'x' });

describe('HealthStore', () => {
  it('state() is get-or-create and returns the same object', () => {
    const s = new HealthStore();
    const a = s.state('k');
    expect(a).toMatchObject({ status: 'unknown', reason: 'Not yet probed' });
    expect(s.state('k')).toBe(a);
    s.record('k', pass(), { consecutive_up: 1, consecutive_down: 1 }, 1);
    expect(s.state('k')).toBe(a);
    expect(a.status).toBe('healthy');
  });

  it('the first result decides directly from unknown, whatever the thresholds', () => {
    const s = new HealthStore();
    const m = { consecutive_up: 3, consecutive_down: 2 };
    expect(s.record('up', pass(), m, 1)).toMatchObject({ from: 'unknown', to: 'healthy' });
    expect(s.record('down', fail(), m, 1)).toMatchObject({ from: 'unknown', to: 'unhealthy' });
    expect(s.version).toBe(2);
  });

  it('T13: consecutive_down 2, consecutive_up 3 — exact counts', () => {
    const s = new HealthStore();
    const m = { consecutive_up: 3, consecutive_down: 2 };
    const seen: Transition[] = [];
    s.onTransition((t) => seen.push(t));
    s.record('a1', pass(), m, 0);
    const st = s.state('a1');
    const v0 = s.version;
    expect(s.record('a1', fail(), m, 1)).toBeNull(); // 1 failure → still healthy
    expect(st.status).toBe('healthy');
    expect(st.consecutiveDown).toBe(1);
    expect(st.reason).toBe('TCP connection failed');
    expect(s.version).toBe(v0);
    expect(s.record('a1', fail(), m, 2)).toMatchObject({ from: 'healthy', to: 'unhealthy' }); // 2nd → removed
    expect(s.version).toBe(v0 + 1);
    expect(s.record('a1', pass(), m, 3)).toBeNull(); // 1 pass
    expect(s.record('a1', pass(), m, 4)).toBeNull(); // 2 passes → still removed
    expect(st.status).toBe('unhealthy');
    expect(st.consecutiveUp).toBe(2);
    expect(s.record('a1', pass(), m, 5)).toMatchObject({ to: 'healthy' }); // 3rd → returned
    expect(st.changedAt).toBe(5);
    expect(seen.map((t) => `${t.from}>${t.to}`)).toEqual(['unknown>healthy', 'healthy>unhealthy', 'unhealthy>healthy']);
  });

  it('a pass resets the failure count (failures must be consecutive)', () => {
    const s = new HealthStore();
    const m = { consecutive_up: 1, consecutive_down: 2 };
    s.record('k', pass(), m, 0);
    s.record('k', fail(), m, 1);
    s.record('k', pass(), m, 2);
    expect(s.record('k', fail(), m, 3)).toBeNull();
    expect(s.state('k').status).toBe('healthy');
  });

  it('keeps an RTT EWMA over passing probes only', () => {
    const s = new HealthStore();
    const m = { consecutive_up: 1, consecutive_down: 1 };
    s.record('k', pass(100), m, 0);
    expect(s.state('k').rttEwmaMs).toBe(100);
    s.record('k', pass(200), m, 1);
    expect(s.state('k').rttEwmaMs).toBeCloseTo(RTT_EWMA_ALPHA * 200 + (1 - RTT_EWMA_ALPHA) * 100);
    const before = s.state('k').rttEwmaMs;
    const rv = s.rttVersion;
    s.record('k', fail(), m, 2);
    expect(s.state('k').rttEwmaMs).toBe(before);
    expect(s.rttVersion).toBe(rv);
  });

  it('retain drops unconfigured targets; snapshot/restore round-trips only valid keys', () => {
    const s = new HealthStore();
    const m = { consecutive_up: 1, consecutive_down: 1 };
    s.record('a', pass(5), m, 10);
    s.record('b', fail('HTTP timeout occurred'), m, 11);
    s.state('c');
    const snap = JSON.parse(JSON.stringify(s.snapshot()));
    expect(snap.targets.map((e: { key: string }) => e.key).sort()).toEqual(['a', 'b']);

    const r = new HealthStore();
    expect(r.restore(snap, new Set(['b', 'z']))).toBe(1);
    expect(r.state('b')).toMatchObject({ status: 'unhealthy', reason: 'HTTP timeout occurred', lastCheckedAt: 11, consecutiveDown: 1 });
    expect(r.peek('a')).toBeUndefined();
    expect(r.version).toBe(1);

    s.retain(new Set(['a']));
    expect(s.peek('b')).toBeUndefined();
    expect(s.peek('a')).toBeDefined();
  });

  it('restore skips malformed entries', () => {
    const r = new HealthStore();
    const snap = {
      format: 'steerdns-health' as const,
      formatVersion: 1 as const,
      savedAt: 0,
      targets: [{ key: 'a', status: 'healthy', reason: 'made up' }] as never[],
    };
    expect(r.restore(snap, new Set(['a']))).toBe(0);
  });

  it('carry moves a state to a new key without a transition', () => {
    const s = new HealthStore();
    const m = { consecutive_up: 1, consecutive_down: 1 };
    s.record('old', fail(), m, 1);
    let transitions = 0;
    s.onTransition(() => transitions++);
    const v = s.version;
    expect(s.carry('old', 'new')).toBe(true);
    expect(s.peek('old')).toBeUndefined();
    expect(s.state('new')).toMatchObject({ key: 'new', status: 'unhealthy', reason: 'TCP connection failed' });
    expect(transitions).toBe(0);
    expect(s.version).toBe(v + 1);
  });
});
