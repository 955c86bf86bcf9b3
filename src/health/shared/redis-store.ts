// SharedHealthStore on Redis (ioredis): one stream per service, `<key_prefix>results`. Each publish appends one
// entry (the vantage point, its region and a batch of results) and trims entries older than the results' window
// (XADD … MINID ~, Redis ≥ 6.2); each read takes the entries after the last one seen (XRANGE with an exclusive
// start) together with the server's clock (TIME) in one round trip. So a round costs two pipelined round trips
// per instance, whatever the number of targets, and the stream holds one window of results at most.
//
// Redis being slow or gone must never reach the DNS path: the offline queue is off (a command while disconnected
// fails at once instead of piling up), every command has a timeout, reconnection runs in the background with a
// capped backoff, and the client's errors are logged here, never thrown.
import { readFileSync } from 'node:fs';
import Redis, { type RedisOptions } from 'ioredis';
import type { SharedHealthConfig } from '../../config/types';
import type { HealthLogger } from '../types';
import type { ReadResult, SharedHealthStore, StoredBatch, VantagePoint } from './types';

/** Stream entry ids are "<ms>-<seq>" on the Redis server's clock. */
function idTime(id: string): number {
  const dash = id.indexOf('-');
  const ms = Number(dash < 0 ? id : id.slice(0, dash));
  return Number.isFinite(ms) ? ms : 0;
}

/** Connection options from the store URL and the tls block (credentials percent-decoded, never logged). */
export function redisOptions(config: SharedHealthConfig): { options: RedisOptions; description: string } {
  const u = new URL(config.url);
  const tls = u.protocol === 'rediss:';
  const port = u.port === '' ? 6379 : Number(u.port);
  const db = u.pathname.replace(/^\//, '');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const timeoutMs = Math.round(config.timeout * 1000);
  const options: RedisOptions = {
    host,
    port,
    db: db === '' ? 0 : Number(db),
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    enableReadyCheck: true,
    // Keep trying in the background: 100 ms, 200 ms, … capped at 5 s.
    retryStrategy: (times: number) => Math.min(100 * times, 5000),
    // Never resend a command after a reconnect: a round that failed is simply done again later.
    autoResendUnfulfilledCommands: false,
    showFriendlyErrorStack: false,
  };
  if (u.username !== '') options.username = decodeURIComponent(u.username);
  if (u.password !== '') options.password = decodeURIComponent(u.password);
  if (tls) {
    const t = config.tls;
    options.tls = {
      ...(t?.ca ? { ca: readFileSync(t.ca) } : {}),
      ...(t?.cert ? { cert: readFileSync(t.cert) } : {}),
      ...(t?.key ? { key: readFileSync(t.key) } : {}),
      servername: t?.servername ?? (host.includes(':') || /^[\d.]+$/.test(host) ? undefined : host),
      rejectUnauthorized: !(t?.insecure ?? false),
    };
  }
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { options, description: `${u.protocol}//${shownHost}:${port}/${options.db ?? 0}` };
}

/** Rejects after `ms` (the client's own timeouts do not cover every path, e.g. a pipeline on a dying socket). */
function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export class RedisHealthStore implements SharedHealthStore {
  readonly description: string;
  private readonly client: Redis;
  private readonly stream: string;
  private readonly timeoutMs: number;
  /** Redis clock − our clock, from the last TIME (used to trim by the server's clock). */
  private offsetMs = 0;
  private lastError = '';
  private lastErrorLoggedAt = 0;
  private closed = false;
  /** The first connection attempt: the first round waits for it (bounded) instead of failing at once. */
  private firstConnect: Promise<void> | null;

  constructor(config: SharedHealthConfig, private readonly log: HealthLogger) {
    const { options, description } = redisOptions(config);
    this.description = description;
    this.stream = `${config.key_prefix}results`;
    this.timeoutMs = Math.round(config.timeout * 1000);
    this.client = new Redis(options);
    this.client.on('error', (err: Error) => this.noteError(err));
    this.client.on('ready', () => this.log.info('shared health store connected', { store: this.description }));
    // The first connection: failure here is not fatal, the client keeps retrying.
    this.firstConnect = this.client.connect().then(
      () => {
        this.firstConnect = null;
      },
      (err: unknown) => {
        this.firstConnect = null;
        this.noteError(err);
      },
    );
  }

  private async connecting(): Promise<void> {
    if (this.firstConnect) await bounded(this.firstConnect, this.timeoutMs, 'connect').catch(() => undefined);
  }

  async publish(vp: VantagePoint, payload: string, windowMs: number): Promise<string> {
    await this.connecting();
    const minId = Math.max(0, Math.floor(Date.now() + this.offsetMs - windowMs));
    const replies = await bounded(
      this.client
        .pipeline()
        .xadd(this.stream, 'MINID', '~', String(minId), '*', 'vp', vp.pop, 'region', vp.region, 'data', payload)
        .pexpire(this.stream, Math.ceil(windowMs * 2))
        .exec(),
      this.timeoutMs,
      'publish',
    );
    if (!replies || replies.length !== 2) throw new Error('publish: unexpected pipeline reply');
    for (const [err] of replies) if (err) throw err;
    const id = replies[0][1];
    if (typeof id !== 'string') throw new Error('publish: XADD gave no id');
    return id;
  }

  async read(cursor: string | null, _windowMs: number, limit: number): Promise<ReadResult> {
    await this.connecting();
    const start = cursor === null ? '-' : `(${cursor}`;
    const replies = await bounded(this.client.pipeline().time().xrange(this.stream, start, '+', 'COUNT', limit).exec(), this.timeoutMs, 'read');
    if (!replies || replies.length !== 2) throw new Error('read: unexpected pipeline reply');
    const [[timeErr, time], [rangeErr, range]] = replies;
    if (timeErr) throw timeErr;
    if (rangeErr) throw rangeErr;
    const storeNow = parseTime(time);
    this.offsetMs = storeNow - Date.now();
    const batches: StoredBatch[] = [];
    let next = cursor;
    if (Array.isArray(range)) {
      for (const entry of range as unknown[]) {
        if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Array.isArray(entry[1])) continue;
        const id = entry[0];
        next = id;
        const fields = entry[1] as unknown[];
        let pop = '';
        let region = '';
        let payload = '';
        for (let i = 0; i + 1 < fields.length; i += 2) {
          const v = fields[i + 1];
          if (typeof v !== 'string') continue;
          if (fields[i] === 'vp') pop = v;
          else if (fields[i] === 'region') region = v;
          else if (fields[i] === 'data') payload = v;
        }
        if (pop !== '' && region !== '' && pop.length <= 64 && region.length <= 8) batches.push({ id, storedAt: idTime(id), pop, region, payload });
      }
    }
    return { batches, cursor: next ?? '0-0', storeNow, more: Array.isArray(range) && range.length >= limit };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await bounded(this.client.quit(), Math.min(this.timeoutMs, 1000), 'quit');
    } catch {
      this.client.disconnect();
    }
  }

  /** Client errors repeat on every reconnect attempt: logged when they change, or once a minute. */
  private noteError(err: unknown): void {
    if (this.closed) return;
    const message = err instanceof Error ? err.message : String(err);
    const now = Date.now();
    if (message === this.lastError && now - this.lastErrorLoggedAt < 60_000) return;
    this.lastError = message;
    this.lastErrorLoggedAt = now;
    this.log.warn('shared health store error', { store: this.description, error: message });
  }
}

function parseTime(reply: unknown): number {
  if (Array.isArray(reply) && reply.length === 2) {
    const s = Number(reply[0]);
    const us = Number(reply[1]);
    if (Number.isFinite(s) && Number.isFinite(us)) return s * 1000 + Math.floor(us / 1000);
  }
  throw new Error('read: TIME gave no time');
}
