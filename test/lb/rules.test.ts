// Seed §9.6 (T43–T47) and design §2.9: custom rules over UDP — conditions on DNS-only fields, priority order
// (ties in file order), later matches winning per field, `terminates`, and each kind of override.
import { ecsOf, query, startServer, type QueryOptions, type TestServer } from '../helpers/server';
import { addrs, baseSource, bulk, checkLb, fixture, repeat, ttls } from './lb-helpers';

const POOLS: Record<string, string> = {
  P1: '{ origins: [ { name: a1, address: 192.0.2.1 }, { name: a2, address: 192.0.2.2 }, { name: a6, address: "2001:db8::1" } ] }',
  P2: '{ origins: [ { name: b1, address: 198.51.100.1 } ] }',
  P3: '{ origins: [ { name: c1, address: 203.0.113.1 }, { name: c6, address: "2001:db8::3" } ] }',
  FB: '{ origins: [ { name: f1, address: 192.0.2.100 } ] }',
  P1X: '{ minimum_origins: 5, origins: [ { name: a1, address: 192.0.2.1 }, { name: a2, address: 192.0.2.2 } ] }',
  P2X: '{ minimum_origins: 5, origins: [ { name: b1, address: 198.51.100.1 } ] }',
  P3X: '{ minimum_origins: 5, origins: [ { name: c1, address: 203.0.113.1 } ] }',
};
const D = 'default_pools: [P1, P2, P3], fallback_pool: FB';

const LBS = [
  `name: t43.example.com, ${D}, rules: [ { name: v6, condition: "dns.qry.type == 28", overrides: { default_pools: [P3] } } ]`,
  'name: t44.example.com, default_pools: [P1, P2], rules: [ { name: lower-half, condition: "ip.src in {0.0.0.0/1}", overrides: { default_pools: [P2, P1] } } ]',
  'name: t44b.example.com, default_pools: [P1, P2], rules: [ { name: upper-half, condition: "ip.src in {128.0.0.0/1}", overrides: { default_pools: [P2, P1] } } ]',
  `name: t45a.example.com, ${D}, rules: [ { name: R1, priority: 10, condition: "", overrides: { ttl: 50 } }, { name: R2, priority: 5, condition: "", overrides: { ttl: 40 } } ]`,
  `name: t45b.example.com, ${D}, rules: [ { name: R1, priority: 10, condition: "", overrides: { ttl: 50 } }, { name: R2, priority: 5, condition: "", terminates: true, overrides: { ttl: 40 } } ]`,
  `name: t46.example.com, ${D}, rules: [ { name: first, condition: "", overrides: { ttl: 11 } }, { name: second, condition: "", overrides: { ttl: 22 } }, { name: off, disabled: true, condition: "", overrides: { ttl: 33 } } ]`,
  'name: t47.example.com, default_pools: [P1X, P2X, P3X], fallback_pool: FB, rules: [ { condition: "", overrides: { fallback_pool: P3 } } ]',
  'name: t47n.example.com, default_pools: [P1X, P2X, P3X], fallback_pool: FB',
  // terminates only when the rule matched
  `name: term.example.com, ${D}, rules: [ { name: a-only, priority: 1, condition: "dns.qry.type == 1", terminates: true, overrides: { ttl: 5 } }, { name: all, priority: 2, condition: "", overrides: { ttl: 7, default_pools: [P3] } } ]`,
  // ties keep file order; a lower priority listed last still runs first
  `name: ties.example.com, ${D}, rules: [ { name: t1, priority: 3, condition: "", overrides: { ttl: 12 } }, { name: t2, priority: 3, condition: "", overrides: { ttl: 13 } }, { name: early, priority: -1, condition: "", overrides: { ttl: 99, default_pools: [P2] } } ]`,
  // later values win per field only: the default_pools of "early" stay
  `name: steer-geo.example.com, ${D}, steering_policy: "off", region_pools: { WNAM: [P3] }, rules: [ { condition: "", overrides: { steering_policy: geo } } ]`,
  `name: steer-off.example.com, ${D}, steering_policy: geo, region_pools: { WNAM: [P3] }, rules: [ { condition: "", overrides: { steering_policy: "off" } } ]`,
  `name: steer-random.example.com, ${D}, steering_policy: "off", rules: [ { condition: "", overrides: { steering_policy: random, random_steering: { pool_weights: { P2: 1 }, default_weight: 0 } } } ]`,
  `name: locstrat.example.com, ${D}, steering_policy: geo, country_pools: { GB: [P2] }, location_strategy: { prefer_ecs: never, mode: pop }, rules: [ { condition: "dns.rr.opt.client", overrides: { location_strategy: { prefer_ecs: always, mode: pop } } } ]`,
  `name: country.example.com, ${D}, steering_policy: geo, country_pools: { GB: [P2] }, location_strategy: { prefer_ecs: always, mode: pop }, rules: [ { condition: "ip.src in {81.2.69.0/24}", overrides: { country_pools: { GB: [P3] } } } ]`,
  `name: region.example.com, ${D}, rules: [ { condition: "cf.load_balancer.region == \\"WNAM\\"", overrides: { default_pools: [P3] } } ]`,
  `name: lbname.example.com, ${D}, rules: [ { condition: "cf.load_balancer.name == \\"lbname.example.com\\"", overrides: { default_pools: [P2] } } ]`,
  `name: "*.wild.example.com", ${D}, rules: [ { condition: "dns.qry.name == \\"special.wild.example.com.\\"", overrides: { default_pools: [P3] } }, { condition: "dns.qry.name.len > 25", overrides: { default_pools: [P2] } } ]`,
  // More rules than the bits of the memo key: rule 32 must not be mistaken for rule 0 (which never matches an A).
  `name: many.example.com, ${D}, rules: [ { name: r0, condition: "dns.qry.type == 28", overrides: { ttl: 77, default_pools: [P3] } }, ${Array.from({ length: 31 }, (_, i) => `{ name: r${i + 1}, condition: "dns.qry.type == 28", overrides: { ttl: ${i + 1} } }`).join(', ')}, { name: r32, condition: "", overrides: { ttl: 44 } } ]`,
];

let s: TestServer;
beforeAll(async () => {
  s = await startServer(fixture({ pools: POOLS, lbs: LBS }));
});
afterAll(async () => {
  await s.stop();
});

async function ask(name: string, o: QueryOptions = {}) {
  const r = await query(s.port, name, o);
  checkLb(r.packet, ttls(r.packet)[0]); // NOERROR, AA, one TTL for the RRset
  const type = o.type === 'AAAA' ? 'AAAA' : 'A';
  const a = addrs(r.packet, type).sort();
  const e = ecsOf(r.packet);
  return { at: type === 'A' ? baseSource(a) : a.join(','), ttl: ttls(r.packet)[0] ?? null, scope: e ? e.scopePrefixLength : null, addrs: a };
}

describe('§9.6 custom rules', () => {
  test('T43 rule dns.qry.type == 28 → default_pools [P3]: AAAA from P3, A from P1', async () => {
    expect((await ask('t43.example.com', { type: 'AAAA' })).at).toBe('2001:db8::3');
    expect((await ask('t43.example.com')).at).toBe('P1');
    expect((await ask('t43.example.com')).addrs).toEqual(['192.0.2.1', '192.0.2.2']);
  });

  test('T44 DNS persistence method 3: ip.src in {0.0.0.0/1} → [P2, P1]; ip.src is the ECS address when present', async () => {
    // Resolver 127.0.0.1 is in the lower half of the IPv4 space.
    const plain = await ask('t44.example.com');
    expect(plain.at).toBe('P2');
    // ECS in the upper half: the rule does not match although the resolver is in the lower half.
    const upper = await ask('t44.example.com', { ecs: '192.0.2.0/24' });
    expect(upper.at).toBe('P1');
    expect(upper.scope).toBe(24); // the answer depends on the ECS address
    const lower = await ask('t44.example.com', { ecs: '10.1.2.0/24' });
    expect(lower.at).toBe('P2');
    expect(lower.scope).toBe(24);
    // The mirror rule (upper half) for the same resolver.
    expect((await ask('t44b.example.com')).at).toBe('P1');
    expect((await ask('t44b.example.com', { ecs: '192.0.2.0/24' })).at).toBe('P2');
    // ECS /0 carries no address: ip.src is the resolver again.
    const optOut = await ask('t44b.example.com', { ecs: '0.0.0.0/0' });
    expect(optOut.at).toBe('P1');
    expect(optOut.scope).toBe(0);
  });

  test('T45 priorities: R2 (5) then R1 (10), last wins → TTL 50; R2 terminating → TTL 40', async () => {
    expect((await ask('t45a.example.com')).ttl).toBe(50);
    expect((await ask('t45b.example.com')).ttl).toBe(40);
  });

  test('T46 no priorities: file order (ttl 11 then 22 → 22); a disabled rule (ttl 33) is ignored', async () => {
    expect((await ask('t46.example.com')).ttl).toBe(22);
  });

  test('T47 rule condition "" overriding fallback_pool P3, every default pool down → {203.0.113.1}', async () => {
    const r = await ask('t47.example.com');
    expect(r.addrs).toEqual(['203.0.113.1']);
    expect((await ask('t47n.example.com')).at).toBe('FB');
  });

  test('terminates stops only when its rule matched', async () => {
    const a = await ask('term.example.com');
    expect(a.ttl).toBe(5);
    expect(a.at).toBe('P1'); // the later rule did not run
    const six = await ask('term.example.com', { type: 'AAAA' });
    expect(six.ttl).toBe(7);
    expect(six.at).toBe('2001:db8::3'); // the later rule ran: default_pools [P3]
  });

  test('equal priorities keep file order; a lower priority listed last runs first; later rules win per field only', async () => {
    const r = await ask('ties.example.com');
    expect(r.ttl).toBe(13);
    expect(r.at).toBe('P2'); // default_pools from "early" survive the later ttl-only rules
  });

  test('override steering_policy: off → geo (region WNAM → P3); geo → off (P1); off → random with weights (P2 only)', async () => {
    expect((await ask('steer-geo.example.com')).at).toBe('P3');
    expect((await ask('steer-off.example.com')).at).toBe('P1');
    const rs = await bulk(s.port, repeat({ name: 'steer-random.example.com' }, 200));
    for (const p of rs) expect(baseSource(addrs(checkLb(p)))).toBe('P2');
  });

  test('override location_strategy: ECS used only when the rule (dns.rr.opt.client) switches prefer_ecs to always', async () => {
    const withEcs = await ask('locstrat.example.com', { ecs: '81.2.69.0/24' });
    expect(withEcs.at).toBe('P2');
    expect(withEcs.scope).toBe(24);
    expect((await ask('locstrat.example.com')).at).toBe('P1');
  });

  test('override country_pools for one ECS network', async () => {
    const r = await ask('country.example.com', { ecs: '81.2.69.0/24' });
    expect(r.at).toBe('P3');
    expect(r.scope).toBe(24);
    const other = await ask('country.example.com', { ecs: '2001:db8:100::/56' }); // also GB, not matched by the rule
    expect(other.at).toBe('P2');
    expect(other.scope).toBe(56); // a rule read ip.src: the whole source prefix matters
  });

  test('cf.load_balancer.region is the PoP region (WNAM); cf.load_balancer.name is the LB name', async () => {
    expect((await ask('region.example.com')).at).toBe('P3');
    expect((await ask('lbname.example.com')).at).toBe('P2');
  });

  test('dns.qry.name is the name asked (wildcard LB), with its trailing dot; dns.qry.name.len', async () => {
    expect((await ask('special.wild.example.com')).at).toBe('P3');
    expect((await ask('SPECIAL.wild.example.com')).at).toBe('P3'); // case-insensitive
    expect((await ask('x.wild.example.com')).at).toBe('P1');
    expect((await ask('a-rather-long-name.wild.example.com')).at).toBe('P2');
  });

  test('more than 31 rules: each matching rule applies, no other', async () => {
    const a = await ask('many.example.com');
    expect([a.at, a.ttl]).toEqual(['P1', 44]); // only r32 matched
    const aaaa = await ask('many.example.com', { type: 'AAAA' });
    expect([aaaa.at, aaaa.ttl]).toEqual(['2001:db8::3', 44]); // r0…r32 matched: r0's pools, r32's TTL last
  });
});
