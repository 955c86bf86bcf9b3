// Webhook notifications of health events (https://developers.cloudflare.com/load-balancing/reference/health-monitor-notifications/).
//
// Every configured webhook receives a POST with the event as JSON, for events that the pool's
// `notification_filter` lets through:
//   { origin: { disable, healthy }, pool: { disable, healthy } }
//   - `disable: true` mutes that source (endpoint changes / pool changes);
//   - `healthy: true` notifies only on becoming healthy, `false` only on becoming unhealthy, null on both.
//   An event is sent when its endpoint part passes the origin filter, or its pool part (pool.changed) passes the
//   pool filter. No filter: everything is sent.
// Delivery: one queue per webhook (order kept, one request in flight per webhook), bounded (oldest dropped with a
// warning), retries on network errors, 5xx and 429 with exponential backoff, never awaited by the prober.
// One exchange holds one socket and never outlives the webhook's `timeout`, which covers everything from the name
// lookup to the end of the response body; the body is read up to MAX_RESPONSE_BODY_BYTES, then the socket is
// destroyed. The status code decides the outcome as soon as it arrives: a 2xx whose body stalls or floods is
// delivered (retrying would post the event twice), a timeout before any status is a failure to retry.
import http from 'node:http';
import https from 'node:https';
import type { Config, NotificationFilterConfig, WebhookConfig } from '../config/types';
import type { HealthEvent } from './events';
import { silentLogger } from './types';
import type { HealthLogger } from './types';

export interface NotifierOptions {
  logger?: HealthLogger;
  /** First retry delay (default 1000 ms); doubles per attempt up to backoffMaxMs. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Pending deliveries per webhook (default 1000). */
  queueLimit?: number;
}

export interface WebhookStats {
  name: string;
  queued: number;
  delivered: number;
  failed: number;
  dropped: number;
}

/** Whether `filter` lets `event` through (see the header comment). */
export function shouldNotify(filter: NotificationFilterConfig | null | undefined, event: HealthEvent): boolean {
  if (!filter) return true;
  const changedOrigin = event.origins.find((o) => o.changed);
  let originHealthy: boolean | null = null;
  if (changedOrigin) originHealthy = changedOrigin.healthy;
  else {
    // A monitor-group member changed without changing its endpoint: the member's new health is what happened.
    const origin = event.origins.find((o) => o.name === event.cause.origin);
    const member = origin?.monitors?.find((m) => m.changed);
    if (member) originHealthy = member.healthy;
  }
  const originOk = originHealthy !== null && !filter.origin.disable && (filter.origin.healthy === null || filter.origin.healthy === originHealthy);
  const poolOk = event.pool.changed && !filter.pool.disable && (filter.pool.healthy === null || filter.pool.healthy === event.pool.healthy);
  return originOk || poolOk;
}

type Outcome = { ok: boolean; retry: boolean; error: string };

/** Response bytes read before the socket is dropped: only the status code is used. */
export const MAX_RESPONSE_BODY_BYTES = 4096;

interface Delivery {
  body: string;
  eventId: number;
  attempts: number;
}

class WebhookQueue {
  /** Waiting deliveries (not counting the one in flight or waiting for its retry). */
  readonly pending: Delivery[] = [];
  /** The delivery being sent or waiting for its next attempt. */
  inflight: Delivery | null = null;
  sending = false;
  timer: NodeJS.Timeout | null = null;
  delivered = 0;
  failed = 0;
  dropped = 0;
  closed = false;
  private current: http.ClientRequest | null = null;

  constructor(
    public hook: WebhookConfig,
    private readonly opts: Required<Omit<NotifierOptions, 'logger'>>,
    private readonly logger: HealthLogger,
    private readonly onIdle: () => void,
  ) {}

  get idle(): boolean {
    return this.inflight === null && this.pending.length === 0;
  }

  get queued(): number {
    return this.pending.length + (this.inflight ? 1 : 0);
  }

  push(d: Delivery): void {
    if (this.closed) return;
    if (this.queued >= this.opts.queueLimit && this.pending.length > 0) {
      const old = this.pending.shift();
      this.dropped++;
      this.logger.warn('webhook queue full, dropping the oldest notification', { webhook: this.hook.name, event: old?.eventId });
    }
    this.pending.push(d);
    this.kick();
  }

  private kick(): void {
    if (this.closed || this.sending || this.timer) return;
    if (!this.inflight) this.inflight = this.pending.shift() ?? null;
    const d = this.inflight;
    if (!d) {
      this.onIdle();
      return;
    }
    this.sending = true;
    d.attempts++;
    void this.send(d).then((outcome) => {
      this.sending = false;
      this.current = null;
      if (this.closed) return;
      if (outcome.ok) {
        this.inflight = null;
        this.delivered++;
        this.kick();
        return;
      }
      const maxAttempts = Math.max(1, this.hook.max_attempts);
      if (!outcome.retry || d.attempts >= maxAttempts) {
        this.inflight = null;
        this.failed++;
        this.logger.error('webhook delivery failed', { webhook: this.hook.name, event: d.eventId, attempts: d.attempts, error: outcome.error });
        this.kick();
        return;
      }
      const delay = Math.min(this.opts.backoffMaxMs, this.opts.backoffBaseMs * 2 ** (d.attempts - 1));
      this.logger.warn('webhook delivery failed, will retry', { webhook: this.hook.name, event: d.eventId, attempts: d.attempts, retry_in_ms: delay, error: outcome.error });
      this.timer = setTimeout(() => {
        this.timer = null;
        this.kick();
      }, delay);
      this.timer.unref();
    });
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.current?.destroy();
    this.pending.length = 0;
    this.inflight = null;
  }

  private send(d: Delivery): Promise<Outcome> {
    return new Promise((resolve) => {
      let url: URL;
      try {
        url = new URL(this.hook.url);
      } catch {
        resolve({ ok: false, retry: false, error: `invalid URL ${this.hook.url}` });
        return;
      }
      const mod = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
      if (!mod) {
        resolve({ ok: false, retry: false, error: `unsupported scheme ${url.protocol}` });
        return;
      }
      // What the status line said, once it came: a receiver that then stalls or floods its body does not undo it.
      let answered: Outcome | null = null;
      let req: http.ClientRequest | null = null;
      let settled = false;
      // Every path ends here, and here the socket goes, whatever state the exchange is in (agent: false, so the
      // socket belongs to this request alone; after a complete response destroying it is a no-op).
      const settle = (r: Outcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req?.destroy();
        resolve(r);
      };
      // One deadline for the whole exchange: name lookup, connect, TLS, request, response headers and body.
      const timer = setTimeout(() => {
        settle(answered ?? { ok: false, retry: true, error: `no answer within ${this.hook.timeout} s` });
      }, Math.max(1, this.hook.timeout * 1000));
      const body = Buffer.from(d.body, 'utf8');
      req = mod.request(url, {
        method: 'POST',
        agent: false,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': String(body.length),
          'User-Agent': 'steerdns/1.0 (health notifications)',
          ...this.hook.headers,
        },
      });
      this.current = req;
      req.on('error', (err) => settle(answered ?? { ok: false, retry: true, error: err.message }));
      req.on('close', () => settle(answered ?? { ok: false, retry: true, error: 'connection closed before a response' }));
      req.on('response', (res) => {
        const code = res.statusCode ?? 0;
        answered =
          code >= 200 && code < 300
            ? { ok: true, retry: false, error: '' }
            : { ok: false, retry: code >= 500 || code === 429 || code === 408, error: `HTTP ${code}` };
        const outcome = answered;
        // The body is not used; it is read (and dropped) only so that a well-behaved exchange ends cleanly.
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > MAX_RESPONSE_BODY_BYTES) settle(outcome);
        });
        res.on('end', () => settle(outcome));
        res.on('error', () => settle(outcome));
        res.on('close', () => settle(outcome));
      });
      req.end(body);
    });
  }
}

export class WebhookNotifier {
  private queues = new Map<string, WebhookQueue>();
  private filters = new Map<string, NotificationFilterConfig | null>();
  private readonly logger: HealthLogger;
  private readonly opts: Required<Omit<NotifierOptions, 'logger'>>;
  private idleWaiters: Array<() => void> = [];

  constructor(opts: NotifierOptions = {}) {
    this.logger = opts.logger ?? silentLogger;
    this.opts = {
      backoffBaseMs: opts.backoffBaseMs ?? 1000,
      backoffMaxMs: opts.backoffMaxMs ?? 60_000,
      queueLimit: opts.queueLimit ?? 1000,
    };
  }

  /** Webhooks and pool filters from a (re)loaded config; pending deliveries of unchanged webhooks are kept. */
  setConfig(config: Config): void {
    const next = new Map<string, WebhookQueue>();
    for (const hook of config.notifications.webhooks) {
      const id = `${hook.name}\u0000${hook.url}`;
      const q = this.queues.get(id);
      if (q) {
        q.hook = hook;
        next.set(id, q);
      } else next.set(id, new WebhookQueue(hook, this.opts, this.logger, () => this.checkIdle()));
    }
    for (const [id, q] of this.queues) if (!next.has(id)) q.close();
    this.queues = next;
    // Only the pools that have a filter (a missing one lets everything through): this runs on the event loop.
    const filters = new Map<string, NotificationFilterConfig>();
    for (const p of config.pools.values()) if (p.notification_filter) filters.set(p.name, p.notification_filter);
    this.filters = filters;
  }

  /** Queues `event` for every webhook if the pool's filter lets it through. Never blocks, never throws. */
  notify(event: HealthEvent): boolean {
    if (this.queues.size === 0) return false;
    if (!shouldNotify(this.filters.get(event.pool.name), event)) return false;
    const body = JSON.stringify(event);
    for (const q of this.queues.values()) q.push({ body, eventId: event.id, attempts: 0 });
    return true;
  }

  stats(): WebhookStats[] {
    return [...this.queues.values()].map((q) => ({
      name: q.hook.name,
      queued: q.queued,
      delivered: q.delivered,
      failed: q.failed,
      dropped: q.dropped,
    }));
  }

  /** Resolves when every queue is empty, or after `timeoutMs` (for shutdown). */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.isIdle()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(done);
    });
  }

  close(): void {
    for (const q of this.queues.values()) q.close();
    this.queues.clear();
    this.checkIdle();
  }

  private isIdle(): boolean {
    for (const q of this.queues.values()) if (!q.idle) return false;
    return true;
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
