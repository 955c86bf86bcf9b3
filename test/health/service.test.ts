// The assembled module: config → targets → probes → store → events → webhook, state file across a restart.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HealthEvent } from '../../src/health/events';
import { evaluatePool } from '../../src/health/pool-state';
import { HealthService } from '../../src/health/service';
import { loadStateFile } from '../../src/health/state-file';
import { config, listenHttp, monitor, origin, pool, waitFor } from './helpers';

const HOST = '127.0.0.51';

describe('HealthService', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steerdns-svc-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('probes, reports events to a webhook, persists state and restores it after a restart', async () => {
    const app = await listenHttp(HOST);
    const hook = await listenHttp(HOST);
    const received: HealthEvent[] = [];
    hook.handler = (req, res) => {
      let b = '';
      req.on('data', (d) => (b += d));
      req.on('end', () => {
        received.push(JSON.parse(b));
        res.end();
      });
    };
    let up = true;
    app.handler = (_q, res) => {
      res.statusCode = up ? 200 : 500;
      res.end();
    };
    const stateFile = path.join(dir, 'health.json');
    const m = monitor({ port: app.port, interval: 0.05, timeout: 0.5 });
    const p = pool({ origins: [origin({ name: 'a1', address: HOST })] });
    const cfg = config({
      monitors: [m],
      pools: [p],
      stateFile,
      webhooks: [{ name: 'w', url: `http://${HOST}:${hook.port}/`, headers: {}, timeout: 1, max_attempts: 2 }],
    });
    const opts = { scheduler: { minIntervalMs: 10, startSpreadMs: 0 }, stateFileDebounceMs: 20 };
    const svc = new HealthService(opts);
    await svc.start(cfg);
    await svc.scheduler.firstRoundDone;
    expect(evaluatePool(p, cfg, svc.store)).toMatchObject({ state: 'healthy', usable: true });
    up = false;
    await waitFor(() => received.length === 1, 3000);
    expect(received[0].origins[0]).toMatchObject({ name: 'a1', healthy: false, failure_reason: 'Response code mismatch error', response_code: 500 });
    expect(evaluatePool(p, cfg, svc.store).usable).toBe(false);
    await svc.stop();
    expect(loadStateFile(stateFile)?.targets[0]).toMatchObject({ status: 'unhealthy' });

    // Restart: the endpoint is known down before any probe runs (no flap to "unknown").
    up = true;
    const svc2 = new HealthService(opts);
    app.handler = () => undefined; // hold the first probe so that we can look before it completes
    await svc2.start(cfg);
    expect(evaluatePool(p, cfg, svc2.store).endpoints[0]).toMatchObject({ status: 'unhealthy' });
    await svc2.stop();
    await app.close();
    await hook.close();
  });
});
