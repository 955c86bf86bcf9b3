// The quorum of vantage points, as Cloudflare defines it for health monitor regions
// (https://developers.cloudflare.com/load-balancing/monitors/ §Health monitor regions, and "How endpoints and pools
// become unhealthy", https://developers.cloudflare.com/load-balancing/understand-basics/health-details/):
//   "If the majority of data centers for that region pass the health monitor requests, that region is considered
//    healthy. If the majority of regions is healthy, then the endpoint itself will be considered healthy."
// A pool's `check_regions` chooses the regions that vote. Here a data center is a steerdns instance (a vantage
// point: server.pop code and region), and only its fresh results count: a vantage point that stops publishing
// stops voting when its results expire.
//
// Where the documentation is silent, steerdns decides:
// - A tie is healthy, at both levels (1 of 2 vantage points, 2 of 4 regions): half the probes reaching an endpoint
//   is no proof that it is down, and the alternative lets one flaky vantage point out of two empty a pool —
//   the failure this feature exists to prevent. Monitor groups use the same "more than half must fail" rule.
// - `consecutive_up` / `consecutive_down` apply to the global verdict: it must have stayed the same for that many
//   probe intervals (counting the one in which it changed), so 1 switches at once and n after n − 1 intervals more.
//
// Everything here is pure: the aggregation over one target's votes costs O(vantage points).
import type { TargetStatus } from '../store';
import type { FailureReason } from '../types';
import type { Vote } from './types';

export interface RegionTally {
  region: string;
  /** Fresh results of this region's vantage points, and how many passed. */
  total: number;
  passing: number;
  healthy: boolean;
}

export interface Verdict {
  /** 'unknown' when no voting region has a fresh result. */
  status: TargetStatus;
  /** Voting regions with fresh results, in first-seen order. */
  regions: RegionTally[];
  /** Fresh results of voting vantage points, and of the others (shown, not counted). */
  voting: Vote[];
  ignored: Vote[];
  /** The most frequent failure among voting results when unhealthy, else "No failures". */
  reason: FailureReason;
  responseCode: number | null;
}

/** A strict majority must fail for a group to count as failed (a tie is healthy, see above). */
export function majorityHealthy(passing: number, total: number): boolean {
  return 2 * passing >= total;
}

/** Whether a result stored at `at` still counts at `now`. */
export function isFresh(at: number, now: number, ttlMs: number): boolean {
  return now - at <= ttlMs;
}

/**
 * The global verdict on one target from its vantage points' latest results. `voters` null: every region votes;
 * otherwise only results from those regions count (pool check_regions).
 */
export function aggregate(votes: Iterable<Vote>, voters: readonly string[] | null, now: number, ttlMs: number): Verdict {
  const regions: RegionTally[] = [];
  const voting: Vote[] = [];
  const ignored: Vote[] = [];
  for (const v of votes) {
    if (!isFresh(v.at, now, ttlMs)) continue;
    if (voters !== null && !voters.includes(v.region)) {
      ignored.push(v);
      continue;
    }
    voting.push(v);
    let tally: RegionTally | undefined;
    for (const r of regions) if (r.region === v.region) tally = r;
    if (tally === undefined) {
      tally = { region: v.region, total: 0, passing: 0, healthy: false };
      regions.push(tally);
    }
    tally.total++;
    if (v.ok) tally.passing++;
  }
  let healthyRegions = 0;
  for (const r of regions) {
    r.healthy = majorityHealthy(r.passing, r.total);
    if (r.healthy) healthyRegions++;
  }
  if (regions.length === 0) return { status: 'unknown', regions, voting, ignored, reason: 'No failures', responseCode: null };
  const healthy = majorityHealthy(healthyRegions, regions.length);
  if (healthy) return { status: 'healthy', regions, voting, ignored, reason: 'No failures', responseCode: null };
  const { reason, responseCode } = commonFailure(voting);
  return { status: 'unhealthy', regions, voting, ignored, reason, responseCode };
}

/** The outcome of quickVerdict(), reused from call to call. */
export interface QuickVerdict {
  status: TargetStatus;
  /** When the earliest fresh voting result expires (Infinity when none). */
  expiresAt: number;
}

const quick: QuickVerdict = { status: 'unknown', expiresAt: Infinity };
const scratchRegions: string[] = [];
const scratchTotal: number[] = [];
const scratchPassing: number[] = [];

/**
 * aggregate()'s status alone, without allocating (it runs on every result received): the returned object is
 * reused and valid until the next call. Same rule, same inputs.
 */
export function quickVerdict(votes: ReadonlyMap<string, Vote>, voters: readonly string[] | null, now: number, ttlMs: number): QuickVerdict {
  let n = 0;
  let expiresAt = Infinity;
  for (const v of votes.values()) {
    if (!isFresh(v.at, now, ttlMs)) continue;
    if (voters !== null && !voters.includes(v.region)) continue;
    if (v.at + ttlMs < expiresAt) expiresAt = v.at + ttlMs;
    let i = 0;
    while (i < n && scratchRegions[i] !== v.region) i++;
    if (i === n) {
      scratchRegions[n] = v.region;
      scratchTotal[n] = 0;
      scratchPassing[n] = 0;
      n++;
    }
    scratchTotal[i]++;
    if (v.ok) scratchPassing[i]++;
  }
  let healthy = 0;
  for (let i = 0; i < n; i++) if (majorityHealthy(scratchPassing[i], scratchTotal[i])) healthy++;
  quick.status = n === 0 ? 'unknown' : majorityHealthy(healthy, n) ? 'healthy' : 'unhealthy';
  quick.expiresAt = expiresAt;
  return quick;
}

/** The failure most voting vantage points report (ties: the first seen), with a response code that went with it. */
function commonFailure(voting: readonly Vote[]): { reason: FailureReason; responseCode: number | null } {
  let best: FailureReason = 'Other Failure';
  let bestCount = 0;
  let code: number | null = null;
  for (const v of voting) {
    if (v.ok) continue;
    let n = 0;
    for (const w of voting) if (!w.ok && w.reason === v.reason) n++;
    if (n > bestCount) {
      best = v.reason;
      bestCount = n;
      code = v.responseCode;
    }
  }
  return { reason: best, responseCode: code };
}

/** The global hysteresis of one target: its status and the verdict waiting to replace it. */
export interface GlobalState {
  status: TargetStatus;
  pendingTo: 'healthy' | 'unhealthy' | null;
  /** When the pending verdict was first seen (ms). */
  pendingSince: number;
}

export interface Hysteresis {
  consecutiveUp: number;
  consecutiveDown: number;
  intervalMs: number;
}

/**
 * Moves `state` one step with a fresh verdict. Returns the new status when it changed, else null. `adopt` takes the
 * verdict at once (the first verdict, and re-joining the shared view after an outage: the other instances did not
 * wait, so neither does this one). An unknown verdict (every result expired) changes nothing.
 */
export function stepGlobal(state: GlobalState, verdict: TargetStatus, now: number, h: Hysteresis, adopt = false): TargetStatus | null {
  if (verdict === 'unknown') {
    state.pendingTo = null;
    return null;
  }
  if (verdict === state.status) {
    state.pendingTo = null;
    return null;
  }
  if (state.status === 'unknown' || adopt) {
    state.status = verdict;
    state.pendingTo = null;
    return verdict;
  }
  if (state.pendingTo !== verdict) {
    state.pendingTo = verdict;
    state.pendingSince = now;
  }
  if (now >= pendingDue(state, h)) {
    state.status = verdict;
    state.pendingTo = null;
    return verdict;
  }
  return null;
}

/** When a pending verdict takes over if it holds (Infinity when nothing is pending). */
export function pendingDue(state: GlobalState, h: Hysteresis): number {
  if (state.pendingTo === null) return Infinity;
  const n = state.pendingTo === 'unhealthy' ? h.consecutiveDown : h.consecutiveUp;
  return state.pendingSince + Math.max(0, n - 1) * h.intervalMs;
}
