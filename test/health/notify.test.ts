import type { NotificationFilterConfig } from '../../src/config/types';
import type { HealthEvent } from '../../src/health/events';
import { WebhookNotifier, shouldNotify } from '../../src/health/notify';
import { config, listenHttp, pool, waitFor } from './helpers';

function event(over: { originHealthy?: boolean | null; poolChanged?: boolean; poolHealthy?: boolean; id?: number } = {}): HealthEvent {
  const originChanged = over.originHealthy !== null && over.originHealthy !== undefined;
  return {
    id: over.id ?? 1,
    timestamp: new Date(0).toISOString(),
    pool: { name: 'P1', healthy: over.poolHealthy ?? false, changed: over.poolChanged ?? false, minimum_origins: 1, state: 'critical' },
    origins: [
      {
        name: 'a1',
        ip: '192.0.2.1',
        enabled: true,
        healthy: over.originHealthy ?? true,
        failure_reason: 'No failures',
        response_code: 200,
        changed: originChanged,
      },
    ],
    cause: { target: 'k', monitor: 'm1', origin: 'a1', from: 'healthy', to: 'unhealthy', detail: '' },
  };
}

const filter = (o: Partial<NotificationFilterConfig['origin']>, p: Partial<NotificationFilterConfig['pool']>): NotificationFilterConfig => ({
  origin: { disable: false, healthy: null, ...o },
  pool: { disable: false, healthy: null, ...p },
});

describe('shouldNotify (notification_filter)', () => {
  it('no filter: everything', () => {
    expect(shouldNotify(null, event({ originHealthy: false }))).toBe(true);
  });
  it('origin.disable mutes endpoint changes but not pool changes', () => {
    const f = filter({ disable: true }, {});
    expect(shouldNotify(f, event({ originHealthy: false }))).toBe(false);
    expect(shouldNotify(f, event({ originHealthy: false, poolChanged: true, poolHealthy: false }))).toBe(true);
  });
  it('healthy: true only on becoming healthy, false only on becoming unhealthy', () => {
    expect(shouldNotify(filter({ healthy: true }, { disable: true }), event({ originHealthy: false }))).toBe(false);
    expect(shouldNotify(filter({ healthy: true }, { disable: true }), event({ originHealthy: true }))).toBe(true);
    expect(shouldNotify(filter({ healthy: false }, { disable: true }), event({ originHealthy: false }))).toBe(true);
    expect(shouldNotify(filter({ disable: true }, { healthy: true }), event({ originHealthy: false, poolChanged: true, poolHealthy: false }))).toBe(false);
    expect(shouldNotify(filter({ disable: true }, { healthy: false }), event({ originHealthy: false, poolChanged: true, poolHealthy: false }))).toBe(true);
  });
  it('both muted: nothing', () => {
    expect(shouldNotify(filter({ disable: true }, { disable: true }), event({ originHealthy: false, poolChanged: true }))).toBe(false);
  });
});

describe('WebhookNotifier', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });
  it('POSTs the event as JSON, retries after a 500 with backoff, keeps order', async () => {
    const srv = await listenHttp('127.0.0.41');
    cleanup.push(() => srv.close());
    const bodies: unknown[] = [];
    let calls = 0;
    srv.handler = (req, res) => {
      calls++;
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        if (calls === 1) {
          res.statusCode = 500;
          res.end();
          return;
        }
        bodies.push(JSON.parse(body));
        res.end('ok');
      });
    };
    const n = new WebhookNotifier({ backoffBaseMs: 50 });
    cleanup.push(() => n.close());
    n.setConfig(
      config({
        pools: [pool()],
        webhooks: [{ name: 'ops', url: `http://127.0.0.41:${srv.port}/hook`, headers: { Authorization: 'Bearer t' }, timeout: 1, max_attempts: 3 }],
      }),
    );
    const t0 = Date.now();
    expect(n.notify(event({ originHealthy: false, id: 1 }))).toBe(true);
    expect(n.notify(event({ originHealthy: true, id: 2 }))).toBe(true);
    await waitFor(() => bodies.length === 2, 3000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    expect(bodies.map((b) => (b as HealthEvent).id)).toEqual([1, 2]);
    expect(srv.requests[0]['content-type']).toBe('application/json');
    expect(srv.requests[0].authorization).toBe('Bearer t');
    expect(srv.methods.every((m) => m === 'POST')).toBe(true);
    // The server has the bodies before the client has read the responses: wait for the notifier to count them.
    await waitFor(() => n.stats()[0].delivered === 2, 3000);
    expect(n.stats()).toEqual([{ name: 'ops', queued: 0, delivered: 2, failed: 0, dropped: 0 }]);
  });

  it('gives up after max_attempts, does not retry 4xx, and drops the oldest when the queue is full', async () => {
    const srv = await listenHttp('127.0.0.41');
    cleanup.push(() => srv.close());
    let calls = 0;
    srv.handler = (_req, res) => {
      calls++;
      res.statusCode = 503;
      res.end();
    };
    const n = new WebhookNotifier({ backoffBaseMs: 10, queueLimit: 2 });
    cleanup.push(() => n.close());
    n.setConfig(config({ pools: [pool()], webhooks: [{ name: 'w', url: `http://127.0.0.41:${srv.port}/`, headers: {}, timeout: 1, max_attempts: 3 }] }));
    n.notify(event({ originHealthy: false, id: 1 }));
    n.notify(event({ originHealthy: false, id: 2 }));
    n.notify(event({ originHealthy: false, id: 3 })); // queue full (1 in flight, 2 waiting): 2, the oldest waiting, is dropped
    expect(await n.drain(3000)).toBe(true);
    expect(n.stats()[0]).toMatchObject({ failed: 2, dropped: 1, delivered: 0 });
    expect(calls).toBe(6);

    calls = 0;
    srv.handler = (_req, res) => {
      calls++;
      res.statusCode = 404;
      res.end();
    };
    n.notify(event({ originHealthy: false, id: 4 }));
    expect(await n.drain(2000)).toBe(true);
    expect(calls).toBe(1);
  });

  it('respects the pool filter and never blocks', () => {
    const n = new WebhookNotifier();
    n.setConfig(
      config({
        pools: [pool({ notification_filter: filter({ disable: true }, { disable: true }) })],
        webhooks: [{ name: 'w', url: 'http://127.0.0.41:9/', headers: {}, timeout: 1, max_attempts: 1 }],
      }),
    );
    expect(n.notify(event({ originHealthy: false }))).toBe(false);
    n.close();
  });
});
