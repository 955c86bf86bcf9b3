// Seed §9.1 (T01–T13): failover, fallback and health thresholds, over UDP against the running server. Health
// comes from real `http` monitors probing tiny HTTP servers on 127.0.10.x that the tests flip between 200 and
// 500; the scenarios that need no health use pools without monitors.
import { flagOf, query, rcodeOf, sleep, startServer, type TestServer } from '../helpers/server';
import {
  aaOf, addrs, authorityTtl, authorityTypes, BASE_LB, bulk, checkLb, fixture, HealthServers, mustReload, repeat, sorted,
  targetState, ttls, waitFor,
} from './lb-helpers';

// Loopback addresses for the no-monitor scenarios (nothing listens there).
const A1 = '127.0.10.1';
const A2 = '127.0.10.2';

describe('§9.1 without monitors', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(fixture());
  });
  afterAll(async () => {
    await s.stop();
  });

  test('T01 all healthy → both P1 addresses (equal weights ⇒ all), TTL 30, AA', async () => {
    const r = await query(s.port, 'lb.example.com');
    expect(rcodeOf(r.packet)).toBe('NOERROR');
    expect(flagOf(r.raw, 'aa')).toBe(true);
    expect(sorted(addrs(r.packet))).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(ttls(r.packet)).toEqual([30, 30]);
    expect(r.packet.authorities ?? []).toEqual([]);
  });

  test('T01 multi-answers rotate, and every answer holds both addresses', async () => {
    const rs = await bulk(s.port, repeat({ name: 'lb.example.com' }, 40));
    const firsts = new Set(rs.map((p) => addrs(p)[0]));
    for (const p of rs) expect(sorted(addrs(checkLb(p)))).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(firsts).toEqual(new Set(['192.0.2.1', '192.0.2.2']));
  });

  test('T05 (config) every default pool down and the fallback pool disabled → NOERROR, no answer, SOA in AUTHORITY', async () => {
    const pools = {
      P1: '{ minimum_origins: 5, origins: [ { name: a1, address: 192.0.2.1 }, { name: a2, address: 192.0.2.2 } ] }',
      P2: '{ minimum_origins: 5, origins: [ { name: b1, address: 198.51.100.1 } ] }',
      P3: '{ minimum_origins: 5, origins: [ { name: c1, address: 203.0.113.1 } ] }',
      FB: '{ enabled: false, origins: [ { name: f1, address: 192.0.2.100 } ] }',
    };
    await mustReload(s, fixture({ pools }));
    const r = await query(s.port, 'lb.example.com');
    expect(rcodeOf(r.packet)).toBe('NOERROR');
    expect(aaOf(r.packet)).toBe(true);
    expect(r.packet.answers ?? []).toEqual([]);
    expect(authorityTypes(r.packet)).toEqual(['SOA']);
    expect(authorityTtl(r.packet)).toBe(60); // min(SOA TTL 3600, minimum 60)
    // The same pools with the fallback enabled: the fallback answers (health ignored).
    await mustReload(s, fixture({ pools: { ...pools, FB: '{ origins: [ { name: f1, address: 192.0.2.100 } ] }' } }));
    expect(addrs((await query(s.port, 'lb.example.com')).packet)).toEqual(['192.0.2.100']);
    await mustReload(s, fixture());
  });

  test('T06 P1 enabled: false → P2', async () => {
    await mustReload(s, fixture({ pools: { ...fixtureBasePools(), P1: '{ enabled: false, origins: [ { name: a1, address: 192.0.2.1 }, { name: a2, address: 192.0.2.2 } ] }' } }));
    const rs = await bulk(s.port, repeat({ name: 'lb.example.com' }, 20));
    for (const p of rs) expect(addrs(checkLb(p))).toEqual(['198.51.100.1']);
    await mustReload(s, fixture());
  });

  test('T09 no monitor anywhere: P1 endpoints that are actually down still get every answer', async () => {
    // 127.0.10.1/2 run nothing here; without a monitor their health is ignored.
    await mustReload(s, fixture({ pools: { ...fixtureBasePools(), P1: `{ origins: [ { name: a1, address: ${A1} }, { name: a2, address: ${A2} } ] }` } }));
    const rs = await bulk(s.port, repeat({ name: 'lb.example.com' }, 100));
    for (const p of rs) expect(sorted(addrs(checkLb(p)))).toEqual([A1, A2]);
    await mustReload(s, fixture());
  });

  test('T11 no monitors; every default-pool origin is a hostname that does not resolve → fallback pool', async () => {
    const pools = {
      P1: '{ origins: [ { name: a1, address: gone1.example.com }, { name: a2, address: gone2.example.com } ] }',
      P2: '{ origins: [ { name: b1, address: does-not-exist.invalid } ] }',
      P3: '{ origins: [ { name: c1, address: gone3.example.com } ] }',
      FB: '{ origins: [ { name: f1, address: 192.0.2.100 } ] }',
    };
    await mustReload(s, fixture({ pools }));
    const r = await waitFor(() => query(s.port, 'lb.example.com'), (x) => addrs(x.packet).length > 0, 15000);
    expect(addrs(r.packet)).toEqual(['192.0.2.100']);
    expect(r.packet.answers!.every((a) => a.type === 'A')).toBe(true); // never a CNAME
    // One resolvable name brings its pool back.
    await mustReload(s, fixture({ pools, records: ['name: gone2, type: A, value: 192.0.2.202'] }));
    const back = await waitFor(() => query(s.port, 'lb.example.com'), (x) => addrs(x.packet)[0] === '192.0.2.202', 15000);
    expect(addrs(back.packet)).toEqual(['192.0.2.202']);
    await mustReload(s, fixture());
  });
});

function fixtureBasePools(): Record<string, string> {
  return {
    P1: '{ origins: [ { name: a1, address: 192.0.2.1, weight: 1 }, { name: a2, address: 192.0.2.2, weight: 1 } ] }',
    P2: '{ origins: [ { name: b1, address: 198.51.100.1, weight: 1 } ] }',
    P3: '{ origins: [ { name: c1, address: 203.0.113.1, weight: 1 } ] }',
    FB: '{ origins: [ { name: f1, address: 192.0.2.100, weight: 1 } ] }',
  };
}

// ---- with real monitors -----------------------------------------------------------------------------------
// Each scenario gets its own server, HTTP servers and block of loopback addresses (127.0.<block>.x), so the
// scenarios (each mostly waiting for probe rounds) run concurrently.

interface Addrs { A1: string; A2: string; A3: string; B1: string; C1: string; F1: string }

function addrBlock(block: number): Addrs {
  const b = `127.0.${block}`;
  return { A1: `${b}.1`, A2: `${b}.2`, A3: `${b}.3`, B1: `${b}.11`, C1: `${b}.21`, F1: `${b}.100` };
}

function monitored(port: number, x: Addrs = addrBlock(10), o: { p1?: string; fb?: string; m1?: string; lb?: string } = {}): string {
  const m1 = o.m1 ?? `{ type: http, path: /, port: ${port}, interval: 1, timeout: 0.5, retries: 0, expected_codes: "200" }`;
  return fixture({
    monitors: { m1 },
    pools: {
      P1: o.p1 ?? `{ monitor: m1, minimum_origins: 1, origins: [ { name: a1, address: ${x.A1}, weight: 1 }, { name: a2, address: ${x.A2}, weight: 1 } ] }`,
      P2: `{ monitor: m1, minimum_origins: 1, origins: [ { name: b1, address: ${x.B1}, weight: 1 } ] }`,
      P3: `{ monitor: m1, minimum_origins: 1, origins: [ { name: c1, address: ${x.C1}, weight: 1 } ] }`,
      FB: o.fb ?? `{ monitor: m1, minimum_origins: 1, origins: [ { name: f1, address: ${x.F1}, weight: 1 } ] }`,
    },
    lbs: [o.lb ?? BASE_LB],
  });
}

interface HealthEnv extends Addrs {
  h: HealthServers;
  s: TestServer;
  base: string;
  lbAddrs(): Promise<string[]>;
  /** Waits for `want`, then checks that it holds over more than one probe interval. */
  settle(want: string[]): Promise<void>;
  state(addr: string): ReturnType<typeof targetState>;
  close(): Promise<void>;
}

/** A running server whose pools are probed by `m1`, with every endpoint healthy. */
async function healthEnv(block: number, o: { p1?: (x: Addrs) => string; m1?: (port: number) => string } = {}): Promise<HealthEnv> {
  const x = addrBlock(block);
  const h = await HealthServers.start(Object.values(x));
  const base = monitored(h.port, x);
  const s = await startServer(monitored(h.port, x, { p1: o.p1?.(x), m1: o.m1?.(h.port) }));
  const lbAddrs = async () => sorted(addrs(checkLb((await query(s.port, 'lb.example.com')).packet)));
  const env: HealthEnv = {
    ...x,
    h,
    s,
    base,
    lbAddrs,
    settle: async (want) => {
      await waitFor(lbAddrs, (v) => JSON.stringify(v) === JSON.stringify(want), 10000);
      for (let i = 0; i < 4; i++) {
        await sleep(300);
        expect(await lbAddrs()).toEqual(want);
      }
    },
    state: (a) => targetState(s, a),
    close: async () => {
      await s.stop();
      await h.close();
    },
  };
  await waitFor(() => [x.A1, x.A2, x.B1, x.C1, x.F1].map((a) => targetState(s, a).status), (v) => v.every((st) => st === 'healthy'), 10000);
  return env;
}

/** Runs `fn` in a fresh health environment and always stops it. */
async function withHealth(block: number, fn: (e: HealthEnv) => Promise<void>, o: Parameters<typeof healthEnv>[1] = {}): Promise<void> {
  const e = await healthEnv(block, o);
  try {
    await fn(e);
  } finally {
    await e.close();
  }
}

describe('§9.1 with http monitors (endpoints flipped between 200 and 500)', () => {
  test.concurrent('T02 P1 critical → P2; P1 recovers → P1 again (failback)', () => withHealth(12, async ({ h, settle, A1, A2, B1 }) => {
    await settle([A1, A2]);
    h.set([A1, A2], 500);
    await settle([B1]);
    h.set([A1, A2], 200);
    await settle([A1, A2]);
  }));

  test.concurrent('T03 P2 unhealthy with P1 healthy → P1; then P1 unhealthy too → P3 (P2 skipped)', () => withHealth(13, async ({ h, settle, state, A1, A2, B1, C1 }) => {
    h.set([B1], 500);
    await waitFor(() => state(B1).status, (v) => v === 'unhealthy');
    await settle([A1, A2]);
    h.set([A1, A2], 500);
    await settle([C1]);
  }));

  test.concurrent('T04 every default pool down → fallback pool, whether the fallback is healthy or not', () => withHealth(14, async ({ h, settle, state, A1, A2, B1, C1, F1 }) => {
    h.set([A1, A2, B1, C1], 500);
    await settle([F1]);
    h.set([F1], 500);
    await waitFor(() => state(F1).status, (v) => v === 'unhealthy');
    await settle([F1]);
  }));

  test.concurrent('T05 every default pool down and the fallback pool disabled → NOERROR, empty answer, zone SOA', () => withHealth(15, async (e) => {
    const { h, s, settle, A1, A2, B1, C1, F1 } = e;
    h.set([A1, A2, B1, C1], 500);
    await settle([F1]);
    await mustReload(s, monitored(h.port, e, { fb: `{ enabled: false, monitor: m1, origins: [ { name: f1, address: ${F1} } ] }` }));
    const r = await query(s.port, 'lb.example.com');
    expect(rcodeOf(r.packet)).toBe('NOERROR');
    expect(aaOf(r.packet)).toBe(true);
    expect(r.packet.answers ?? []).toEqual([]);
    expect(authorityTypes(r.packet)).toEqual(['SOA']);
    expect(authorityTtl(r.packet)).toBe(60);
    // A default pool coming back answers again with the fallback still disabled.
    h.set([C1], 200);
    await settle([C1]);
  }));

  test.concurrent('T07 P1 minimum_origins 2 with a2 unhealthy → P1 critical → P2', () => withHealth(17, async (e) => {
    const { h, s, settle, A1, A2, B1 } = e;
    h.set([A2], 500);
    await settle([A1]); // minimum_origins 1: P1 still serves its healthy endpoint
    await mustReload(s, monitored(h.port, e, { p1: `{ monitor: m1, minimum_origins: 2, origins: [ { name: a1, address: ${A1}, weight: 1 }, { name: a2, address: ${A2}, weight: 1 } ] }` }));
    await settle([B1]);
    h.set([A2], 200);
    await settle([A1, A2]);
  }));

  test.concurrent('T08 P1 with a3, minimum_origins 2, a3 unhealthy → P1 degraded but used: {a1, a2}', () => withHealth(18, async ({ h, settle, A1, A2, A3 }) => {
    await settle([A1, A2, A3]);
    h.set([A3], 500);
    await settle([A1, A2]);
  }, { p1: (x) => `{ monitor: m1, minimum_origins: 2, origins: [ { name: a1, address: ${x.A1}, weight: 1 }, { name: a2, address: ${x.A2}, weight: 1 }, { name: a3, address: ${x.A3}, weight: 1 } ] }` }));

  test.concurrent('T12 fallback_pool omitted → the last default pool (P3) serves, health ignored, when all are down', () => withHealth(19, async (e) => {
    const { h, s, settle, state, A1, A2, B1, C1 } = e;
    await mustReload(s, monitored(h.port, e, { lb: 'name: lb.example.com, default_pools: [P1, P2, P3], steering_policy: "off"' }));
    h.set([A1, A2, B1, C1], 500);
    await waitFor(() => state(C1).status, (v) => v === 'unhealthy');
    await settle([C1]);
  }));

  test.concurrent('T13 consecutive_down 2 / consecutive_up 3: a1 returned → removed → still removed → returned', () => withHealth(20, async ({ h, settle, state, lbAddrs, A1, A2 }) => {
    await settle([A1, A2]);
    h.set([A1], 500);
    // One failure: still healthy, still answered.
    await waitFor(() => state(A1), (v) => v.consecutiveDown === 1, 5000, 10);
    expect(state(A1).status).toBe('healthy');
    expect(await lbAddrs()).toEqual([A1, A2]);
    // Second failure in a row: removed.
    await waitFor(() => state(A1), (v) => v.status === 'unhealthy', 5000, 10);
    expect(await lbAddrs()).toEqual([A2]);
    h.set([A1], 200);
    // Two passes: still removed.
    await waitFor(() => state(A1), (v) => v.consecutiveUp === 2, 5000, 10);
    expect(state(A1).status).toBe('unhealthy');
    expect(await lbAddrs()).toEqual([A2]);
    // Third pass: back.
    await waitFor(() => state(A1), (v) => v.status === 'healthy', 5000, 10);
    expect(await lbAddrs()).toEqual([A1, A2]);
  }, { m1: (port) => `{ type: http, path: /, port: ${port}, interval: 1, timeout: 0.5, retries: 0, expected_codes: "200", consecutive_down: 2, consecutive_up: 3 }` }));
});

describe('T10 monitors attached, no probe result yet', () => {
  test('T10 monitored endpoints with no result yet count as down → fallback pool', async () => {
    const x = addrBlock(30);
    const h = await HealthServers.start(Object.values(x));
    for (const a of Object.values(x)) h.hang.add(a); // probes stay in flight: no result for `timeout` seconds
    const m1 = `{ type: http, path: /, port: ${h.port}, interval: 10, timeout: 8, retries: 0, expected_codes: "200" }`;
    const s = await startServer(monitored(h.port, x, { m1 }));
    try {
      const r = await query(s.port, 'lb.example.com');
      expect(addrs(checkLb(r.packet))).toEqual([x.F1]);
      // Still no result for any default-pool endpoint (no store entry, or 'unknown').
      for (const a of [x.A1, x.A2, x.B1, x.C1]) expect(['unknown', 'absent']).toContain(targetState(s, a).status);
    } finally {
      await s.stop();
      await h.close();
    }
  });
});
