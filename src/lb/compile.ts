// Turning load_balancers and pools from the config into steering tables: pool references resolved to Pool
// objects, region/country keys checked, rule conditions compiled, and one zone binding per enabled LB.
import { posOf } from '../config/kit';
import type { Config, LoadBalancerConfig, Pos, Problem, RandomSteeringConfig, RuleOverrides } from '../config/types';
import type { Binding } from '../dns/zone';
import { RRType } from '../dns/wire/constants';
import { isValidRegion, parseCountryKey, REGION_CODES } from '../geo/regions';
import { LoadBalancer } from './balancer';
import type { CompiledRule, Steering, SteeringEnv } from './steering';
import { Pool } from './pool';
import { compileCondition, ConditionError, type CompiledCondition } from './rules/condition';
import { runToEnd, type Sliced } from '../util/slices';

export interface LbCompileResult {
  balancers: Map<string, LoadBalancer>;
  pools: Map<string, Pool>;
  bindings: Binding[];
  problems: Problem[];
}

export function compileLoadBalancers(config: Config, env: SteeringEnv): LbCompileResult {
  return runToEnd(compileLoadBalancersSliced(config, env));
}

/** compileLoadBalancers, pausable (see util/slices). */
export function* compileLoadBalancersSliced(config: Config, env: SteeringEnv): Sliced<LbCompileResult> {
  const problems: Problem[] = [];
  const err = (pos: Pos, message: string) => problems.push({ pos, message, severity: 'error' });
  const warn = (pos: Pos, message: string) => problems.push({ pos, message, severity: 'warning' });

  const pools = new Map<string, Pool>();
  for (const [name, pc] of config.pools) {
    pools.set(name, new Pool(pc));
    yield;
  }

  const poolList = (names: string[]): Pool[] => {
    const out: Pool[] = [];
    for (const n of names) {
      const p = pools.get(n);
      if (p !== undefined) out.push(p);
    }
    return out;
  };
  const poolMap = (m: Record<string, string[]>, what: 'region' | 'country' | 'pop', owner: object): ReadonlyMap<string, Pool[]> => {
    const keys = Object.keys(m);
    if (keys.length === 0) return NO_POOL_MAP;
    const out = new Map<string, Pool[]>();
    for (const key of keys) {
      // Positions only for a message: turning an offset into line:col indexes the file's lines on first use.
      if (what === 'region' && !isValidRegion(key)) {
        err(posOf(owner, key), `unknown region "${key}" (regions: ${REGION_CODES.join(', ')})`);
        continue;
      }
      if (what === 'country' && parseCountryKey(key) === null) {
        err(posOf(owner, key), `"${key}" is not an ISO 3166-1 country code or an ISO 3166-2 subdivision (like "US" or "US-CA")`);
        continue;
      }
      out.set(key, poolList(m[key]));
    }
    return out;
  };
  const weights = (rs: RandomSteeringConfig): ReadonlyMap<Pool, number> => {
    const names = Object.keys(rs.pool_weights);
    if (names.length === 0) return NO_WEIGHTS;
    const out = new Map<Pool, number>();
    for (const name of names) {
      const p = pools.get(name);
      if (p) out.set(p, rs.pool_weights[name]);
    }
    return out;
  };

  const helpers: RuleCompileHelpers = { err, warn, poolList, poolMap, weights, pools, conditions: new Map() };
  const balancers = new Map<string, LoadBalancer>();
  const bindings: Binding[] = [];
  for (const lb of config.load_balancers) {
    yield;
    const base: Steering = {
      defaultPools: poolList(lb.default_pools),
      fallback: lb.fallback_pool === null ? null : pools.get(lb.fallback_pool) ?? null,
      regionPools: poolMap(lb.region_pools, 'region', lb.region_pools),
      countryPools: poolMap(lb.country_pools, 'country', lb.country_pools),
      popPools: poolMap(lb.pop_pools, 'pop', lb.pop_pools),
      policy: lb.steering_policy,
      poolWeights: weights(lb.random_steering),
      defaultWeight: lb.random_steering.default_weight,
      location: lb.location_strategy,
      ttl: lb.ttl,
    };
    const rules = compileRules(lb, helpers);
    checkProximity(lb, base, rules, warn);

    const servesNames = referencesHostnames(lb, pools);
    const balancer = new LoadBalancer(lb.name, base, rules, servesNames, env);
    balancers.set(lb.name, balancer);
    if (!lb.enabled) continue; // a disabled LB leaves the name to its static records, if any (docs/decisions.md §1.3)
    const hides = servesNames ? HIDES_WITH_NAMES : HIDES_ADDRESSES;
    bindings.push({ name: lb.name, handler: balancer, hides, pos: () => posOf(lb, 'name') });
  }
  return { balancers, pools, bindings, problems };
}

// Shared by every load balancer that has none (most have no country or PoP pools): a config of 10,000 LBs made
// 40,000 empty maps. Never written to: the steering reads them as ReadonlyMaps.
const NO_POOL_MAP: ReadonlyMap<string, Pool[]> = new Map();
const NO_WEIGHTS: ReadonlyMap<Pool, number> = new Map();
const HIDES_ADDRESSES: readonly number[] = [RRType.A, RRType.AAAA];
const HIDES_WITH_NAMES: readonly number[] = [RRType.A, RRType.AAAA, RRType.MX, RRType.SRV];

interface RuleCompileHelpers {
  err: (pos: Pos, message: string) => void;
  warn: (pos: Pos, message: string) => void;
  poolList: (names: string[]) => Pool[];
  poolMap: (m: Record<string, string[]>, what: 'region' | 'country' | 'pop', owner: object) => ReadonlyMap<string, Pool[]>;
  weights: (rs: RandomSteeringConfig) => ReadonlyMap<Pool, number>;
  pools: Map<string, Pool>;
  /** Conditions compiled so far in this build, by their text (or why they do not compile). */
  conditions: Map<string, CompiledCondition | ConditionError>;
}

function compileRules(lb: LoadBalancerConfig, h: RuleCompileHelpers): CompiledRule[] {
  const out: (CompiledRule & { order: number })[] = [];
  lb.rules.forEach((rule, order) => {
    if (rule.disabled) return;
    // The same condition text in many load balancers (a config generated from a template) is compiled once:
    // a compiled condition is immutable, and its test reads only its input.
    let condition = h.conditions.get(rule.condition);
    if (condition === undefined) {
      try {
        condition = compileCondition(rule.condition);
      } catch (e) {
        if (!(e instanceof ConditionError)) throw e;
        condition = e;
      }
      h.conditions.set(rule.condition, condition);
    }
    if (condition instanceof ConditionError) {
      const at = posOf(rule, 'condition');
      h.err({ ...at, col: at.col + condition.offset }, `rule${rule.name ? ` "${rule.name}"` : ''}: ${condition.message}`);
      return;
    }
    const o: RuleOverrides = rule.overrides;
    const overrides: Partial<Steering> = {};
    if (o.default_pools) overrides.defaultPools = h.poolList(o.default_pools);
    if (o.fallback_pool !== undefined) overrides.fallback = h.pools.get(o.fallback_pool) ?? null;
    if (o.region_pools) overrides.regionPools = h.poolMap(o.region_pools, 'region', o.region_pools);
    if (o.country_pools) overrides.countryPools = h.poolMap(o.country_pools, 'country', o.country_pools);
    if (o.pop_pools) overrides.popPools = h.poolMap(o.pop_pools, 'pop', o.pop_pools);
    if (o.steering_policy !== undefined) overrides.policy = o.steering_policy;
    if (o.random_steering) {
      overrides.poolWeights = h.weights(o.random_steering);
      overrides.defaultWeight = o.random_steering.default_weight;
    }
    if (o.location_strategy) overrides.location = o.location_strategy;
    if (o.ttl !== undefined) overrides.ttl = o.ttl;
    out.push({
      name: rule.name || `rules[${order}]`,
      priority: rule.priority,
      terminates: rule.terminates,
      condition,
      overrides,
      overrideNames: Object.keys(o),
      order,
    });
  });
  // Lower priority first; equal priorities keep file order (https://developers.cloudflare.com/api/resources/load_balancers/methods/create/, rules[].priority).
  out.sort((a, b) => a.priority - b.priority || a.order - b.order);
  return out;
}

function checkProximity(lb: LoadBalancerConfig, base: Steering, rules: CompiledRule[], warn: (pos: Pos, m: string) => void): void {
  const usesProximity = base.policy === 'proximity' || rules.some((r) => r.overrides.policy === 'proximity');
  if (!usesProximity) return;
  // The pools proximity orders (default_pools), not every pool of the config: this runs once per load balancer.
  const missing = [...new Set(base.defaultPools)].filter((p) => p.config.latitude === null || p.config.longitude === null);
  if (missing.length > 0) {
    warn(posOf(lb, 'steering_policy'), `proximity steering: pool${missing.length > 1 ? 's' : ''} ${missing.map((p) => `"${p.name}"`).join(', ')} ha${missing.length > 1 ? 've' : 's'} no latitude/longitude and will be tried last`);
  }
}

/** Whether any pool the load balancer can answer from (in any field, its rules' included) has a hostname endpoint:
 *  then it answers MX and SRV too. */
function referencesHostnames(lb: LoadBalancerConfig, pools: Map<string, Pool>): boolean {
  if (anyHostnames(pools, lb.default_pools) || hasHostnames(pools, lb.fallback_pool)) return true;
  if (anyHostnamesIn(pools, lb.region_pools) || anyHostnamesIn(pools, lb.country_pools) || anyHostnamesIn(pools, lb.pop_pools)) return true;
  for (const r of lb.rules) {
    const o = r.overrides;
    if (anyHostnames(pools, o.default_pools) || hasHostnames(pools, o.fallback_pool)) return true;
    if (anyHostnamesIn(pools, o.region_pools) || anyHostnamesIn(pools, o.country_pools) || anyHostnamesIn(pools, o.pop_pools)) return true;
  }
  return false;
}

function hasHostnames(pools: Map<string, Pool>, name: string | null | undefined): boolean {
  return name !== null && name !== undefined && pools.get(name)?.hasHostnames === true;
}

function anyHostnames(pools: Map<string, Pool>, names: readonly string[] | undefined): boolean {
  if (names !== undefined) for (const n of names) if (hasHostnames(pools, n)) return true;
  return false;
}

function anyHostnamesIn(pools: Map<string, Pool>, m: Record<string, string[]> | undefined): boolean {
  if (m !== undefined) for (const k in m) if (anyHostnames(pools, m[k])) return true;
  return false;
}
