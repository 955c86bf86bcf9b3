import type { NotificationFilterConfig } from '../../src/config/types';
import type { HealthEvent } from '../../src/health/events';
import net from 'node:net';
import { MAX_RESPONSE_BODY_BYTES, WebhookNotifier, shouldNotify } from '../../src/health/notify';
import { config, listenHttp, listenNet, pool, waitFor } from './helpers';

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

// Issue 11, defect 7: a receiver that sends `200` headers and never finishes a chunked body used to keep one socket
// open per event. Real HTTP receivers on 127.0.15.x that misbehave at the byte level, counting their open sockets.
describe('WebhookNotifier: misbehaving receivers cannot hold sockets', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  /** A raw receiver: reads the request head, then runs `answer` on the socket; counts open and peak sockets. */
  async function receiver(host: string, answer: (c: net.Socket) => void): Promise<{ port: number; open: () => number; peak: () => number; requests: () => number }> {
    let open = 0;
    let peak = 0;
    let requests = 0;
    const srv = await listenNet(host, (c) => {
      open++;
      peak = Math.max(peak, open);
      c.on('close', () => open--);
      let head = '';
      const onData = (d: Buffer): void => {
        head += d.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        c.off('data', onData);
        c.resume(); // the request body (small) is ignored
        requests++;
        answer(c);
      };
      c.on('data', onData);
    });
    cleanup.push(() => srv.close());
    return { port: srv.port, open: () => open, peak: () => peak, requests: () => requests };
  }

  function notifier(port: number, host: string, timeout: number, maxAttempts = 1): WebhookNotifier {
    const n = new WebhookNotifier({ backoffBaseMs: 10 });
    cleanup.push(() => n.close());
    n.setConfig(config({ pools: [pool()], webhooks: [{ name: 'w', url: `http://${host}:${port}/hook`, headers: {}, timeout, max_attempts: maxAttempts }] }));
    return n;
  }

  it('200 headers and a chunked body that never ends: the timeout ends each exchange and its socket', async () => {
    const timers: NodeJS.Timeout[] = [];
    cleanup.push(() => timers.forEach(clearInterval));
    const r = await receiver('127.0.15.1', (c) => {
      c.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n');
      const t = setInterval(() => c.writable && c.write('1\r\nb\r\n'), 50); // a trickle, never the last chunk
      timers.push(t);
      c.on('close', () => clearInterval(t));
    });
    const n = notifier(r.port, '127.0.15.1', 0.3);
    for (let id = 1; id <= 8; id++) n.notify(event({ originHealthy: id % 2 === 0, id }));
    await waitFor(() => r.requests() === 8 && n.stats()[0].queued === 0, 15000);
    // The status line said 200: delivered (not posted again), but no exchange outlived its timeout.
    expect(n.stats()[0]).toMatchObject({ delivered: 8, failed: 0, queued: 0 });
    await waitFor(() => r.open() === 0, 3000);
    // One exchange at a time, each released before the next (the receiver may see the next connection a moment
    // before the close of the previous one: hence 2, against 8 when sockets were kept).
    expect(r.peak()).toBeLessThanOrEqual(2);
  }, 30000);

  it('a response body larger than the bound: the socket is dropped after the bound, long before the timeout', async () => {
    let written = 0;
    const r = await receiver('127.0.15.2', (c) => {
      c.write('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000000\r\n\r\n');
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      const pump = (): void => {
        while (c.writable && c.write(chunk)) written += chunk.length;
        if (c.writable) c.once('drain', pump);
      };
      pump();
    });
    const n = notifier(r.port, '127.0.15.2', 60); // a timeout far beyond the test: only the bound can end it
    n.notify(event({ originHealthy: false, id: 1 }));
    await waitFor(() => n.stats()[0].delivered === 1, 10000);
    await waitFor(() => r.open() === 0, 5000);
    expect(MAX_RESPONSE_BODY_BYTES).toBeLessThanOrEqual(64 * 1024);
    expect(written).toBeLessThan(64 * 1024 * 1024); // socket buffers, not the whole gigabyte
  }, 30000);

  it('no status line at all, or a 500 that stalls: failures retried, every socket released', async () => {
    const silent = await receiver('127.0.15.3', () => undefined); // reads the request, never answers
    const n1 = notifier(silent.port, '127.0.15.3', 0.2, 2);
    for (let id = 1; id <= 3; id++) n1.notify(event({ originHealthy: false, id }));
    expect(await n1.drain(10000)).toBe(true);
    expect(n1.stats()[0]).toMatchObject({ delivered: 0, failed: 3 });
    expect(silent.requests()).toBe(6);
    await waitFor(() => silent.open() === 0, 3000);
    expect(silent.peak()).toBeLessThanOrEqual(2);

    const stalled = await receiver('127.0.15.4', (c) => c.write('HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\npartial'));
    const n2 = notifier(stalled.port, '127.0.15.4', 0.2, 3);
    n2.notify(event({ originHealthy: false, id: 1 }));
    expect(await n2.drain(10000)).toBe(true);
    expect(n2.stats()[0]).toMatchObject({ delivered: 0, failed: 1 });
    expect(stalled.requests()).toBe(3);
    await waitFor(() => stalled.open() === 0, 3000);
    expect(stalled.peak()).toBeLessThanOrEqual(2);
  }, 30000);
});
