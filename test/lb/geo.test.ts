// Seed §9.4 (T27–T37) and location_strategy (design §2.8): geo steering, the prefer_ecs × mode table, ECS scope,
// subdivision keys. PoP LAX / US / WNAM; ECS and resolver source addresses are located with geoip/test/city.mmdb
// (81.2.69.0/24 GB, 1.0.16.0/24 JP, 5.0.0.0/8 NL, 198.51.100.0/25 AU, 2001:db8:100::/48 GB; resolvers
// 127.0.1.x GB, 127.0.2.x JP, 127.0.3.x US-CA, 127.0.4.x DE, 127.0.5.x US-NY, 127.0.6.x CA-QC, 127.0.0.1 unmapped).
import { ecsOf, query, rcodeOf, startServer, type QueryOptions, type TestServer } from '../helpers/server';
import { aaOf, addrs, BASE_POOLS, baseSource, bulk, fixture, sorted, ttls } from './lb-helpers';

const LOC_POOLS: Record<string, string> = {
  LUS: '{ latitude: 34.0, longitude: -118.2, origins: [ { name: us, address: 192.0.2.11 } ] }',
  LNY: '{ latitude: 40.7, longitude: -74.0, origins: [ { name: ny, address: 192.0.2.12 } ] }',
  LGB: '{ latitude: 51.5, longitude: -0.1, origins: [ { name: gb, address: 192.0.2.44 } ] }',
  LJP: '{ latitude: 35.7, longitude: 139.7, origins: [ { name: jp, address: 192.0.2.81 } ] }',
  LNL: '{ latitude: 52.4, longitude: 4.9, origins: [ { name: nl, address: 192.0.2.31 } ] }',
  LAU: '{ latitude: -33.9, longitude: 151.2, origins: [ { name: au, address: 192.0.2.61 } ] }',
  LCA: '{ origins: [ { name: ca, address: 192.0.2.13 } ] }',
  LENAM: '{ origins: [ { name: enam, address: 192.0.2.14 } ] }',
  LWEU: '{ origins: [ { name: weu, address: 192.0.2.15 } ] }',
};
const WHERE: Record<string, string> = {
  '192.0.2.11': 'US', '192.0.2.12': 'US-NY', '192.0.2.44': 'GB', '192.0.2.81': 'JP', '192.0.2.31': 'NL', '192.0.2.61': 'AU',
  '192.0.2.13': 'US-CA', '192.0.2.14': 'ENAM', '192.0.2.15': 'WEU',
};
const where = (a: string[]): string => (a.length === 1 ? WHERE[a[0]] ?? baseSource(a) : baseSource(a));

const P2X = '{ minimum_origins: 5, origins: [ { name: b1, address: 198.51.100.1 } ] }';

const PREFER = ['always', 'never', 'proximity', 'geo'] as const;
const MODE = ['pop', 'resolver_ip'] as const;
const tableName = (policy: string, prefer: string, mode: string) => `${policy}-${prefer}-${mode.replace('_', '-')}.example.com`;

const LBS: string[] = [
  'name: lb.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: "off"',
  'name: t27a.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: geo, region_pools: { ENAM: [P2] }',
  'name: t27b.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: geo, region_pools: { WNAM: [P2] }',
  'name: t28.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: geo, region_pools: { WNAM: [P2] }, country_pools: { US: [P3] }',
  'name: t29a.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: geo, region_pools: { WNAM: [P2] }, country_pools: { US: [P3] }, pop_pools: { LAX: [P1] }',
  'name: t29b.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: geo, region_pools: { WNAM: [P2] }, country_pools: { US: [P3] }, pop_pools: { SJC: [P1] }',
  'name: t30.example.com, default_pools: [P1, P2X, P3], fallback_pool: FB, steering_policy: geo, region_pools: { WNAM: [P2X, P3] }',
  'name: t31.example.com, default_pools: [P1, P2X, P3], fallback_pool: FB, steering_policy: geo, region_pools: { WNAM: [P2X] }',
  'name: t32a.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: "", region_pools: { WNAM: [P2] }',
  'name: t32b.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: ""',
  'name: t32c.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, region_pools: { WNAM: [P2] }',
  'name: t33.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: geo, country_pools: { GB: [P2] }, location_strategy: { prefer_ecs: geo, mode: pop }',
  'name: t34n.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: geo, country_pools: { GB: [P2] }, location_strategy: { prefer_ecs: never, mode: pop }',
  'name: t34p.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: geo, country_pools: { GB: [P2] }, location_strategy: { prefer_ecs: proximity, mode: pop }',
  'name: t35.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: geo, country_pools: { GB: [P2] }, location_strategy: { prefer_ecs: never, mode: resolver_ip }',
  'name: t36.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: geo, region_pools: { WNAM: [P2] }, rules: [ { name: v6, condition: "dns.qry.type == 1", overrides: { region_pools: { WNAM: [P3] } } } ]',
  'name: t37.example.com, default_pools: [P1, P2], steering_policy: geo, region_pools: { WNAM: [P2, P1] }, location_strategy: { prefer_ecs: never, mode: pop }',
  // Location details.
  'name: scope.example.com, default_pools: [LUS], steering_policy: geo, country_pools: { GB: [LGB], JP: [LJP], NL: [LNL], AU: [LAU] }, location_strategy: { prefer_ecs: always, mode: resolver_ip }',
  'name: subdiv.example.com, default_pools: [LUS], steering_policy: geo, country_pools: { US-CA: [LCA], US: [LNY], GB: [LGB] }, region_pools: { ENAM: [LENAM] }, location_strategy: { prefer_ecs: never, mode: resolver_ip }',
  'name: region.example.com, default_pools: [LUS], steering_policy: geo, region_pools: { WEU: [LWEU] }, location_strategy: { prefer_ecs: always, mode: pop }',
  'name: popwins.example.com, default_pools: [LUS], steering_policy: geo, pop_pools: { LAX: [LNY] }, country_pools: { GB: [LGB] }, location_strategy: { prefer_ecs: always, mode: pop }',
  'name: offecs.example.com, default_pools: [LUS, LGB], steering_policy: "off", location_strategy: { prefer_ecs: always, mode: resolver_ip }',
];
for (const policy of ['geo', 'proximity']) {
  for (const prefer of PREFER) {
    for (const mode of MODE) {
      const pools = policy === 'geo'
        ? 'default_pools: [LUS], country_pools: { GB: [LGB], JP: [LJP] }'
        : 'default_pools: [LUS, LGB, LJP]';
      LBS.push(`name: ${tableName(policy, prefer, mode)}, steering_policy: ${policy}, ${pools}, location_strategy: { prefer_ecs: ${prefer}, mode: ${mode} }`);
    }
  }
}

let s: TestServer;
beforeAll(async () => {
  s = await startServer(fixture({ pools: { ...BASE_POOLS, P2X, ...LOC_POOLS }, lbs: LBS }));
});
afterAll(async () => {
  await s.stop();
});

async function ask(name: string, o: QueryOptions = {}): Promise<{ at: string; addrs: string[]; scope: number | null; source: number | null }> {
  const r = await query(s.port, name, o);
  expect(rcodeOf(r.packet)).toBe('NOERROR');
  expect(aaOf(r.packet)).toBe(true);
  const a = sorted(addrs(r.packet));
  for (const t of ttls(r.packet)) expect(t).toBe(30);
  const e = ecsOf(r.packet);
  return { at: where(a), addrs: a, scope: e ? e.scopePrefixLength : null, source: e ? e.sourcePrefixLength : null };
}

describe('§9.4 geo steering', () => {
  test('T27 region_pools {ENAM: [P2]} at a WNAM PoP → default pools (P1); {WNAM: [P2]} → P2', async () => {
    expect((await ask('t27a.example.com')).at).toBe('P1');
    expect((await ask('t27b.example.com')).at).toBe('P2');
  });

  test('T28 country_pools {US: [P3]} beats region_pools {WNAM: [P2]} (country from the PoP, mode pop)', async () => {
    expect((await ask('t28.example.com')).at).toBe('P3');
    // A resolver elsewhere does not matter in mode pop.
    expect((await ask('t28.example.com', { from: '127.0.1.1' })).at).toBe('P3');
  });

  test('T29 pop_pools {LAX: [P1]} beats country and region; pop_pools {SJC: [P1]} → country (P3)', async () => {
    expect((await ask('t29a.example.com')).at).toBe('P1');
    expect((await ask('t29b.example.com')).at).toBe('P3');
  });

  test('T30 region_pools {WNAM: [P2, P3]} with P2 unhealthy → P3', async () => {
    expect((await ask('t30.example.com')).at).toBe('P3');
  });

  test('T31 geo area exhausted → fallback pool (not default_pools)', async () => {
    expect((await ask('t31.example.com')).at).toBe('FB');
  });

  test('T32 steering_policy "" acts as geo with a geo map (P2), as off without (P1); omitted = ""', async () => {
    expect((await ask('t32a.example.com')).at).toBe('P2');
    expect((await ask('t32b.example.com')).at).toBe('P1');
    expect((await ask('t32c.example.com')).at).toBe('P2');
  });

  test('T33 geo, country_pools {GB: [P2]}, prefer_ecs geo, ECS 81.2.69.0/24 (GB) → P2, ECS scope 24', async () => {
    const r = await ask('t33.example.com', { ecs: '81.2.69.0/24' });
    expect(r.at).toBe('P2');
    expect(r.source).toBe(24);
    expect(r.scope).toBe(24);
  });

  test('T34 the same ECS query with prefer_ecs never, and with prefer_ecs proximity → P1 (PoP country US), scope 0', async () => {
    for (const name of ['t34n.example.com', 't34p.example.com']) {
      const r = await ask(name, { ecs: '81.2.69.0/24' });
      expect(r.at).toBe('P1');
      expect(r.scope).toBe(0);
    }
  });

  test('T35 prefer_ecs never, mode resolver_ip: resolver in GB → P2; unmapped resolver → PoP location → P1', async () => {
    expect((await ask('t35.example.com', { from: '127.0.1.1' })).at).toBe('P2');
    expect((await ask('t35.example.com', { from: '127.0.0.1' })).at).toBe('P1');
    // ECS is ignored (never): a GB ECS from an unmapped resolver does not move it, and the scope says so.
    const r = await ask('t35.example.com', { from: '127.0.0.1', ecs: '81.2.69.0/24' });
    expect(r.at).toBe('P1');
    expect(r.scope).toBe(0);
  });

  test('T36 geo + a custom rule is accepted with a warning, and the rule applies', async () => {
    expect(s.logs.some((l) => l.includes('incompatible with geo steering') && l.includes('t36.example.com'))).toBe(true);
    expect((await ask('t36.example.com')).at).toBe('P3'); // the rule (A query) replaced region_pools.WNAM
    expect((await ask('t36.example.com', { type: 'AAAA' })).addrs).toEqual([]); // no pool has IPv6: NODATA
  });

  test('T37 DNS persistence method 1 (geo, region WNAM [P2, P1], never/pop) → always P2, whatever ECS or resolver', async () => {
    const ecs = ['81.2.69.0/24', '1.0.16.0/24', '5.1.2.0/24', '216.160.83.0/24', '198.51.100.0/24', undefined];
    const from = ['127.0.0.1', '127.0.1.1', '127.0.2.1', '127.0.3.1', '127.0.4.1', '127.0.5.1', '127.0.6.1'];
    for (const f of from) {
      const rs = await bulk(s.port, ecs.map((e) => ({ name: 't37.example.com', ecs: e })), { from: f });
      for (const p of rs) {
        expect(baseSource(addrs(p))).toBe('P2');
        const e = ecsOf(p);
        if (e) expect(e.scopePrefixLength).toBe(0);
      }
    }
  });
});

describe('location_strategy: prefer_ecs × mode (design §2.8)', () => {
  // ECS says GB (81.2.69.0/24), the resolver (127.0.2.1) says JP, the PoP says US.
  for (const policy of ['geo', 'proximity']) {
    for (const prefer of PREFER) {
      for (const mode of MODE) {
        const ecsUsed = prefer === 'always' || prefer === policy;
        const expected = ecsUsed ? 'GB' : mode === 'resolver_ip' ? 'JP' : 'US';
        test(`${policy} / prefer_ecs ${prefer} / mode ${mode}: ECS GB + resolver JP → ${expected}, scope ${ecsUsed ? 24 : 0}`, async () => {
          const name = tableName(policy, prefer, mode);
          const r = await ask(name, { ecs: '81.2.69.0/24', from: '127.0.2.1' });
          expect(r.at).toBe(expected);
          expect(r.scope).toBe(ecsUsed ? 24 : 0);
          // Without ECS: resolver location (resolver_ip) or the PoP; no ECS option in the response.
          const n = await ask(name, { from: '127.0.2.1' });
          expect(n.at).toBe(mode === 'resolver_ip' ? 'JP' : 'US');
          expect(n.scope).toBeNull();
          // Unmapped resolver, no ECS: the PoP.
          expect((await ask(name, { from: '127.0.0.1', edns: true })).at).toBe('US');
        });
      }
    }
  }
});

describe('ECS scope and location details', () => {
  test('scope = the deciding GeoIP network prefix: ECS 5.6.7.0/24 is in NL 5.0.0.0/8 → scope 8', async () => {
    const r = await ask('scope.example.com', { ecs: '5.6.7.0/24' });
    expect(r.at).toBe('NL');
    expect(r.source).toBe(24);
    expect(r.scope).toBe(8);
  });

  test('scope is capped by the source prefix: 198.51.100.0/24 (DB network /25) → 24; /28 → 25; /32 → 25', async () => {
    const a = await ask('scope.example.com', { ecs: '198.51.100.0/24' });
    expect(a.at).toBe('AU');
    expect(a.scope).toBe(24);
    const b = await ask('scope.example.com', { ecs: '198.51.100.16/28' });
    expect(b.at).toBe('AU');
    expect(b.scope).toBe(25);
    const c = await ask('scope.example.com', { ecs: '198.51.100.77/32' });
    expect(c.at).toBe('AU');
    expect(c.scope).toBe(25);
  });

  test('IPv6 ECS 2001:db8:100::/56 → GB (2001:db8:100::/48), scope 48', async () => {
    const r = await ask('scope.example.com', { ecs: '2001:db8:100::/56' });
    expect(r.at).toBe('GB');
    expect(r.source).toBe(56);
    expect(r.scope).toBe(48);
    const jp = await ask('scope.example.com', { ecs: '2001:db8:200::/64' });
    expect(jp.at).toBe('JP');
    expect(jp.scope).toBe(48);
  });

  test('ECS /0 (client opt-out) is not used: resolver location, scope 0', async () => {
    const r = await ask('scope.example.com', { ecs: '0.0.0.0/0', from: '127.0.2.1' });
    expect(r.at).toBe('JP');
    expect(r.source).toBe(0);
    expect(r.scope).toBe(0);
    const pop = await ask('scope.example.com', { ecs: '0.0.0.0/0', from: '127.0.0.1' });
    expect(pop.at).toBe('US');
    expect(pop.scope).toBe(0);
  });

  test('ECS with no GeoIP location falls back to the resolver (mode resolver_ip)', async () => {
    const r = await ask('scope.example.com', { ecs: '192.0.2.0/24', from: '127.0.1.1' });
    expect(r.at).toBe('GB');
  });

  test('ECS preferred but not in the GeoIP database: the scope is not 0 (the answer depends on the ECS address)', async () => {
    // A GB client behind the same resolver would get another answer, so a scope-0 (valid for everyone) answer
    // would be cached and served to it.
    const miss = await ask('scope.example.com', { ecs: '192.0.2.0/24', from: '127.0.0.1' });
    expect(miss.at).toBe('US');
    expect(miss.scope).toBeGreaterThan(0);
    expect(miss.scope).toBeLessThanOrEqual(24);
  });

  test('ECS scope 0 for a policy that does not use a location (off), even with prefer_ecs always', async () => {
    const r = await ask('offecs.example.com', { ecs: '81.2.69.0/24' });
    expect(r.at).toBe('US');
    expect(r.scope).toBe(0);
  });

  test('country_pools subdivision keys: resolver 127.0.3.1 (US-CA) → US-CA pool; 127.0.5.1 (US-NY) → US pool', async () => {
    expect((await ask('subdiv.example.com', { from: '127.0.3.1' })).at).toBe('US-CA');
    expect((await ask('subdiv.example.com', { from: '127.0.5.1' })).at).toBe('US-NY');
    expect((await ask('subdiv.example.com', { from: '127.0.1.1' })).at).toBe('GB');
  });

  test('unlisted country → its region list if any (CA-QC → ENAM), else default pools (DE)', async () => {
    expect((await ask('subdiv.example.com', { from: '127.0.6.1' })).at).toBe('ENAM');
    expect((await ask('subdiv.example.com', { from: '127.0.4.1' })).at).toBe('US');
    // The PoP (US without subdivision, region WNAM set explicitly) when the resolver is unmapped: country US.
    expect((await ask('subdiv.example.com', { from: '127.0.0.1' })).at).toBe('US-NY');
  });

  test('ECS decides the region too (prefer_ecs always): NL ECS → region WEU; a country without a region → default pools', async () => {
    const r = await ask('region.example.com', { ecs: '5.9.9.0/24' });
    expect(r.at).toBe('WEU');
    expect(r.scope).toBe(8);
    expect((await ask('region.example.com', { ecs: '100.64.7.0/24' })).at).toBe('US'); // AQ: no region
    expect((await ask('region.example.com', { ecs: '1.0.16.0/24' })).at).toBe('US'); // JP → NEAS: unmapped
  });

  test('pop_pools are keyed by this server\'s PoP and win over an ECS country', async () => {
    expect((await ask('popwins.example.com', { ecs: '81.2.69.0/24' })).at).toBe('US-NY');
  });
});
