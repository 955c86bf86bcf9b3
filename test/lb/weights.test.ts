// Seed §9.2 and §9.3 (T14–T26): answer shape, endpoint and pool weights, TTL and address families, over UDP.
// Distributions are checked with a chi-square goodness-of-fit test at p = 0.001.
import { query, rcodeOf, startServer, type TestServer } from '../helpers/server';
import {
  aaOf, addrs, authorityTtl, authorityTypes, BASE_POOLS, baseSource, bulk, countBy, expectFit, fixture, mustReload,
  repeat, sorted, ttls,
} from './lb-helpers';

const N = 10000;

const POOLS: Record<string, string> = {
  ...BASE_POOLS,
  W14: '{ origins: [ { name: a1, address: 192.0.2.1, weight: 1 }, { name: a2, address: 192.0.2.2, weight: 0.5 } ] }',
  W15: '{ origins: [ { name: a1, address: 192.0.2.1, weight: 0.4 }, { name: a2, address: 192.0.2.2, weight: 0.5 }, { name: a3, address: 192.0.2.3, weight: 0.6 } ] }',
  W16: '{ origins: [ { name: a1, address: 192.0.2.1, weight: 1 }, { name: a2, address: 192.0.2.2, weight: 1, enabled: false } ] }',
  W17: '{ origins: [ { name: a1, address: 192.0.2.1, weight: 1 }, { name: a2, address: 192.0.2.2, weight: 0 } ] }',
  W18: '{ origin_steering: { policy: hash }, origins: [ { name: a1, address: 192.0.2.1, weight: 1 }, { name: a2, address: 192.0.2.2, weight: 1 } ] }',
  W21: '{ origins: [ { name: a1, address: 192.0.2.1, weight: 1 }, { name: a6, address: "2001:db8::1", weight: 1 } ] }',
  W25: '{ origin_steering: { policy: least_outstanding_requests }, origins: [ { name: a1, address: 192.0.2.1, weight: 1 }, { name: a2, address: 192.0.2.2, weight: 0.5 } ] }',
  W25C: '{ origin_steering: { policy: least_connections }, origins: [ { name: a1, address: 192.0.2.1, weight: 1 }, { name: a2, address: 192.0.2.2, weight: 0.5 } ] }',
  // Never healthy (minimum_origins above its endpoint count): "unhealthy" without a monitor.
  P2X: '{ minimum_origins: 5, origins: [ { name: b1, address: 198.51.100.1, weight: 1 } ] }',
  V6: '{ origins: [ { name: v1, address: "2001:db8::10" } ] }',
};

const LBS = [
  'name: lb.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: "off"',
  'name: t14.example.com, default_pools: [W14]',
  'name: t15.example.com, default_pools: [W15]',
  'name: t16.example.com, default_pools: [W16]',
  'name: t17.example.com, default_pools: [W17]',
  'name: t18.example.com, default_pools: [W18]',
  'name: t20.example.com, default_pools: [P1], ttl: 120',
  'name: t20r.example.com, default_pools: [P1], ttl: 120, rules: [ { name: short, condition: "", overrides: { ttl: 10 } } ]',
  'name: t21.example.com, default_pools: [W21]',
  'name: t21skip.example.com, default_pools: [P1, V6], fallback_pool: FB',
  'name: t21none.example.com, default_pools: [P1, P2], fallback_pool: FB',
  'name: t22.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: random, random_steering: { pool_weights: { P1: 0.3, P2: 0.5 }, default_weight: 0.2 }',
  'name: t22u.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: random',
  'name: t23.example.com, default_pools: [P1, P2X, P3], fallback_pool: FB, steering_policy: random, random_steering: { pool_weights: { P1: 0.3, P2X: 0.5 }, default_weight: 0.2 }',
  'name: t24.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: least_outstanding_requests, random_steering: { pool_weights: { P1: 0.4, P2: 0.6, P3: 0 } }',
  'name: t25.example.com, default_pools: [W25]',
  'name: t25c.example.com, default_pools: [W25C]',
  'name: t26.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: least_connections, random_steering: { pool_weights: { P1: 0.4, P2: 0.6, P3: 0 } }',
];

let s: TestServer;
beforeAll(async () => {
  s = await startServer(fixture({ pools: POOLS, lbs: LBS }));
});
afterAll(async () => {
  await s.stop();
});

/** `n` answers for `name`, each checked for shape; returns the answers' address lists. */
async function many(name: string, n: number, o: { one?: boolean; ttl?: number } = {}): Promise<string[][]> {
  const rs = await bulk(s.port, repeat({ name }, n));
  return rs.map((p) => {
    if (rcodeOf(p) !== 'NOERROR' || !aaOf(p)) throw new Error(`${name}: ${rcodeOf(p)} aa=${aaOf(p)}`);
    const a = addrs(p);
    if (o.one && a.length !== 1) throw new Error(`${name}: expected exactly one A, got ${JSON.stringify(a)}`);
    for (const t of ttls(p)) if (t !== (o.ttl ?? 30)) throw new Error(`${name}: TTL ${t}`);
    return a;
  });
}

describe('§9.2 answer shape, weights, TTL', () => {
  test('T14 weights 1 and 0.5 (random) → one A per answer, a1 ≈ 66.7 %, a2 ≈ 33.3 %', async () => {
    const got = await many('t14.example.com', N, { one: true });
    expectFit(countBy(got, (a) => a[0]), ['192.0.2.1', '192.0.2.2'], [2 / 3, 1 / 3]);
  });

  test('T15 weights .4/.5/.6 → one A each, ≈ 26.67 % / 33.33 % / 40 %', async () => {
    const got = await many('t15.example.com', N, { one: true });
    expectFit(countBy(got, (a) => a[0]), ['192.0.2.1', '192.0.2.2', '192.0.2.3'], [0.4 / 1.5, 0.5 / 1.5, 0.6 / 1.5]);
  });

  test('T16 weights 1,1 with a2 enabled: false → {192.0.2.1}', async () => {
    for (const a of await many('t16.example.com', 50)) expect(a).toEqual(['192.0.2.1']);
  });

  test('T17 weights 1 and 0 → one A, always 192.0.2.1', async () => {
    for (const a of await many('t17.example.com', 500, { one: true })) expect(a).toEqual(['192.0.2.1']);
  });

  test('T18 weights 1,1 with origin_steering hash → both addresses (equal weights ⇒ all)', async () => {
    for (const a of await many('t18.example.com', 50)) expect(sorted(a)).toEqual(['192.0.2.1', '192.0.2.2']);
  });

  test('T19 ttl unset → TTL 30', async () => {
    const r = await query(s.port, 'lb.example.com');
    expect(ttls(r.packet)).toEqual([30, 30]);
  });

  test('T20 ttl 120 → TTL 120; with a rule condition "" overriding ttl 10 → TTL 10', async () => {
    expect(ttls((await query(s.port, 't20.example.com')).packet)).toEqual([120, 120]);
    expect(ttls((await query(s.port, 't20r.example.com')).packet)).toEqual([10, 10]);
  });

  test('T21 a pool with 192.0.2.1 and 2001:db8::1 (weights 1,1): AAAA → {2001:db8::1} only, A → {192.0.2.1} only', async () => {
    const six = await query(s.port, 't21.example.com', { type: 'AAAA' });
    expect(addrs(six.packet, 'AAAA')).toEqual(['2001:db8::1']);
    expect((six.packet.answers ?? []).map((a) => a.type)).toEqual(['AAAA']);
    expect(ttls(six.packet)).toEqual([30]);
    const four = await query(s.port, 't21.example.com', { type: 'A' });
    expect(addrs(four.packet)).toEqual(['192.0.2.1']);
    expect((four.packet.answers ?? []).map((a) => a.type)).toEqual(['A']);
  });

  test('T21 family filtering: a pool without the family is skipped for that query type (AAAA → next pool with IPv6)', async () => {
    expect(addrs((await query(s.port, 't21skip.example.com', { type: 'AAAA' })).packet, 'AAAA')).toEqual(['2001:db8::10']);
    expect(sorted(addrs((await query(s.port, 't21skip.example.com', { type: 'A' })).packet))).toEqual(['192.0.2.1', '192.0.2.2']);
  });

  test('T21 no pool (fallback included) has the family → NOERROR, no answer, SOA', async () => {
    const r = await query(s.port, 't21none.example.com', { type: 'AAAA' });
    expect(rcodeOf(r.packet)).toBe('NOERROR');
    expect(r.packet.answers ?? []).toEqual([]);
    expect(authorityTypes(r.packet)).toEqual(['SOA']);
    expect(authorityTtl(r.packet)).toBe(60);
  });

  test('other query types at an LB name → NODATA (NOERROR, SOA)', async () => {
    for (const type of ['TXT', 'CAA', 'HTTPS', 'MX', 'SRV']) {
      const r = await query(s.port, 'lb.example.com', { type });
      expect(rcodeOf(r.packet)).toBe('NOERROR');
      expect(r.packet.answers ?? []).toEqual([]);
      expect(authorityTypes(r.packet)).toEqual(['SOA']);
    }
  });
});

describe('§9.3 random, least_outstanding_requests, least_connections', () => {
  test('T22 random with pool_weights {P1: .3, P2: .5}, default_weight .2 → 30 / 50 / 20 %', async () => {
    const got = await many('t22.example.com', N);
    expectFit(countBy(got, baseSource), ['P1', 'P2', 'P3'], [0.3, 0.5, 0.2]);
  });

  test('T22 random without random_steering → ≈ 1/3 each (default_weight 1)', async () => {
    const got = await many('t22u.example.com', N);
    expectFit(countBy(got, baseSource), ['P1', 'P2', 'P3'], [1 / 3, 1 / 3, 1 / 3]);
  });

  test('T23 as T22 with P2 unhealthy → P1 / P3 at 0.3 : 0.2 = 60 / 40 %', async () => {
    const got = await many('t23.example.com', N);
    expectFit(countBy(got, baseSource), ['P1', 'P3'], [0.6, 0.4]);
  });

  test('T24 least_outstanding_requests, weights P1 .4, P2 .6, P3 0 → 40 / 60 % (counts are zero), P3 never', async () => {
    const got = await many('t24.example.com', N);
    expectFit(countBy(got, baseSource), ['P1', 'P2'], [0.4, 0.6]);
  });

  test('T25 origin_steering least_outstanding_requests, weights 1 and .5 → one A each, ≈ 66.7 / 33.3 %', async () => {
    const got = await many('t25.example.com', N, { one: true });
    expectFit(countBy(got, (a) => a[0]), ['192.0.2.1', '192.0.2.2'], [2 / 3, 1 / 3]);
  });

  test('T25 (least_connections at pool level) behaves the same: weighted random', async () => {
    const got = await many('t25c.example.com', N / 2, { one: true });
    expectFit(countBy(got, (a) => a[0]), ['192.0.2.1', '192.0.2.2'], [2 / 3, 1 / 3]);
  });

  test('T26 least_connections, weights as T24 → same distribution as T24', async () => {
    const got = await many('t26.example.com', N);
    expectFit(countBy(got, baseSource), ['P1', 'P2'], [0.4, 0.6]);
  });

  test('random: weight changes apply on reload', async () => {
    const lbs = LBS.map((l) => (l.startsWith('name: t22.') ? 'name: t22.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: random, random_steering: { pool_weights: { P1: 0, P2: 1 }, default_weight: 0 }' : l));
    await mustReload(s, fixture({ pools: POOLS, lbs }));
    const got = await many('t22.example.com', 300);
    expect([...countBy(got, baseSource).keys()]).toEqual(['P2']);
    await mustReload(s, fixture({ pools: POOLS, lbs: LBS }));
  });
});
