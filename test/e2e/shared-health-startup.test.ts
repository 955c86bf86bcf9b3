// An unreachable shared-health store at start-up is a warning, not a failure: the server starts, answers, decides
// from its own results and says so (log, /api/status, /readyz), and takes the shared view once the store answers.
import * as http from 'node:http';
import * as net from 'node:net';
import { FALLBACK, until } from '../helpers/endpoints';
import { TestRedis } from '../helpers/redis';
import { answers, query, startServer } from '../helpers/server';

jest.setTimeout(30_000);

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('the server starts without its store, decides locally, then joins the shared view', async () => {
  const port = await closedPort();
  const srv = await startServer(`server:
  listen: ["127.0.0.1:0"]
  http: "127.0.0.1:0"
  pop: { code: AMS, region: WEU }
  shared_health: { url: "redis://127.0.0.1:${port}", poll_interval: 0.2, timeout: 0.5 }
zones:
  - name: example.com
    ns: [ns1.example.com]
monitors:
  web: { type: tcp, port: ${await closedPort()}, interval: 1, timeout: 0.5, retries: 0 }
pools:
  a: { monitor: web, origins: [{ address: 127.0.0.21 }] }
  fb: { origins: [{ address: ${FALLBACK} }] }
load_balancers:
  - { name: www.example.com, default_pools: [a], fallback_pool: fb }
`);
  let redis: TestRedis | null = null;
  try {
    const hp = srv.server.statusPort;
    // Local health decides: the origin refuses connections, so www goes to the fallback.
    await until('fallback', async () => answers((await query(srv.port, 'www.example.com')).packet, 'A'), (a) => a.join() === FALLBACK, 5000);
    await until('a warning in the log', () => Promise.resolve(srv.logs.join('\n')), (l) => l.includes("the store cannot be reached; deciding from this vantage point's own results"), 5000);
    const ready = await until('ready', () => get(hp, '/readyz'), (b) => b.startsWith('ready\n'), 5000);
    expect(ready).toMatch(/^ready\nshared health: store redis:\/\/127\.0\.0\.1:\d+\/0 not reached yet, health from this vantage point's own results\n$/);
    // Decided from the local probe, not merely unknown.
    const pool = JSON.parse(await get(hp, '/api/pools/a')) as { result: { origins: { status: string; failure_reason: string }[] } };
    expect(pool.result.origins[0]).toMatchObject({ status: 'unhealthy', failure_reason: 'TCP connection failed' });
    const status = JSON.parse(await get(hp, '/api/status')) as { result: { shared_health: { mode: string; store_up: boolean } } };
    expect(status.result.shared_health).toMatchObject({ mode: 'local', store_up: false });

    // The store comes up on that port: the instance joins the shared view by itself.
    redis = await TestRedis.start(port);
    await until('shared mode', () => get(hp, '/readyz'), (b) => b.includes('global view from 1 vantage point(s)'), 10000);
    expect(answers((await query(srv.port, 'www.example.com')).packet, 'A')).toEqual([FALLBACK]);
  } finally {
    await srv.stop();
    await redis?.kill();
  }
});

