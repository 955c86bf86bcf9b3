// The Redis engine against a real redis-server: batches go in and come back in order with the server's clock, old
// ones are trimmed, and a dead server makes calls fail fast instead of queueing them.
import type { SharedHealthConfig } from '../../../src/config/types';
import { RedisHealthStore, redisOptions } from '../../../src/health/shared/redis-store';
import type { HealthLogger } from '../../../src/health/types';
import { TestRedis } from '../../helpers/redis';

jest.setTimeout(30_000);

const log: HealthLogger & { warnings: string[] } = { warnings: [], info() {}, warn(m) { this.warnings.push(m); }, error() {}, debug() {} };
const config = (url: string): SharedHealthConfig => ({ url, key_prefix: `t${Date.now()}:`, ttl: null, grace: 5, poll_interval: 1, timeout: 2, tls: null });
const vp = { pop: 'AMS', region: 'WEU' };

async function connected(s: RedisHealthStore): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await s.read(null, 60_000, 1);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('never connected');
}

describe('RedisHealthStore', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await TestRedis.start();
  });
  afterAll(async () => {
    await redis?.kill();
  });

  test('publish and read back in order, then only what is new', async () => {
    const s = new RedisHealthStore(config(redis.url), log);
    try {
      await connected(s);
      const id1 = await s.publish(vp, 'one', 60_000);
      const id2 = await s.publish({ pop: 'IAD', region: 'ENAM' }, 'two', 60_000);
      const r = await s.read(null, 60_000, 100);
      expect(r.batches.map((b) => [b.id, b.pop, b.region, b.payload])).toEqual([[id1, 'AMS', 'WEU', 'one'], [id2, 'IAD', 'ENAM', 'two']]);
      expect(Math.abs(r.storeNow - Date.now())).toBeLessThan(5000);
      expect(Math.abs(r.batches[0].storedAt - r.storeNow)).toBeLessThan(5000);
      expect(r.more).toBe(false);
      const again = await s.read(r.cursor, 60_000, 100);
      expect(again.batches).toEqual([]);
      await s.publish(vp, 'three', 60_000);
      expect((await s.read(r.cursor, 60_000, 100)).batches.map((b) => b.payload)).toEqual(['three']);
      // Paged reads say when more is waiting.
      const page = await s.read(null, 60_000, 2);
      expect(page.more).toBe(true);
    } finally {
      await s.close();
    }
  });

  test('entries older than the window are trimmed on publish', async () => {
    const s = new RedisHealthStore(config(redis.url), log);
    try {
      await connected(s);
      for (let i = 0; i < 150; i++) await s.publish(vp, `old${i}`, 60_000);
      await new Promise((r) => setTimeout(r, 30));
      // A window of 10 ms: everything before now − 10 ms may go (MINID ~ trims whole macro nodes, so "may").
      for (let i = 0; i < 150; i++) await s.publish(vp, `new${i}`, 10);
      const r = await s.read(null, 60_000, 1000);
      expect(r.batches.filter((b) => b.payload.startsWith('old')).length).toBeLessThan(150);
    } finally {
      await s.close();
    }
  });

  test('a dead server: calls fail within the timeout, nothing waits in a queue; it reconnects by itself', async () => {
    const s = new RedisHealthStore(config(redis.url), log);
    try {
      await connected(s);
      await redis.kill();
      const t0 = Date.now();
      await expect(s.publish(vp, 'x', 60_000)).rejects.toThrow();
      await expect(s.read(null, 60_000, 10)).rejects.toThrow();
      expect(Date.now() - t0).toBeLessThan(3000);
      await redis.start();
      await connected(s);
      await s.publish(vp, 'back', 60_000);
    } finally {
      await s.close();
    }
  });

  test('options: credentials and TLS from the URL, never in the description', () => {
    const { options, description } = redisOptions({ ...config('rediss://user:p%40ss@cache.example:6380/2'), tls: { ca: null, cert: null, key: null, servername: null, insecure: true } });
    expect(options).toMatchObject({ host: 'cache.example', port: 6380, db: 2, username: 'user', password: 'p@ss', enableOfflineQueue: false });
    expect(options.tls).toMatchObject({ servername: 'cache.example', rejectUnauthorized: false });
    expect(description).toBe('rediss://cache.example:6380/2');
    expect(redisOptions(config('redis://[::1]')).options).toMatchObject({ host: '::1', port: 6379, db: 0 });
  });
});
