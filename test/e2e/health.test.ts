// Health monitors end to end, real sockets only: HTTP endpoints on 127.0.10.x (the endpoint `address` is both
// what DNS answers and what the monitor probes, on the monitor `port`), the real server on a loopback port, and
// DNS queries over UDP. Covers the "Health monitors" done-when lines:
//   - answers follow health within one interval (+ probe time): 500, stopped server, recovery, all down → fallback;
//   - consecutive_down: 2 observed over the wire (one failed probe changes nothing, the second does);
//   - a reload keeps state for unchanged targets and drops it for changed ones (changed → unknown → fallback until
//     probed), while a change of scheduling fields only carries the state over;
//   - state_file across a restart of the CLI process: restored health answers from the primary pool at once,
//     without a state file the same immediate query gets the fallback (unknown = down).
// The restart test runs `node dist/cli.js` (`npm test` builds first).
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { aOf, FALLBACK, openEndpoints, waitAnswer, waitFor, wwwPoolYaml, ZONE, type Endpoint } from '../helpers/endpoints';
import { sleep, spawnServer, startServer, tmpDir, writeConfig, type TestServer } from '../helpers/server';

// interval 1 s, timeout 1 s, retries 0: a change must show within one interval plus the probe time (≤ timeout).
const INTERVAL_MS = 1000;
const WITHIN_MS = INTERVAL_MS + 1000;

describe('DNS answers follow health (in-process server, HTTP monitors on 127.0.10.x)', () => {
  let endpoints: Endpoint[] = [];
  let srv: TestServer | null = null;
  afterEach(async () => {
    await srv?.stop();
    srv = null;
    await Promise.all(endpoints.map((e) => e.stop()));
    endpoints = [];
  });

  test('500, stop, recovery and all-down each show in the A answer within one interval (+ probe time)', async () => {
    endpoints = await openEndpoints(['127.0.10.2', '127.0.10.3']);
    const [e1, e2] = endpoints;
    srv = await startServer(`
server: { listen: ["127.0.0.1:0"], http: null }
${ZONE}
${wwwPoolYaml(e1.port, [e1.address, e2.address], { interval: 1, timeout: 1 })}`);
    const port = srv.port;
    // Start-up: the first probes run at once (spread over ≤ 1 s).
    await waitAnswer(port, 'www.example.com', [e1.address, e2.address], 1000 + WITHIN_MS);
    expect(e1.received.every((r) => r.path === '/health')).toBe(true);

    // e1 answers 500 → dropped.
    e1.status = 500;
    expect(await waitAnswer(port, 'www.example.com', [e2.address], WITHIN_MS)).toBeLessThan(WITHIN_MS);
    expect(e1.answeredWith(500)).toBeGreaterThanOrEqual(1);
    // e1 recovers → back.
    e1.status = 200;
    expect(await waitAnswer(port, 'www.example.com', [e1.address, e2.address], WITHIN_MS)).toBeLessThan(WITHIN_MS);
    // e2 stops listening (connection refused) → dropped.
    await e2.stop();
    expect(await waitAnswer(port, 'www.example.com', [e1.address], WITHIN_MS)).toBeLessThan(WITHIN_MS);
    // Both down → the fallback pool answers (health ignored).
    e1.status = 503;
    expect(await waitAnswer(port, 'www.example.com', [FALLBACK], WITHIN_MS)).toBeLessThan(WITHIN_MS);
    // It stays on the fallback while nothing changes (a few more probe rounds).
    const stayUntil = Date.now() + 2 * INTERVAL_MS;
    while (Date.now() < stayUntil) {
      expect(await aOf(port, 'www.example.com')).toEqual([FALLBACK]);
      await sleep(50);
    }
    // e2 listens again on the same address and port → the pool is back with e2 alone, then both.
    await e2.start();
    expect(await waitAnswer(port, 'www.example.com', [e2.address], WITHIN_MS)).toBeLessThan(WITHIN_MS);
    e1.status = 200;
    expect(await waitAnswer(port, 'www.example.com', [e1.address, e2.address], WITHIN_MS)).toBeLessThan(WITHIN_MS);
  }, 30000);

  test('consecutive_down: 2 — one failed probe keeps the endpoint, the second one drops it; one pass brings it back', async () => {
    endpoints = await openEndpoints(['127.0.10.4']);
    const [e] = endpoints;
    srv = await startServer(`
server: { listen: ["127.0.0.1:0"], http: null }
${ZONE}
monitors:
  web: { type: http, port: ${e.port}, path: /, interval: 1, timeout: 1, retries: 0, consecutive_down: 2, consecutive_up: 1 }
pools:
  P2: { monitor: web, origins: [ { name: e3, address: ${e.address} } ] }
  FB: { origins: [ { name: fb, address: ${FALLBACK} } ] }
load_balancers:
  - { name: cd.example.com, default_pools: [P2], fallback_pool: FB }
`);
    const port = srv.port;
    await waitAnswer(port, 'cd.example.com', [e.address], 1000 + WITHIN_MS);

    const flipped = Date.now();
    e.status = 500;
    // The first failed probe: recorded, but the endpoint stays in the answer.
    await waitFor('the first 500', () => e.answeredWith(500, flipped) === 1, WITHIN_MS);
    await sleep(150); // well after the prober recorded it, well before the next round (1 s)
    expect(e.answeredWith(500, flipped)).toBe(1);
    expect(await aOf(port, 'cd.example.com')).toEqual([e.address]);
    // The second failed probe drops it (→ fallback); not before.
    await waitAnswer(port, 'cd.example.com', [FALLBACK], WITHIN_MS);
    expect(e.answeredWith(500, flipped)).toBeGreaterThanOrEqual(2);
    const fails = e.answered.filter((a) => a.status === 500 && a.at >= flipped);
    expect(fails[1].at - fails[0].at).toBeGreaterThanOrEqual(INTERVAL_MS - 300); // two rounds, one interval apart
    // consecutive_up: 1 → the first pass brings it back.
    e.status = 200;
    const up = Date.now();
    await waitAnswer(port, 'cd.example.com', [e.address], WITHIN_MS);
    expect(e.answeredWith(200, up)).toBe(1);
  }, 30000);

  test('reload keeps state for unchanged targets and drops it for a changed one (path), carries it for an interval change', async () => {
    endpoints = await openEndpoints(['127.0.10.11', '127.0.10.12']);
    const [ea, eb] = endpoints;
    // The changed target's first probe is slow, so its "unknown" window is observable.
    eb.delay.set('/b2', 1500);
    const cfg = (bPath: string, bInterval: number): string => `
server: { listen: ["127.0.0.1:0"], http: null }
${ZONE}
monitors:
  ma: { type: http, port: ${ea.port}, path: /a, interval: 1, timeout: 1, retries: 0 }
  mb: { type: http, port: ${eb.port}, path: ${bPath}, interval: ${bInterval}, timeout: 2, retries: 0 }
pools:
  PA: { monitor: ma, origins: [ { name: a1, address: ${ea.address} } ] }
  PB: { monitor: mb, origins: [ { name: b1, address: ${eb.address} } ] }
  FB: { origins: [ { name: fb, address: ${FALLBACK} } ] }
load_balancers:
  - { name: a.example.com, default_pools: [PA], fallback_pool: FB }
  - { name: b.example.com, default_pools: [PB], fallback_pool: FB }
`;
    srv = await startServer(cfg('/b', 2));
    const port = srv.port;
    await waitAnswer(port, 'a.example.com', [ea.address], 1000 + WITHIN_MS);
    await waitAnswer(port, 'b.example.com', [eb.address], 1000 + WITHIN_MS);

    // Watch a.example.com continuously across the reload: its target is unchanged, so it never goes unknown.
    const aSeen = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        aSeen.add((await aOf(port, 'a.example.com')).join(','));
        await sleep(10);
      }
    })();

    // mb's path changes: a new target, unknown (= down) until its first probe completes → b goes to the fallback.
    const reloadedAt = Date.now();
    expect(await srv.reload(cfg('/b2', 2))).toBe(true);
    expect(await aOf(port, 'b.example.com')).toEqual([FALLBACK]);
    expect(eb.answered.filter((x) => x.path === '/b2')).toHaveLength(0);
    // Back once the slow /b2 probe has answered (started within ≤ 1 s of the reload, answers 1.5 s later).
    const back = await waitAnswer(port, 'b.example.com', [eb.address], 1000 + 1500 + 1000);
    expect(eb.answered.filter((x) => x.path === '/b2').length).toBeGreaterThanOrEqual(1);
    expect(back).toBeGreaterThanOrEqual(1000); // the fallback window lasted at least most of the slow probe

    // Only mb's interval changes: same probe definition, so the new target inherits the state (no fallback window)
    // even though its first probe (slow, 1.5 s) has not answered yet.
    const before = eb.answered.length;
    expect(await srv.reload(cfg('/b2', 3))).toBe(true);
    for (let i = 0; i < 10; i++) {
      expect(await aOf(port, 'b.example.com')).toEqual([eb.address]);
      await sleep(50);
    }
    expect(eb.answered.length).toBe(before);

    watching = false;
    await watcher;
    expect([...aSeen]).toEqual([ea.address]);
    // The unchanged target kept being probed on /a throughout (no restart from unknown).
    expect(ea.answered.filter((x) => x.at >= reloadedAt).every((x) => x.path === '/a' && x.status === 200)).toBe(true);
  }, 30000);
});

describe('state_file across a restart of the CLI process', () => {
  test('restored health answers from the primary pool at once; without a state file the same query gets the fallback', async () => {
    const endpoints = await openEndpoints(['127.0.10.21', '127.0.10.22']);
    const [e1, e2] = endpoints;
    const dir = tmpDir('steerdns-state-');
    const stateFile = path.join(dir, 'health.json');
    // timeout 5 s ≥ the 3 s delay of the slow phase below: probes are slow, not failing.
    const cfg = (withState: boolean): string => `
server: { listen: ["127.0.0.1:0"], http: null${withState ? `, state_file: ${JSON.stringify(stateFile)}` : ''} }
${ZONE}
${wwwPoolYaml(e1.port, [e1.address, e2.address], { interval: 5, timeout: 5 })}`;
    const withState = writeConfig(cfg(true), dir);
    const without = writeConfig(cfg(false), tmpDir('steerdns-nostate-'));
    const primary = [e1.address, e2.address];
    try {
      // 1. Healthy endpoints; wait until the state file holds both targets as healthy.
      let srv = await spawnServer(withState);
      try {
        await waitAnswer(srv.port, 'www.example.com', primary, 1000 + 2000);
        await waitFor(
          'the state file',
          () => {
            if (!existsSync(stateFile)) return false;
            const snap = JSON.parse(readFileSync(stateFile, 'utf8')) as { targets: { status: string }[] };
            return snap.targets.length === 2 && snap.targets.every((t) => t.status === 'healthy');
          },
          3000,
        );
      } finally {
        expect(await srv.stop('SIGTERM')).toBe(0);
      }

      // 2. The endpoints become slow (3 s, still within the timeout). Restart: the first query, right after start,
      //    is answered from the restored state — before any probe of this process has been answered.
      for (const e of endpoints) e.delay.set('/health', 3000);
      // Probe answers to requests that this process sent (received after `since`).
      const answeredSince = (since: number): number => endpoints.reduce((n, e) => n + e.answered.filter((a) => a.receivedAt >= since).length, 0);
      let since = Date.now();
      srv = await spawnServer(withState);
      try {
        expect(await aOf(srv.port, 'www.example.com')).toEqual(primary);
        expect(answeredSince(since)).toBe(0);
        expect(srv.stderr()).toContain('"health state restored"');
        expect(srv.stderr()).toMatch(/"restored":2/);
      } finally {
        expect(await srv.stop('SIGTERM')).toBe(0);
      }

      // 3. The same restart without a state file: unknown counts as down → the fallback pool, until the slow
      //    probes answer (≈ 3 s) and the primary pool returns.
      since = Date.now();
      srv = await spawnServer(without);
      try {
        expect(await aOf(srv.port, 'www.example.com')).toEqual([FALLBACK]);
        expect(answeredSince(since)).toBe(0);
        await waitAnswer(srv.port, 'www.example.com', primary, 1000 + 3000 + 2000);
      } finally {
        expect(await srv.stop('SIGTERM')).toBe(0);
      }
    } finally {
      await Promise.all(endpoints.map((e) => e.stop()));
    }
  }, 40000);
});
