import {
  buildTargets,
  defaultUserAgent,
  effectivePort,
  parseExpectedCodes,
  targetCarryKey,
  targetKey,
  targetProblems,
} from '../../src/health/targets';
import { config, monitor, origin, pool } from './helpers';

describe('targetKey', () => {
  it('ignores name and description, and changes with every probe-defining field', () => {
    const o = origin({ address: '192.0.2.1' });
    const base = monitor();
    const k = targetKey(base, o);
    expect(targetKey(monitor({ name: 'other', description: 'x' }), o)).toBe(k);
    for (const over of [
      { path: '/x' },
      { method: 'HEAD' },
      { expected_codes: '2xx' },
      { expected_body: 'ok' },
      { follow_redirects: true },
      { allow_insecure: true },
      { header: { 'X-A': ['1'] } },
      { interval: 30 },
      { timeout: 2 },
      { retries: 1 },
      { consecutive_up: 2 },
      { consecutive_down: 2 },
      { port: 8080 },
      { type: 'https' as const },
    ]) {
      expect(targetKey(monitor(over), o)).not.toBe(k);
    }
    expect(targetKey(base, origin({ address: '192.0.2.2' }))).not.toBe(k);
    expect(targetKey(base, origin({ address: '192.0.2.1', header: { Host: ['a.example'] } }))).not.toBe(k);
    expect(k).toMatch(/^http 192\.0\.2\.1:80 #[0-9a-f]{16}$/);
  });

  it('carry keys ignore scheduling and hysteresis fields only', () => {
    const o = origin();
    const c = targetCarryKey(monitor(), o);
    expect(targetCarryKey(monitor({ interval: 10, timeout: 3, retries: 5, consecutive_up: 3, consecutive_down: 2 }), o)).toBe(c);
    expect(targetCarryKey(monitor({ path: '/other' }), o)).not.toBe(c);
  });

  it('header names are case-insensitive for identity', () => {
    const o = origin();
    expect(targetKey(monitor({ header: { 'X-A': ['1'] } }), o)).toBe(targetKey(monitor({ header: { 'x-a': ['1'] } }), o));
  });

  it('effective port: monitor > endpoint > type default', () => {
    expect(effectivePort(monitor({ port: 81 }), origin({ port: 82 }))).toBe(81);
    expect(effectivePort(monitor({ port: null }), origin({ port: 82 }))).toBe(82);
    expect(effectivePort(monitor({ type: 'https' }), origin())).toBe(443);
    expect(effectivePort(monitor({ type: 'smtp' }), origin())).toBe(25);
    expect(effectivePort(monitor({ type: 'tcp' }), origin())).toBeNull();
    expect(effectivePort(monitor({ type: 'icmp_ping', port: 5 }), origin({ port: 6 }))).toBeNull();
  });
});

describe('buildTargets', () => {
  it('shares one target between pools using the same monitor and endpoint; lists the users', () => {
    const m = monitor();
    const cfg = config({
      monitors: [m],
      pools: [
        pool({ name: 'P1', origins: [origin({ name: 'a1', address: '192.0.2.1' }), origin({ name: 'a2', address: '192.0.2.2' })] }),
        pool({ name: 'P2', origins: [origin({ name: 'b1', address: '192.0.2.1' })] }),
      ],
    });
    const ts = buildTargets(cfg);
    expect(ts).toHaveLength(2);
    const shared = ts.find((t) => t.address === '192.0.2.1');
    expect(shared?.users).toEqual([
      { pool: 'P1', origin: 'a1', monitor: 'm1' },
      { pool: 'P2', origin: 'b1', monitor: 'm1' },
    ]);
    expect(shared?.headers['User-Agent']).toEqual([defaultUserAgent('P1')]);
  });

  it('never probes disabled endpoints, disabled pools, pools without monitor, or disabled group members', () => {
    const m1 = monitor({ name: 'm1' });
    const m2 = monitor({ name: 'm2', path: '/two' });
    const m3 = monitor({ name: 'm3', path: '/three' });
    const cfg = config({
      monitors: [m1, m2, m3],
      groups: [
        {
          name: 'g',
          description: '',
          members: [
            { monitor: 'm2', enabled: true, must_be_healthy: false, monitoring_only: false },
            { monitor: 'm3', enabled: false, must_be_healthy: false, monitoring_only: false },
          ],
        },
      ],
      pools: [
        pool({ name: 'P1', origins: [origin({ name: 'a1', address: '192.0.2.1' }), origin({ name: 'a2', address: '192.0.2.2', enabled: false })] }),
        pool({ name: 'P2', enabled: false, origins: [origin({ name: 'b1', address: '192.0.2.3' })] }),
        pool({ name: 'P3', monitor: null, origins: [origin({ name: 'c1', address: '192.0.2.4' })] }),
        pool({ name: 'P4', monitor: null, monitor_group: 'g', origins: [origin({ name: 'd1', address: '192.0.2.5' })] }),
      ],
    });
    const ts = buildTargets(cfg);
    expect(ts.map((t) => `${t.address} ${t.monitor.path}`).sort()).toEqual(['192.0.2.1 /', '192.0.2.5 /two']);
  });

  it('Host precedence, SNI and the Host sent when none is configured', () => {
    const m = monitor({ type: 'https', header: { Host: ['www.example.com'] } });
    const cfg = config({
      monitors: [m],
      pools: [
        pool({
          origins: [
            origin({ name: 'a1', address: '192.0.2.1', header: { Host: ['lb-app-a.example.com'] } }),
            origin({ name: 'a2', address: '192.0.2.2' }),
          ],
        }),
      ],
    });
    const [a1, a2] = buildTargets(cfg);
    expect([a1.hostHeader, a1.sni]).toEqual(['lb-app-a.example.com', 'lb-app-a.example.com']);
    expect([a2.hostHeader, a2.sni]).toEqual(['www.example.com', 'www.example.com']);

    const bare = monitor({ type: 'https', port: 8443 });
    const [v6] = buildTargets(config({ monitors: [bare], pools: [pool({ origins: [origin({ address: '2001:db8::1' })] })] }));
    expect([v6.hostHeader, v6.sni, v6.port]).toEqual(['[2001:db8::1]:8443', null, 8443]);
    const [named] = buildTargets(config({ monitors: [monitor({ type: 'https' })], pools: [pool({ origins: [origin({ address: 'origin.example.net' })] })] }));
    expect([named.hostHeader, named.sni]).toEqual(['origin.example.net', 'origin.example.net']);
  });

  it('a monitor User-Agent overrides the default', () => {
    const [t] = buildTargets(config({ monitors: [monitor({ header: { 'user-agent': ['mine'] } })], pools: [pool()] }));
    expect(t.headers).toEqual({ 'user-agent': ['mine'] });
  });

  it('non-HTTP monitors ignore Host headers for identity (one TCP probe per address and port)', () => {
    const m = monitor({ type: 'tcp', port: 22 });
    const cfg = config({
      monitors: [m],
      pools: [
        pool({ name: 'P1', origins: [origin({ address: '192.0.2.1', header: { Host: ['a.example'] } })] }),
        pool({ name: 'P2', origins: [origin({ address: '192.0.2.1' })] }),
      ],
    });
    expect(buildTargets(cfg)).toHaveLength(1);
  });
});

describe('targetProblems', () => {
  it('reports a tcp/udp_icmp monitor without a port with pool, endpoint and monitor names', () => {
    const cfg = config({
      monitors: [monitor({ name: 'tcpmon', type: 'tcp', port: null, timeout: 5, retries: 2, interval: 10 })],
      pools: [pool({ name: 'web', monitor: 'tcpmon', origins: [origin({ name: 'fra-1' }), origin({ name: 'fra-2', address: '127.0.0.2', port: 22 })] })],
    });
    const ps = targetProblems(cfg);
    const errors = ps.filter((p) => p.severity === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ pool: 'web', origin: 'fra-1', monitor: 'tcpmon' });
    expect(errors[0].message).toContain('no port');
    expect(ps.filter((p) => p.severity === 'warning')).toHaveLength(1); // 5 s × 3 tries > 10 s interval
  });

  it('reports dangling references and bad expected_codes', () => {
    const cfg = config({
      monitors: [monitor({ name: 'm1', expected_codes: '2x' })],
      pools: [pool({ name: 'A', monitor: 'nope' }), pool({ name: 'B', monitor: 'm1' })],
    });
    const msgs = targetProblems(cfg).map((p) => p.message);
    expect(msgs.some((m) => m.includes('"nope" is not defined'))).toBe(true);
    expect(msgs.some((m) => m.includes('expected_codes'))).toBe(true);
  });
});

describe('parseExpectedCodes', () => {
  it('handles single codes, classes and lists', () => {
    const match = (spec: string, code: number) => parseExpectedCodes(spec)?.some((f) => f(code)) ?? null;
    expect(match('200', 200)).toBe(true);
    expect(match('200', 201)).toBe(false);
    expect(match('2xx', 299)).toBe(true);
    expect(match('2XX', 301)).toBe(false);
    expect(match('200,301', 301)).toBe(true);
    expect(match('200 301', 301)).toBe(true);
    expect(match('', 200)).toBeNull();
    expect(match('600', 200)).toBeNull();
  });
});
