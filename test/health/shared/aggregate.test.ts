// The quorum rule (Cloudflare health monitor regions) and the global hysteresis, as pure functions.
import { aggregate, majorityHealthy, pendingDue, quickVerdict, stepGlobal, type GlobalState } from '../../../src/health/shared/aggregate';
import type { Vote } from '../../../src/health/shared/types';

let n = 0;
function vote(region: string, ok: boolean, at = 1000, over: Partial<Vote> = {}): Vote {
  n++;
  return { key: 'k', pop: `P${n}`, region, ok, reason: ok ? 'No failures' : 'TCP connection failed', responseCode: null, rttMs: ok ? 5 : null, checkedAt: at, at, ...over };
}

const NOW = 1000;
const TTL = 3000;

describe('aggregate', () => {
  test('a region is healthy when a majority of its vantage points pass; a tie counts as healthy', () => {
    expect(majorityHealthy(2, 3)).toBe(true);
    expect(majorityHealthy(1, 3)).toBe(false);
    expect(majorityHealthy(1, 2)).toBe(true);
    expect(majorityHealthy(0, 1)).toBe(false);
  });

  test('one region: the majority of its vantage points decides', () => {
    expect(aggregate([vote('WEU', true), vote('WEU', true), vote('WEU', false)], null, NOW, TTL).status).toBe('healthy');
    const v = aggregate([vote('WEU', true), vote('WEU', false), vote('WEU', false)], null, NOW, TTL);
    expect(v.status).toBe('unhealthy');
    expect(v.regions).toEqual([{ region: 'WEU', total: 3, passing: 1, healthy: false }]);
    expect(v.reason).toBe('TCP connection failed');
  });

  test('several regions: the endpoint is healthy when a majority of regions is', () => {
    // WEU healthy (2/3), ENAM unhealthy (0/1), WNAM healthy (1/1): 2 of 3 regions.
    const votes = [vote('WEU', true), vote('WEU', true), vote('WEU', false), vote('ENAM', false), vote('WNAM', true)];
    expect(aggregate(votes, null, NOW, TTL).status).toBe('healthy');
    // One vantage point per region, two of three failing.
    expect(aggregate([vote('WEU', false), vote('ENAM', false), vote('WNAM', true)], null, NOW, TTL).status).toBe('unhealthy');
    // Many healthy vantage points in one region do not outvote two regions.
    expect(aggregate([vote('WEU', true), vote('WEU', true), vote('WEU', true), vote('ENAM', false), vote('WNAM', false)], null, NOW, TTL).status).toBe('unhealthy');
  });

  test('check_regions: only the listed regions vote; the others are kept aside', () => {
    const votes = [vote('WEU', true), vote('ENAM', false), vote('WNAM', false)];
    const v = aggregate(votes, ['WEU'], NOW, TTL);
    expect(v.status).toBe('healthy');
    expect(v.voting.map((x) => x.region)).toEqual(['WEU']);
    expect(v.ignored.map((x) => x.region)).toEqual(['ENAM', 'WNAM']);
    expect(aggregate(votes, ['ENAM', 'WNAM'], NOW, TTL).status).toBe('unhealthy');
    // No voting region has a result: unknown, whatever the others say.
    expect(aggregate(votes, ['OC'], NOW, TTL).status).toBe('unknown');
  });

  test('a vantage point whose results expired stops voting', () => {
    const stale = vote('ENAM', false, NOW - TTL - 1);
    const votes = [vote('WEU', true), stale, vote('WNAM', false)];
    // Without the stale one: WEU healthy, WNAM unhealthy → tie → healthy.
    expect(aggregate(votes, null, NOW, TTL).status).toBe('healthy');
    expect(aggregate([stale], null, NOW, TTL).status).toBe('unknown');
    expect(aggregate([], null, NOW, TTL).status).toBe('unknown');
  });

  test('the reason is the most frequent failure among voters', () => {
    const v = aggregate(
      [vote('WEU', false, NOW, { reason: 'HTTP timeout occurred' }), vote('WEU', false, NOW, { reason: 'Response code mismatch error', responseCode: 503 }), vote('WEU', false, NOW, { reason: 'Response code mismatch error', responseCode: 503 })],
      null,
      NOW,
      TTL,
    );
    expect(v).toMatchObject({ status: 'unhealthy', reason: 'Response code mismatch error', responseCode: 503 });
  });
});

test('quickVerdict (the allocation-free status) agrees with aggregate on random vote sets', () => {
  let seed = 42;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const regions = ['WEU', 'ENAM', 'WNAM', 'OC'];
  for (let i = 0; i < 2000; i++) {
    const votes = new Map<string, Vote>();
    const k = Math.floor(rnd() * 8);
    for (let j = 0; j < k; j++) votes.set(`P${j}`, vote(regions[Math.floor(rnd() * regions.length)], rnd() < 0.6, NOW - Math.floor(rnd() * 2 * TTL)));
    const voters = rnd() < 0.3 ? ['WEU', 'OC'] : null;
    const full = aggregate(votes.values(), voters, NOW, TTL);
    const q = quickVerdict(votes, voters, NOW, TTL);
    expect(q.status).toBe(full.status);
    expect(q.expiresAt).toBe(full.voting.length ? Math.min(...full.voting.map((v) => v.at + TTL)) : Infinity);
  }
});

describe('stepGlobal (consecutive_up / consecutive_down on the global verdict)', () => {
  const h = { consecutiveUp: 1, consecutiveDown: 3, intervalMs: 1000 };
  const fresh = (status: GlobalState['status']): GlobalState => ({ status, pendingTo: null, pendingSince: 0 });

  test('the first verdict decides directly; unknown changes nothing', () => {
    const s = fresh('unknown');
    expect(stepGlobal(s, 'unknown', 0, h)).toBeNull();
    expect(stepGlobal(s, 'unhealthy', 0, h)).toBe('unhealthy');
    expect(s.status).toBe('unhealthy');
  });

  test('consecutive_down 3: unhealthy after the verdict held for two more intervals; a healthy verdict in between resets', () => {
    const s = fresh('healthy');
    expect(stepGlobal(s, 'unhealthy', 10_000, h)).toBeNull();
    expect(pendingDue(s, h)).toBe(12_000);
    expect(stepGlobal(s, 'unhealthy', 11_500, h)).toBeNull();
    expect(stepGlobal(s, 'healthy', 11_600, h)).toBeNull();
    expect(s.pendingTo).toBeNull();
    expect(stepGlobal(s, 'unhealthy', 12_000, h)).toBeNull();
    expect(stepGlobal(s, 'unhealthy', 13_999, h)).toBeNull();
    expect(stepGlobal(s, 'unhealthy', 14_000, h)).toBe('unhealthy');
    // consecutive_up 1: back at once.
    expect(stepGlobal(s, 'healthy', 14_100, h)).toBe('healthy');
  });

  test('adopt takes the verdict at once (re-joining the shared view)', () => {
    const s = fresh('healthy');
    expect(stepGlobal(s, 'unhealthy', 0, h, true)).toBe('unhealthy');
  });
});
