// The status page at `/` in a real browser: Debian's Chromium (/usr/bin/chromium, .ci/run installs it), headless,
// driven by playwright-core (no browser download), against an in-process server on loopback.
//   - with config/example.yaml: the page lists the example's load balancers and pools, and draws the request
//     charts and the region table after queries;
//   - with monitored endpoints on 127.0.16.x: an endpoint that starts failing shows as unhealthy, with its
//     failure reason and a timeline event, within one probe interval and without a page reload;
//   - with http_token: the page asks for the token and opens with it.
// Screenshots go to test-artifacts/ (gitignored).
import { mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { openEndpoints, type Endpoint } from '../helpers/endpoints';
import { GEOIP_CITY, query, ROOT, sleep, startServer, tmpDir, type TestServer } from '../helpers/server';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'test-artifacts');

async function browser(): Promise<BrowserContext> {
  // A fresh profile per run; no background traffic (the network beyond loopback is closed here).
  return chromium.launchPersistentContext(tmpDir('steerdns-chromium-'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 1000 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/**
 * Waits until the request chart shows a number of series `ok` accepts. Polled from here: the page's CSP (script-src
 * 'self') refuses the eval a string predicate of waitForFunction needs.
 */
async function seriesShown(page: Page, ok: (n: number) => boolean, timeoutMs = 15000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const n = Number(await page.locator('#chart-pools').getAttribute('data-series'));
    if (ok(n)) return;
    if (Date.now() > end) throw new Error(`the request chart shows ${n} series`);
    await sleep(100);
  }
}

async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** config/example.yaml on free loopback ports, its GeoIP path made absolute. */
function exampleConfig(): string {
  return readFileSync(path.join(ROOT, 'config', 'example.yaml'), 'utf8')
    .replace('listen: ["127.0.0.1:5353"]', 'listen: ["127.0.0.1:0"]')
    .replace('http: "127.0.0.1:9153"', 'http: "127.0.0.1:0"')
    .replace('../geoip/test/city.mmdb', GEOIP_CITY);
}

/** Console errors and failed requests of a page: a page that works has none. */
function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    if (!r.url().endsWith('/api/stream')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  return problems;
}

describe('status page in Chromium', () => {
  let ctx: BrowserContext | null = null;
  let srv: TestServer | null = null;
  let endpoints: Endpoint[] = [];
  beforeAll(async () => {
    ctx = await browser();
  });
  afterAll(async () => {
    await ctx?.close();
  });
  afterEach(async () => {
    for (const p of ctx?.pages() ?? []) await p.close();
    await srv?.stop();
    srv = null;
    await Promise.all(endpoints.map((e) => e.stop()));
    endpoints = [];
  });

  test("lists the example's load balancers and pools, and draws the request charts after queries", async () => {
    srv = await startServer(exampleConfig());
    const page = await (ctx as BrowserContext).newPage();
    const problems = watch(page);
    await page.goto(`http://127.0.0.1:${srv.server.statusPort}/`);
    for (const lb of ['www.lb.example.com', 'near.lb.example.com', 'api.lb.example.com', 'lb.example.com', 'mx-a.lb.example.com', 'mx-b.lb.example.com']) {
      await page.locator(`tr.lb[data-lb="${lb}"]`).waitFor();
    }
    for (const pool of ['eu', 'us', 'ap', 'mail']) expect(await page.locator(`tr.pool[data-pool="${pool}"]`).count()).toBeGreaterThan(0);
    expect(await page.locator('tr.endpoint[data-endpoint="ap/nrt-1"]').first().getAttribute('data-status')).toBe('unmonitored');
    await page.locator('#live.ok').waitFor(); // the event stream is open

    // Queries from three regions; the page draws them at its next refresh (every 5 s).
    const dns = srv.port;
    for (let i = 0; i < 20; i++) {
      await query(dns, 'www.lb.example.com', { ecs: '81.2.69.0/24' });
      await query(dns, 'www.lb.example.com', { ecs: '1.0.16.0/24' });
      await query(dns, 'near.lb.example.com', { ecs: '216.160.83.0/24' });
    }
    await page.locator('#chart-pools.has-data canvas').waitFor({ timeout: 15000 });
    await page.locator('#chart-endpoints.has-data canvas').waitFor({ timeout: 15000 });
    const legend = (await page.locator('#chart-pools .u-legend').textContent()) ?? '';
    for (const pool of ['eu', 'ap', 'us']) expect(legend).toContain(pool);
    // Clients by region: GB → WEU (eu), JP → NEAS (ap), US-WA → WNAM (us).
    await page.locator('#regions tr[data-region="NEAS"]').waitFor();
    expect(await page.locator('#regions tr[data-region="NEAS"]').innerText()).toMatch(/ap 100 %/);
    expect(await page.locator('#regions tr[data-region="WEU"]').innerText()).toMatch(/\beu\b/);
    // The load balancer filter narrows the charts to one load balancer.
    await page.selectOption('#lb-filter', 'near.lb.example.com');
    await seriesShown(page, (n) => n === 1);
    await page.selectOption('#lb-filter', '');
    await seriesShown(page, (n) => n >= 3);
    await screenshot(page, 'status-page-example.png');
    expect(problems).toEqual([]);
  });

  test('an endpoint going unhealthy shows within one probe interval, without a reload', async () => {
    endpoints = await openEndpoints(['127.0.16.2', '127.0.16.3', '127.0.16.4']);
    const [a, b, c] = endpoints;
    const INTERVAL = 3;
    srv = await startServer(`server:
  listen: ["127.0.0.1:0"]
  http: "127.0.0.1:0"
  pop: { code: AMS, country: NL }
  geoip: { database: ${GEOIP_CITY} }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records: [ { name: ns1, type: A, value: 192.0.2.53 } ]
monitors:
  web: { type: http, port: ${a.port}, path: /health, interval: ${INTERVAL}, timeout: 1, retries: 0 }
pools:
  eu: { monitor: web, latitude: 50.1, longitude: 8.7, origins: [ { name: fra-1, address: ${a.address} }, { name: fra-2, address: ${b.address} } ] }
  us: { monitor: web, latitude: 40.7, longitude: -74.0, origins: [ { name: iad-1, address: ${c.address} } ] }
load_balancers:
  - name: www.example.com
    steering_policy: geo
    default_pools: [eu, us]
    region_pools: { ENAM: [us, eu], WNAM: [us, eu] }
    location_strategy: { prefer_ecs: always, mode: pop }
  - { name: api.example.com, default_pools: [us, eu] }
`);
    const page = await (ctx as BrowserContext).newPage();
    const problems = watch(page);
    await page.goto(`http://127.0.0.1:${srv.server.statusPort}/`);
    const fra1 = page.locator('tr.endpoint[data-lb="www.example.com"][data-endpoint="eu/fra-1"]');
    await page.locator('tr.endpoint[data-lb="www.example.com"][data-endpoint="eu/fra-1"][data-status="healthy"]').waitFor({ timeout: (INTERVAL + 5) * 1000 });
    await page.locator('#live.ok').waitFor();
    await page.evaluate('window.marker = 42'); // gone if the page reloads
    for (let i = 0; i < 10; i++) {
      await query(srv.port, 'www.example.com', { ecs: '81.2.69.0/24' });
      await query(srv.port, 'www.example.com', { ecs: '216.160.83.0/24' });
    }

    a.status = 503;
    const t0 = Date.now();
    // The next probe (at most one interval away) finds it; the event stream brings it to the page at once.
    await page.locator('tr.endpoint[data-lb="www.example.com"][data-endpoint="eu/fra-1"][data-status="unhealthy"]').waitFor({ timeout: INTERVAL * 1000 + 2000 });
    const shownAfter = Date.now() - t0;
    expect(await fra1.locator('td.reason').innerText()).toBe('Response code mismatch error');
    expect(await page.locator('tr.pool[data-lb="www.example.com"][data-pool="eu"]').getAttribute('data-state')).toBe('degraded');
    expect(await page.locator('tr.lb[data-lb="www.example.com"]').getAttribute('data-health')).toBe('healthy'); // eu is still usable (minimum 1)
    await page.locator('#events li', { hasText: 'fra-1 unhealthy: Response code mismatch error' }).waitFor();
    expect(await page.evaluate('window.marker')).toBe(42); // not reloaded
    await page.locator('#chart-pools.has-data canvas').waitFor({ timeout: 15000 });
    await page.locator('#chart-rtt.has-data canvas').waitFor({ timeout: 15000 });
    await page.click('[data-range="15m"]');
    await page.locator('#chart-pools.has-data canvas').waitFor();
    await sleep(500); // let the charts settle for the picture
    await screenshot(page, 'status-page-monitored.png');
    expect(problems).toEqual([]);
    expect(shownAfter).toBeLessThanOrEqual(INTERVAL * 1000 + 2000);
  });

  test('with http_token the page asks for the token and opens with it', async () => {
    srv = await startServer(exampleConfig().replace('http: "127.0.0.1:0"', 'http: "127.0.0.1:0"\n  http_token: "page-s3cret"'));
    const page = await (ctx as BrowserContext).newPage();
    const problems = watch(page);
    const r = await page.goto(`http://127.0.0.1:${srv.server.statusPort}/`);
    expect(r?.status()).toBe(401);
    expect(await page.locator('tr.lb').count()).toBe(0);
    await page.fill('#token', 'wrong');
    await page.click('button[type=submit]');
    await page.locator('#login-error').waitFor();
    await page.fill('#token', 'page-s3cret');
    await page.click('button[type=submit]');
    await page.locator('tr.lb[data-lb="www.lb.example.com"]').waitFor();
    await page.locator('#live.ok').waitFor();
    // The 401s of the wrong token (the login check, and the page's request for its own 401 document) are expected.
    expect(problems.filter((p) => !/401/.test(p))).toEqual([]);
  });
});
