// The operations HTTP listener (default 127.0.0.1:9153): /metrics, /healthz, /readyz and read-only JSON status
// shaped like the Cloudflare API ({success, errors, messages, result}). An optional bearer token guards
// /metrics and /api/*; the health probes stay open for orchestrators.
import * as http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { ListenAddress } from '../config/types';
import type { HealthEvent, EventQuery } from '../health/events';
import type { Logger } from './log';
import { loadBalancerView, monitorView, poolView, type StatusDeps } from './status';

export interface HttpDeps {
  registry: () => Promise<Registry>;
  status: () => StatusDeps;
  events: (q: EventQuery) => HealthEvent[];
  ready: () => { ready: boolean; reason: string };
  summary: () => Record<string, unknown>;
  token: () => string | null;
  log: Logger;
}

function send(res: http.ServerResponse, code: number, body: unknown, type = 'application/json'): void {
  const text = typeof body === 'string' ? body : `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function ok(res: http.ServerResponse, result: unknown, info?: Record<string, unknown>): void {
  send(res, 200, { success: true, errors: [], messages: [], result, ...(info ? { result_info: info } : {}) });
}

function fail(res: http.ServerResponse, code: number, message: string): void {
  send(res, code, { success: false, errors: [{ code, message }], messages: [], result: null });
}

function authorized(req: http.IncomingMessage, token: string | null): boolean {
  if (token === null) return true;
  const header = req.headers.authorization ?? '';
  const m = /^Bearer\s+(.+)$/i.exec(header);
  if (!m) return false;
  const a = Buffer.from(m[1].trim());
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class StatusHttpServer {
  private server: http.Server | null = null;

  constructor(private readonly deps: HttpDeps) {}

  async start(address: ListenAddress): Promise<number> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.deps.log.error('status API error', { err, url: req.url });
        if (!res.headersSent) fail(res, 500, 'internal error');
        else res.destroy();
      });
    });
    server.keepAliveTimeout = 5000;
    server.headersTimeout = 10000;
    server.requestTimeout = 10000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: address.host, port: address.port, ipv6Only: address.family === 6 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.deps.log.error('status API server error', { err }));
    const a = server.address();
    return a && typeof a === 'object' ? a.port : address.port;
  }

  close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return Promise.resolve();
    s.closeAllConnections();
    return new Promise((resolve) => s.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return fail(res, 405, 'read-only API: only GET is allowed');
    }
    if (path === '/healthz') return send(res, 200, 'ok\n', 'text/plain');
    if (path === '/readyz') {
      const r = this.deps.ready();
      return send(res, r.ready ? 200 : 503, `${r.ready ? 'ready' : `not ready: ${r.reason}`}\n`, 'text/plain');
    }
    if (!authorized(req, this.deps.token())) {
      res.setHeader('www-authenticate', 'Bearer');
      return fail(res, 401, 'missing or wrong bearer token');
    }
    if (path === '/metrics') {
      const registry = await this.deps.registry();
      return send(res, 200, await registry.metrics(), registry.contentType);
    }
    const parts = path.split('/').filter((p) => p !== '').map(decodeURIComponent);
    if (parts[0] !== 'api') return fail(res, 404, `no such endpoint: ${path}`);
    const deps = this.deps.status();
    const config = deps.runtime.config;
    switch (parts[1]) {
      case undefined:
      case 'status':
        return ok(res, this.deps.summary());
      case 'load_balancers': {
        if (parts.length === 2) return ok(res, config.load_balancers.map((lb) => loadBalancerView(deps, lb)), { count: config.load_balancers.length });
        const lb = config.load_balancers.find((l) => l.name === parts[2].toLowerCase().replace(/\.$/, ''));
        return lb ? ok(res, loadBalancerView(deps, lb)) : fail(res, 404, `no load balancer "${parts[2]}"`);
      }
      case 'pools': {
        if (parts.length === 2) return ok(res, [...config.pools.values()].map((p) => poolView(deps, p)), { count: config.pools.size });
        const pool = config.pools.get(parts[2]);
        if (!pool) return fail(res, 404, `no pool "${parts[2]}"`);
        const view = poolView(deps, pool);
        if (parts[3] === 'health') return ok(res, { pool_id: pool.name, healthy: view.healthy, state: view.state, origins: view.origins });
        return ok(res, view);
      }
      case 'monitors': {
        const names = [...config.monitors.keys()];
        if (parts.length === 2) return ok(res, names.map((n) => monitorView(deps, n)), { count: names.length });
        const m = monitorView(deps, parts[2]);
        return m ? ok(res, m) : fail(res, 404, `no monitor "${parts[2]}"`);
      }
      case 'events': {
        const limit = url.searchParams.get('limit');
        const since = url.searchParams.get('since_id');
        const q: EventQuery = {
          pool: url.searchParams.get('pool') ?? undefined,
          origin: url.searchParams.get('origin') ?? undefined,
          sinceId: since !== null && /^\d+$/.test(since) ? Number(since) : undefined,
          limit: limit !== null && /^\d+$/.test(limit) ? Math.min(Number(limit), 10000) : undefined,
        };
        const events = this.deps.events(q);
        return ok(res, events, { count: events.length });
      }
      default:
        return fail(res, 404, `no such endpoint: ${path}`);
    }
  }
}
