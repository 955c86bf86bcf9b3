// Seed §9.5 (T38–T42): proximity and dynamic_latency steering over UDP. Dynamic latency uses real http monitors
// whose endpoints (tiny HTTP servers on 127.0.11.x) answer after fixed delays.
import { ecsOf, query, startServer, type QueryOptions, type TestServer } from '../helpers/server';
import { addrs, bulk, checkLb, fixture, HealthServers, repeat, sorted, waitFor } from './lb-helpers';

const PROX_POOLS: Record<string, string> = {
  P1: '{ latitude: 40.7, longitude: -74.0, origins: [ { name: a1, address: 192.0.2.1 }, { name: a2, address: 192.0.2.2 } ] }',
  P2: '{ latitude: 51.5, longitude: -0.1, origins: [ { name: b1, address: 198.51.100.1 } ] }',
  P3: '{ latitude: 35.7, longitude: 139.7, origins: [ { name: c1, address: 203.0.113.1 } ] }',
  P2X: '{ minimum_origins: 5, latitude: 51.5, longitude: -0.1, origins: [ { name: b1, address: 198.51.100.1 } ] }',
  P1X: '{ minimum_origins: 5, latitude: 40.7, longitude: -74.0, origins: [ { name: a1, address: 192.0.2.1 } ] }',
  P3X: '{ minimum_origins: 5, latitude: 35.7, longitude: 139.7, origins: [ { name: c1, address: 203.0.113.1 } ] }',
  PN: '{ origins: [ { name: n1, address: 192.0.2.250 } ] }',
  FB: '{ origins: [ { name: f1, address: 192.0.2.100 } ] }',
};
const SRC: Record<string, string> = { '192.0.2.1': 'P1', '198.51.100.1': 'P2', '203.0.113.1': 'P3', '192.0.2.250': 'PN', '192.0.2.100': 'FB' };

describe('§9.5 proximity', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(fixture({
      pools: PROX_POOLS,
      lbs: [
        'name: t38.example.com, steering_policy: proximity, default_pools: [P1, P2, P3], fallback_pool: FB',
        'name: t39.example.com, steering_policy: proximity, default_pools: [P1, P2, P3], fallback_pool: FB, location_strategy: { mode: resolver_ip }',
        'name: t40.example.com, steering_policy: proximity, default_pools: [P1, P2X, P3], fallback_pool: FB',
        'name: nocoord.example.com, steering_policy: proximity, default_pools: [PN, P3X, P1X, P2], fallback_pool: FB',
        'name: nocoord2.example.com, steering_policy: proximity, default_pools: [PN, P3X, P1X, P2X], fallback_pool: FB',
      ],
    }));
  });
  afterAll(async () => {
    await s.stop();
  });

  const at = async (name: string, o: QueryOptions = {}) => {
    const r = await query(s.port, name, o);
    return { at: SRC[sorted(addrs(checkLb(r.packet)))[0]] ?? 'none', scope: ecsOf(r.packet)?.scopePrefixLength ?? null };
  };

  test('T38 proximity, default location_strategy, ECS from a London /24 → P2 (London), scope 24', async () => {
    const r = await at('t38.example.com', { ecs: '81.2.69.0/24' });
    expect(r).toEqual({ at: 'P2', scope: 24 });
    // Tokyo ECS → P3; Seattle-area ECS → P1 (New York is closer than London or Tokyo).
    expect((await at('t38.example.com', { ecs: '1.0.16.0/24' })).at).toBe('P3');
    expect((await at('t38.example.com', { ecs: '216.160.83.0/24' })).at).toBe('P1');
  });

  test('T39 no ECS → closest to the PoP (LAX) = P1; mode resolver_ip with a Tokyo resolver → P3', async () => {
    expect((await at('t38.example.com')).at).toBe('P1');
    expect((await at('t38.example.com', { from: '127.0.2.1' })).at).toBe('P1'); // mode pop: resolver ignored
    expect((await at('t39.example.com', { from: '127.0.2.1' })).at).toBe('P3');
    expect((await at('t39.example.com', { from: '127.0.1.1' })).at).toBe('P2');
    expect((await at('t39.example.com', { from: '127.0.0.1' })).at).toBe('P1'); // unmapped → PoP
  });

  test('T40 as T38 (ECS London) with P2 unhealthy → next-closest healthy pool P1', async () => {
    const r = await at('t40.example.com', { ecs: '81.2.69.0/24' });
    expect(r).toEqual({ at: 'P1', scope: 24 });
  });

  test('proximity: pools without coordinates come last, in config order; load warns about them', async () => {
    expect(s.logs.some((l) => l.includes('PN') && l.includes('no latitude/longitude'))).toBe(true);
    expect((await at('nocoord.example.com', { ecs: '81.2.69.0/24' })).at).toBe('P2');
    expect((await at('nocoord2.example.com', { ecs: '81.2.69.0/24' })).at).toBe('PN');
  });
});

describe('§9.5 dynamic_latency', () => {
  const A1 = '127.0.11.1';
  const B1 = '127.0.11.11';
  const C1 = '127.0.11.21';
  let h: HealthServers;
  let s: TestServer;

  beforeAll(async () => {
    h = await HealthServers.start([A1, B1, C1]);
    h.delay.set(A1, 237);
    h.delay.set(B1, 67);
    h.delay.set(C1, 156);
    const m = `{ type: http, port: ${h.port}, interval: 1, timeout: 0.9, retries: 0 }`;
    s = await startServer(fixture({
      monitors: { m },
      pools: {
        P1: `{ monitor: m, origins: [ { name: a1, address: ${A1} } ] }`,
        P2: `{ monitor: m, origins: [ { name: b1, address: ${B1} } ] }`,
        P3: `{ monitor: m, origins: [ { name: c1, address: ${C1} } ] }`,
        Q1: '{ origins: [ { name: q1, address: 192.0.2.1 } ] }',
        Q2: '{ origins: [ { name: q2, address: 198.51.100.1 } ] }',
        Q3: '{ origins: [ { name: q3, address: 203.0.113.1 } ] }',
      },
      lbs: [
        'name: t41.example.com, steering_policy: dynamic_latency, default_pools: [P1, P2, P3]',
        'name: t42.example.com, steering_policy: dynamic_latency, default_pools: [Q1, Q2, Q3]',
      ],
    }));
  });
  afterAll(async () => {
    await s.stop();
    await h.close();
  });

  const answer = async (name: string) => addrs(checkLb((await query(s.port, name)).packet));

  test('T42 dynamic_latency without RTT data (no monitors) → failover order: P1', async () => {
    const rs = await bulk(s.port, repeat({ name: 't42.example.com' }, 50));
    for (const p of rs) expect(addrs(checkLb(p))).toEqual(['192.0.2.1']);
  });

  test('T41 dynamic_latency with RTT EWMA P1 237 ms, P2 67 ms, P3 156 ms → P2; P2 slows down → P3', async () => {
    // Every pool has RTT data once all three endpoints have passed a probe.
    await waitFor(() => [A1, B1, C1].map((a) => [...s.server.store.keys()].find((k) => k.startsWith(`http ${a}:`))).map((k) => (k ? s.server.store.peek(k)?.rttEwmaMs ?? null : null)), (v) => v.every((x) => x !== null), 8000);
    await waitFor(() => answer('t41.example.com'), (v) => v[0] === B1, 5000);
    const rs = await bulk(s.port, repeat({ name: 't41.example.com' }, 50));
    for (const p of rs) expect(addrs(checkLb(p))).toEqual([B1]);
    h.delay.set(B1, 450);
    await waitFor(() => answer('t41.example.com'), (v) => v[0] === C1, 8000);
  });
});
