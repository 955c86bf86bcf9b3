// Seed §9.8 (T51–T52) and design §2.5–2.6: load shedding (random and IP hash) and hash endpoint steering with
// unequal weights — stable per client, and only the clients of a removed endpoint move. The client key is the
// ECS address when ECS decided the location (distinct 5.x.y.0/24 networks, all in NL 5.0.0.0/8), else the
// resolver's address (distinct loopback sources 127.x.y.z).
import { ecsOf, query, startServer, type TestServer } from '../helpers/server';
import {
  addrs, BASE_POOLS, baseSource, bulk, checkLb, countBy, expectFit, fixture, fromEach, loopbackSources, mustReload, repeat,
  type Packet,
} from './lb-helpers';

const H_ALL = '{ origin_steering: { policy: hash }, origins: [ { name: e1, address: 192.0.2.1, weight: 1 }, { name: e2, address: 192.0.2.2, weight: 2 }, { name: e3, address: 192.0.2.3, weight: 3 }, { name: e4, address: 192.0.2.4, weight: 1 } ] }';
const H_NO3 = H_ALL.replace('weight: 3 }', 'weight: 3, enabled: false }');

function pools(h: string): Record<string, string> {
  return {
    ...BASE_POOLS,
    H: h,
    S1: '{ origin_steering: { policy: hash }, load_shedding: { default_percent: 50, default_policy: hash }, origins: [ { name: s1, address: 192.0.2.1 } ] }',
    S2: '{ origins: [ { name: s2, address: 198.51.100.1 } ] }',
    R1: '{ load_shedding: { default_percent: 50, default_policy: random }, origins: [ { name: r1, address: 192.0.2.1 } ] }',
    A1: '{ load_shedding: { default_percent: 100 }, origins: [ { name: a1, address: 192.0.2.1 } ] }',
    A2: '{ load_shedding: { default_percent: 100 }, origins: [ { name: b1, address: 198.51.100.1 } ] }',
    A3: '{ load_shedding: { default_percent: 100 }, origins: [ { name: c1, address: 203.0.113.1 } ] }',
    H1: '{ load_shedding: { default_percent: 50 }, origins: [ { name: a1, address: 192.0.2.1 } ] }',
    H2: '{ load_shedding: { default_percent: 50 }, origins: [ { name: b1, address: 198.51.100.1 } ] }',
    H3: '{ load_shedding: { default_percent: 50 }, origins: [ { name: c1, address: 203.0.113.1 } ] }',
  };
}

const LBS = [
  'name: hashgeo.example.com, steering_policy: geo, default_pools: [H], location_strategy: { prefer_ecs: always }',
  'name: hashoff.example.com, steering_policy: "off", default_pools: [H]',
  'name: t51.example.com, steering_policy: "off", default_pools: [S1, S2]',
  'name: shedrandom.example.com, steering_policy: "off", default_pools: [R1, S2]',
  'name: t52.example.com, steering_policy: "off", default_pools: [A1, A2, A3], fallback_pool: FB',
  'name: t52half.example.com, steering_policy: "off", default_pools: [H1, H2, H3], fallback_pool: FB',
];

const yaml = (h: string) => fixture({ pools: pools(h), lbs: LBS });
const one = (p: Packet): string => {
  const a = addrs(checkLb(p));
  if (a.length !== 1) throw new Error(`expected one address, got ${JSON.stringify(a)}`);
  return a[0];
};
const ecsNets = (n: number) => Array.from({ length: n }, (_, i) => `5.${(i >> 8) + 1}.${i & 255}.0/24`);

let s: TestServer;
beforeAll(async () => {
  s = await startServer(yaml(H_ALL));
});
afterAll(async () => {
  await s.stop();
});

describe('hash endpoint steering (unequal weights)', () => {
  const clients = ecsNets(2000);

  test('the same ECS network gets the same endpoint 100×, from any resolver; scope = source prefix', async () => {
    for (const ecs of clients.slice(0, 10)) {
      const first = one((await query(s.port, 'hashgeo.example.com', { ecs })).packet);
      for (const from of ['127.0.0.1', '127.0.1.1', '127.0.2.1']) {
        const rs = await bulk(s.port, repeat({ name: 'hashgeo.example.com', ecs }, 34), { from });
        for (const p of rs) {
          expect(one(p)).toBe(first);
          expect(ecsOf(p)?.scopePrefixLength).toBe(24);
        }
      }
    }
  });

  test('over 2000 ECS networks the endpoints follow the weights 1:2:3:1; disabling e3 moves only e3\'s clients', async () => {
    const before = (await bulk(s.port, clients.map((ecs) => ({ name: 'hashgeo.example.com', ecs })))).map(one);
    expectFit(countBy(before, (a) => a), ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'], [1 / 7, 2 / 7, 3 / 7, 1 / 7]);
    await mustReload(s, yaml(H_NO3));
    const after = (await bulk(s.port, clients.map((ecs) => ({ name: 'hashgeo.example.com', ecs })))).map(one);
    let moved = 0;
    const movedTo: string[] = [];
    before.forEach((b, i) => {
      if (b === '192.0.2.3') {
        expect(after[i]).not.toBe('192.0.2.3');
        movedTo.push(after[i]);
      } else if (after[i] !== b) moved++;
    });
    expect(moved).toBe(0);
    // e3's clients spread over the rest by weight (1:2:1).
    expectFit(countBy(movedTo, (a) => a), ['192.0.2.1', '192.0.2.2', '192.0.2.4'], [1 / 4, 2 / 4, 1 / 4]);
    // Back: every client returns to its original endpoint.
    await mustReload(s, yaml(H_ALL));
    const again = (await bulk(s.port, clients.map((ecs) => ({ name: 'hashgeo.example.com', ecs })))).map(one);
    expect(again).toEqual(before);
  });

  test('without ECS deciding, the resolver address is the key: stable per resolver; disabling e3 moves only its resolvers', async () => {
    const sources = loopbackSources(600, 21);
    // ECS is sent but the policy (off) does not use it: the resolver decides, and the scope is 0.
    const first = (await fromEach(s.port, sources, 'hashoff.example.com', { ecs: '81.2.69.0/24' })).map((p) => {
      expect(ecsOf(p)?.scopePrefixLength).toBe(0);
      return one(p);
    });
    const second = (await fromEach(s.port, sources, 'hashoff.example.com')).map(one);
    expect(second).toEqual(first);
    for (const from of sources.slice(0, 5)) {
      const rs = await bulk(s.port, repeat({ name: 'hashoff.example.com' }, 100), { from });
      for (const p of rs) expect(one(p)).toBe(first[sources.indexOf(from)]);
    }
    expect(new Set(first).size).toBe(4);
    await mustReload(s, yaml(H_NO3));
    const after = (await fromEach(s.port, sources, 'hashoff.example.com')).map(one);
    first.forEach((b, i) => {
      if (b === '192.0.2.3') expect(after[i]).not.toBe('192.0.2.3');
      else expect(after[i]).toBe(b);
    });
    await mustReload(s, yaml(H_ALL));
  });
});

describe('§9.8 load shedding', () => {
  test('T51 IP-hash shedding 50 % (method 2): same resolver → identical answer 100×; 10,000 resolvers ≈ 50 % to P2', async () => {
    for (const from of ['127.0.0.1', '127.0.1.1', '127.0.3.7', '127.0.9.9']) {
      const rs = await bulk(s.port, repeat({ name: 't51.example.com' }, 100), { from });
      const first = one(rs[0]);
      for (const p of rs) expect(one(p)).toBe(first);
    }
    const sources = loopbackSources(10000, 22);
    const got = (await fromEach(s.port, sources, 't51.example.com')).map(one);
    const shed = got.filter((a) => a === '198.51.100.1').length / got.length;
    expect(got.every((a) => a === '192.0.2.1' || a === '198.51.100.1')).toBe(true);
    expect(shed).toBeGreaterThan(0.46);
    expect(shed).toBeLessThan(0.54);
  });

  test('random shedding 50 % splits the queries of one resolver ≈ 50/50', async () => {
    const rs = await bulk(s.port, repeat({ name: 'shedrandom.example.com' }, 4000));
    expectFit(countBy(rs, (p) => one(p)), ['192.0.2.1', '198.51.100.1'], [0.5, 0.5]);
  });

  test('T52 every pool sheds 100 % → the fallback pool answers', async () => {
    const rs = await bulk(s.port, repeat({ name: 't52.example.com' }, 200));
    for (const p of rs) expect(baseSource(addrs(checkLb(p)))).toBe('FB');
  });

  test('T52 every pool sheds 50 % (random) → some answers from the fallback pool (P1 .5, P2 .25, P3 .125, FB .125)', async () => {
    const rs = await bulk(s.port, repeat({ name: 't52half.example.com' }, 8000));
    expectFit(countBy(rs, (p) => baseSource(addrs(p))), ['P1', 'P2', 'P3', 'FB'], [0.5, 0.25, 0.125, 0.125]);
  });
});
