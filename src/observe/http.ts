// The operations HTTP listener (default 127.0.0.1:9153): /metrics, /healthz, /readyz and read-only JSON status
// shaped like the Cloudflare API ({success, errors, messages, result}). An optional bearer token guards
// /metrics and /api/*; the health probes stay open for orchestrators.
//
// The listener is open by default (no token) and may face hostile clients, so: configuration is shown with its
// secrets redacted (redact.ts); a malformed request gets a 4xx in the API's error shape, never a 500; request bodies
// are never used: GET/HEAD with a body are refused and the connection closed, other methods are read at most
// MAX_BODY_BYTES (then 413 and close) before their 405; header and request timeouts cut slow clients off; the token
// is compared through fixed-length digests, so the time taken tells nothing about its length or contents.
import * as http from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { ListenAddress } from '../config/types';
import type { HealthEvent, EventQuery } from '../health/events';
import { AnalyticsQueryError, type AnalyticsResult } from './analytics';
import type { Logger } from './log';
import type { Overview } from './overview';
import { assetBody, cookieToken, isLoopbackPeer, LOGIN_PAGE, PAGE_HEADERS, pageAsset } from './page';
import { redactReplacer } from './redact';
import { popHealth } from './pop-health';
import { loadBalancerView, monitorView, poolView, type StatusDeps } from './status';

export interface HttpDeps {
  registry: () => Promise<Registry>;
  status: () => StatusDeps;
  events: (q: EventQuery) => HealthEvent[];
  /** `detail`: a line added to /readyz (shared health: where health comes from). */
  ready: () => { ready: boolean; reason: string; detail?: string };
  summary: () => Record<string, unknown>;
  token: () => string | null;
  log: Logger;
  /** GET /api/analytics (observe/analytics.ts): gathers the data planes' counters, then answers the query. */
  analytics?: (query: URLSearchParams) => Promise<AnalyticsResult>;
  /** GET /api/overview (observe/overview.ts). */
  overview?: () => Overview;
  /** GET /api/stream (server-sent events for the status page): subscribes `send`, returns the unsubscribe. */
  stream?: (send: (event: string, data: unknown) => void) => () => void;
}

/** Event streams open at once (each status page holds one). */
export const MAX_STREAMS = 32;
/** A stream whose client reads nothing is closed once this much is waiting for it. */
const MAX_STREAM_BACKLOG = 1024 * 1024;
const STREAM_PING_MS = 15_000;

/** Bytes of request body read (and dropped) before a 405; past it, 413 and the connection is closed. */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Server limits. Every answer here is computed in memory, so an honest client (Prometheus, curl, a load balancer's
 * health check) sends its request at once; these only cut off clients that trickle headers or bodies. Node checks
 * the header/request timeouts every `connectionsCheckingInterval` (30 s by default, too coarse to matter).
 */
export const HTTP_LIMITS = {
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  checkIntervalMs: 1_000,
  keepAliveTimeoutMs: 5_000,
  /** A connection with no traffic at all for this long is closed. */
  idleTimeoutMs: 30_000,
  maxConnections: 256,
} as const;

class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(res: http.ServerResponse, code: number, body: unknown, type = 'application/json', close = false): void {
  const text = typeof body === 'string' ? body : `${JSON.stringify(body, redactReplacer, 2)}\n`;
  const headers: http.OutgoingHttpHeaders = { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) };
  // Node closes the connection after a response that says so, without reading the rest of the request body.
  if (close) headers.connection = 'close';
  res.writeHead(code, headers);
  res.end(text);
}

function ok(res: http.ServerResponse, result: unknown, info?: Record<string, unknown>): void {
  send(res, 200, { success: true, errors: [], messages: [], result, ...(info ? { result_info: info } : {}) });
}

function fail(res: http.ServerResponse, code: number, message: string, close = false): void {
  send(res, code, { success: false, errors: [{ code, message }], messages: [], result: null }, 'application/json', close);
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function authorized(req: http.IncomingMessage, token: string | null): boolean {
  if (token === null) return true;
  const header = req.headers.authorization ?? '';
  const m = /^Bearer\s+(.+)$/i.exec(header);
  // The status page's browser sends the token as a cookie (page.ts).
  const sent = m ? m[1].trim() : cookieToken(req);
  if (sent === null) return false;
  // Equal-length digests: timingSafeEqual runs whatever was sent, and its time depends on neither token.
  return timingSafeEqual(digest(sent), digest(token));
}

/** Whether the request announces a body (RFC 9112 §6.3: Transfer-Encoding, or a non-zero Content-Length). */
function hasBody(req: http.IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const len = req.headers['content-length'];
  return len !== undefined && len !== '0';
}

/** Reads and drops the body; true when it ended within `limit` bytes, false when it went past (or broke off). */
function drainBody(req: http.IncomingMessage, limit: number): Promise<boolean> {
  return new Promise((resolve) => {
    let bytes = 0;
    let done = false;
    const finish = (within: boolean): void => {
      if (done) return;
      done = true;
      req.off('data', onData);
      if (!within) req.pause();
      resolve(within);
    };
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes > limit) finish(false);
    };
    req.on('data', onData);
    req.once('end', () => finish(true));
    req.once('error', () => finish(false));
    req.once('close', () => finish(false));
  });
}

/** The path (percent-decoded, one entry per segment) and the query of a request target. */
function parseTarget(raw: string): { path: string; segments: string[]; query: URLSearchParams } {
  const q = raw.indexOf('?');
  let p = q < 0 ? raw : raw.slice(0, q);
  if (!p.startsWith('/')) {
    // absolute-form (RFC 9112 §3.2.2), which a server must accept: keep its path
    try {
      p = new URL(p).pathname;
    } catch {
      throw new RequestError(400, 'malformed request target');
    }
  }
  const path = p.replace(/\/+$/, '') || '/';
  const segments = path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw new RequestError(400, `malformed percent-encoding in the path: ${JSON.stringify(s)}`);
      }
    });
  // URLSearchParams never throws: a malformed escape in the query is kept as written.
  return { path, segments, query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

export class StatusHttpServer {
  private server: http.Server | null = null;
  private readonly streams = new Set<http.ServerResponse>();

  constructor(private readonly deps: HttpDeps) {}

  async start(address: ListenAddress): Promise<number> {
    const server = http.createServer(
      {
        headersTimeout: HTTP_LIMITS.headersTimeoutMs,
        requestTimeout: HTTP_LIMITS.requestTimeoutMs,
        connectionsCheckingInterval: HTTP_LIMITS.checkIntervalMs,
        keepAliveTimeout: HTTP_LIMITS.keepAliveTimeoutMs,
      },
      (req, res) => {
        this.handle(req, res).catch((err: unknown) => {
          if (err instanceof RequestError) {
            if (!res.headersSent) fail(res, err.status, err.message);
            return;
          }
          this.deps.log.error('status API error', { err, url: req.url });
          if (!res.headersSent) fail(res, 500, 'internal error');
          else res.destroy();
        });
      },
    );
    server.timeout = HTTP_LIMITS.idleTimeoutMs;
    server.maxConnections = HTTP_LIMITS.maxConnections;
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
    const readOnly = req.method === 'GET' || req.method === 'HEAD';
    if (readOnly && hasBody(req)) return fail(res, 400, `a ${req.method} request must not have a body`, true);
    if (!readOnly) {
      res.setHeader('allow', 'GET, HEAD');
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > MAX_BODY_BYTES || !(await drainBody(req, MAX_BODY_BYTES))) {
        return fail(res, 413, `request body over ${MAX_BODY_BYTES} bytes`, true);
      }
      return fail(res, 405, 'read-only API: only GET is allowed');
    }
    const { path, segments: parts, query } = parseTarget(req.url ?? '/');
    if (path === '/healthz') return send(res, 200, 'ok\n', 'text/plain');
    if (path === '/readyz') {
      const r = this.deps.ready();
      return send(res, r.ready ? 200 : 503, `${r.ready ? 'ready' : `not ready: ${r.reason}`}\n${r.detail ? `${r.detail}\n` : ''}`, 'text/plain');
    }
    const asset = pageAsset(path);
    if (asset) return this.servePage(req, res, path, asset);
    if (!authorized(req, this.deps.token())) {
      res.setHeader('www-authenticate', 'Bearer');
      return fail(res, 401, 'missing or wrong bearer token');
    }
    if (path === '/metrics') {
      const registry = await this.deps.registry();
      return send(res, 200, await registry.metrics(), registry.contentType);
    }
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
        if (parts[3] === 'health') {
          return ok(res, { pool_id: pool.name, healthy: view.healthy, state: view.state, origins: view.origins, pop_health: popHealth(deps, pool, deps.votes ?? null) });
        }
        return ok(res, view);
      }
      case 'monitors': {
        const names = [...config.monitors.keys()];
        if (parts.length === 2) return ok(res, names.map((n) => monitorView(deps, n)), { count: names.length });
        const m = monitorView(deps, parts[2]);
        return m ? ok(res, m) : fail(res, 404, `no monitor "${parts[2]}"`);
      }
      case 'events': {
        const limit = query.get('limit');
        const since = query.get('since_id');
        const q: EventQuery = {
          pool: query.get('pool') ?? undefined,
          origin: query.get('origin') ?? undefined,
          sinceId: since !== null && /^\d+$/.test(since) ? Number(since) : undefined,
          limit: limit !== null && /^\d+$/.test(limit) ? Math.min(Number(limit), 10000) : undefined,
        };
        const events = this.deps.events(q);
        return ok(res, events, { count: events.length });
      }
      case 'analytics': {
        if (!this.deps.analytics || parts.length !== 2) return fail(res, 404, `no such endpoint: ${path}`);
        try {
          return ok(res, await this.deps.analytics(query));
        } catch (err) {
          if (err instanceof AnalyticsQueryError) return fail(res, 400, err.message);
          throw err;
        }
      }
      case 'overview':
        if (!this.deps.overview || parts.length !== 2) return fail(res, 404, `no such endpoint: ${path}`);
        return ok(res, this.deps.overview());
      case 'stream':
        if (!this.deps.stream || parts.length !== 2) return fail(res, 404, `no such endpoint: ${path}`);
        return this.openStream(req, res, this.deps.stream);
      default:
        return fail(res, 404, `no such endpoint: ${path}`);
    }
  }

  /** The status page and its files (page.ts): the token as for the API; without one, loopback clients only. */
  private servePage(req: http.IncomingMessage, res: http.ServerResponse, path: string, asset: NonNullable<ReturnType<typeof pageAsset>>): void {
    const token = this.deps.token();
    if (token === null && !isLoopbackPeer(req)) {
      return fail(res, 403, 'without server.http_token the status page answers loopback clients only');
    }
    if (token !== null && !asset.public && !authorized(req, token)) {
      if (path !== '/') return fail(res, 401, 'missing or wrong bearer token');
      res.writeHead(401, { ...PAGE_HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'www-authenticate': 'Bearer', 'content-length': Buffer.byteLength(LOGIN_PAGE) });
      res.end(LOGIN_PAGE);
      return;
    }
    const body = assetBody(asset);
    res.writeHead(200, { ...PAGE_HEADERS, 'content-type': asset.type, 'cache-control': 'no-store', 'content-length': body.length });
    res.end(body);
  }

  /** Server-sent events (HTML Living Standard §9.2): one `event:`/`data:` block per message, a comment as ping. */
  private openStream(req: http.IncomingMessage, res: http.ServerResponse, subscribe: NonNullable<HttpDeps['stream']>): void {
    if (this.streams.size >= MAX_STREAMS) return fail(res, 503, `more than ${MAX_STREAMS} event streams open`);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    this.streams.add(res);
    const write = (text: string): void => {
      if (res.writableLength > MAX_STREAM_BACKLOG) {
        res.destroy();
        return;
      }
      res.write(text);
    };
    write('retry: 3000\n\n');
    const unsubscribe = subscribe((event, data) => write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
    const ping = setInterval(() => write(': ping\n\n'), STREAM_PING_MS);
    res.on('close', () => {
      clearInterval(ping);
      unsubscribe();
      this.streams.delete(res);
    });
  }
}
