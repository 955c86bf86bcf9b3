// The rate limiter's accounts (BIND semantics): credit per second up to the rate, debt down to -window × rate,
// slip patterns, the key (prefix, kind, name, type), exempt prefixes, log_only, the bounded table.
import type { RrlConfig } from '../../src/config/types';
import { RateLimiter, RrlAction, RrlKind, rrlSettings } from '../../src/dns/rrl';
import { parseIp, type IpAddr } from '../../src/util/ip';

const T = 1_700_000_000;
const ip = (text: string): IpAddr => parseIp(text) as IpAddr;
const cfg = (o: Partial<RrlConfig> = {}): RrlConfig => ({
  responses_per_second: 5, nxdomains_per_second: null, errors_per_second: null, window: 15, slip: 2,
  ipv4_prefix_length: 24, ipv6_prefix_length: 56, exempt: [], log_only: false, max_table_size: 1024, ...o,
});
const limiter = (o: Partial<RrlConfig> = {}): RateLimiter => new RateLimiter(rrlSettings(cfg(o)), T);

/** Sends `n` responses of one key at time `now`; counts the verdicts. */
function burst(l: RateLimiter, n: number, now: number, from = '192.0.2.7', kind = RrlKind.Answer, name = 77, qtype = 1): Record<string, number> {
  const out: Record<string, number> = { ok: 0, drop: 0, slip: 0, logOnly: 0 };
  for (let i = 0; i < n; i++) {
    const a = l.account(ip(from), kind, qtype, name, now);
    out[a === RrlAction.Ok ? 'ok' : a === RrlAction.Drop ? 'drop' : a === RrlAction.Slip ? 'slip' : 'logOnly']++;
  }
  return out;
}

describe('rate limiter accounts', () => {
  test('the rate per second, then every other limited response slips (slip 2)', () => {
    const l = limiter();
    expect(burst(l, 25, T)).toEqual({ ok: 5, drop: 10, slip: 10, logOnly: 0 });
    // The next second earns 5 credits, but the account is 20 in debt.
    expect(burst(l, 10, T + 1).ok).toBe(0);
  });

  test('a flood builds debt down to -window × rate; recovery takes the window', () => {
    const l = limiter({ window: 5, slip: 0 });
    burst(l, 1000, T); // far below the floor of -25
    // Credit of 5/s from -25: back to ≥ 1 only after 6 s.
    expect(burst(l, 1, T + 5).ok).toBe(0);
    expect(burst(l, 1, T + 6).ok).toBe(1);
    // Idle for longer than the window: a full account at once.
    const m = limiter({ window: 5, slip: 0 });
    burst(m, 1000, T);
    expect(burst(m, 10, T + 7).ok).toBe(5);
  });

  test('credit never exceeds one second of rate', () => {
    const l = limiter();
    burst(l, 1, T);
    expect(burst(l, 20, T + 10).ok).toBe(5);
  });

  test('slip 0 drops all, 1 slips all, 3 slips the first of every three', () => {
    expect(burst(limiter({ slip: 0 }), 15, T)).toEqual({ ok: 5, drop: 10, slip: 0, logOnly: 0 });
    expect(burst(limiter({ slip: 1 }), 15, T)).toEqual({ ok: 5, drop: 0, slip: 10, logOnly: 0 });
    const l = limiter({ slip: 3 });
    burst(l, 5, T);
    const seq = Array.from({ length: 7 }, () => l.account(ip('192.0.2.7'), RrlKind.Answer, 1, 77, T));
    expect(seq).toEqual([RrlAction.Slip, RrlAction.Drop, RrlAction.Drop, RrlAction.Slip, RrlAction.Drop, RrlAction.Drop, RrlAction.Slip]);
  });

  test('errors are dropped, never slipped', () => {
    expect(burst(limiter({ slip: 1 }), 15, T, '192.0.2.7', RrlKind.Error, 0, 0)).toEqual({ ok: 5, drop: 10, slip: 0, logOnly: 0 });
  });

  test('the key: one /24 (or /56) shares an account; other prefixes, names, types and kinds do not', () => {
    const l = limiter({ slip: 0 });
    expect(burst(l, 3, T, '192.0.2.7').ok + burst(l, 3, T, '192.0.2.200').ok).toBe(5);
    expect(burst(l, 5, T, '192.0.3.7').ok).toBe(5);
    expect(burst(l, 5, T, '192.0.2.7', RrlKind.Answer, 78).ok).toBe(5);
    expect(burst(l, 5, T, '192.0.2.7', RrlKind.Answer, 77, 28).ok).toBe(5);
    expect(burst(l, 5, T, '192.0.2.7', RrlKind.Nodata, 77, 0).ok).toBe(5);
    expect(burst(l, 3, T, '2001:db8:1:ff00::1').ok + burst(l, 3, T, '2001:db8:1:ff55::2').ok).toBe(5);
    expect(burst(l, 5, T, '2001:db8:1:fe00::1').ok).toBe(5);
  });

  test('prefix lengths are configurable', () => {
    const l = limiter({ ipv4_prefix_length: 32, slip: 0 });
    expect(burst(l, 5, T, '192.0.2.7').ok + burst(l, 5, T, '192.0.2.8').ok).toBe(10);
  });

  test('per-kind rates: nxdomains and errors default to responses_per_second; 0 does not limit', () => {
    const l = limiter({ nxdomains_per_second: 2, errors_per_second: 0, slip: 0 });
    expect(burst(l, 10, T, '192.0.2.7', RrlKind.Nxdomain, 5, 0).ok).toBe(2);
    expect(burst(l, 1000, T, '192.0.2.7', RrlKind.Error, 0, 0).ok).toBe(1000);
    expect(burst(l, 10, T, '192.0.2.7', RrlKind.Referral, 9, 0).ok).toBe(5);
  });

  test('exempt prefixes are never limited', () => {
    const l = limiter({ exempt: ['192.0.2.0/28', '2001:db8::/32'], slip: 0 });
    expect(burst(l, 100, T, '192.0.2.7').ok).toBe(100);
    expect(burst(l, 100, T, '192.0.2.17').ok).toBe(5);
    expect(burst(l, 100, T, '2001:db8:5::1').ok).toBe(100);
    expect(burst(l, 100, T, '2001:db9::1').ok).toBe(5);
  });

  test('log_only answers everything and counts what it would have limited', () => {
    const l = limiter({ log_only: true });
    expect(burst(l, 25, T)).toEqual({ ok: 5, drop: 0, slip: 0, logOnly: 20 });
    expect(l.report()).toEqual({ limited: 20, example: '192.0.2.0/24 answer' });
    expect(l.report()).toBeNull();
  });

  test('the table is bounded: a full table evicts the least recently used account', () => {
    const l = limiter({ max_table_size: 64, slip: 0 });
    expect(l.capacity).toBe(64);
    burst(l, 100, T, '10.0.0.1'); // an account deep in debt
    // Thousands of other keys pass through the 8 buckets of 8.
    for (let i = 0; i < 5000; i++) l.account(ip(`10.${(i >> 8) & 255}.${i & 255}.1`), RrlKind.Answer, 1, 1000 + i, T + 1);
    expect(l.evictions).toBeGreaterThan(4000);
    // Its debt was forgotten with it: a fresh account.
    expect(burst(l, 5, T + 2, '10.0.0.1').ok).toBe(5);
  });

  test('a reload keeps the accounts unless the table size changes', () => {
    const l = limiter({ slip: 0 });
    burst(l, 100, T);
    l.configure(rrlSettings(cfg({ slip: 0, responses_per_second: 6 })));
    expect(burst(l, 5, T).ok).toBe(0);
    l.configure(rrlSettings(cfg({ slip: 0, max_table_size: 4096 })));
    expect(burst(l, 5, T).ok).toBe(5);
  });
});
