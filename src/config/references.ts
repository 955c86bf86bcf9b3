// Checks that span sections: every name a config refers to exists, names are unique, load balancers sit
// inside a configured zone. Each problem points at the referring place.
import { Ctx, isPartial, posOf } from './kit';
import type { Config, LoadBalancerConfig, RuleOverrides } from './types';

/** The zone a name belongs to: the longest configured zone that is the name or a suffix of it. One set look-up
 *  per label, so thousands of load balancers in thousands of zones cost no more than in one. */
export function zoneOf(name: string, zones: readonly string[] | ReadonlySet<string>): string | null {
  const set = zones instanceof Set ? zones : new Set(zones);
  for (let dot = -1; ; dot = name.indexOf('.', dot + 1)) {
    const candidate = dot < 0 ? name : name.slice(dot + 1);
    if (set.has(candidate)) return candidate;
    if (name.indexOf('.', dot + 1) < 0) return null;
  }
}

export function checkReferences(config: Config, ctx: Ctx): void {
  const zoneNames = config.zones.map((z) => z.name);
  const zoneSet = new Set(zoneNames);
  const seenZones = new Set<string>();
  for (const z of config.zones) {
    if (seenZones.has(z.name)) ctx.error(posOf(z, 'name'), `zone "${z.name}" is defined twice`);
    seenZones.add(z.name);
  }

  const monitorNames = [...config.monitors.keys()];
  const groupNames = [...config.monitor_groups.keys()];
  const poolNames = [...config.pools.keys()];

  for (const group of config.monitor_groups.values()) {
    group.members.forEach((m) => {
      if (!config.monitors.has(m.monitor) && !ctx.isDropped('monitor', m.monitor)) {
        ctx.error(posOf(m, 'monitor'), `monitor group "${group.name}" refers to unknown monitor "${m.monitor}"${ctx.suggest(m.monitor, monitorNames)}`);
      }
    });
    const seen = new Set<string>();
    group.members.forEach((m) => {
      if (seen.has(m.monitor)) ctx.error(posOf(m, 'monitor'), `monitor "${m.monitor}" is listed twice in group "${group.name}"`);
      seen.add(m.monitor);
      if (m.must_be_healthy && m.monitoring_only) {
        ctx.warn(posOf(m, 'monitoring_only'), `monitor "${m.monitor}" in group "${group.name}" is monitoring_only, so must_be_healthy has no effect`);
      }
    });
  }

  for (const pool of config.pools.values()) {
    if (pool.monitor !== null && !config.monitors.has(pool.monitor) && !ctx.isDropped('monitor', pool.monitor)) {
      ctx.error(posOf(pool, 'monitor'), `pool "${pool.name}" refers to unknown monitor "${pool.monitor}"${ctx.suggest(pool.monitor, monitorNames)}`);
    }
    if (pool.monitor_group !== null && !config.monitor_groups.has(pool.monitor_group) && !ctx.isDropped('monitor group', pool.monitor_group)) {
      ctx.error(posOf(pool, 'monitor_group'), `pool "${pool.name}" refers to unknown monitor group "${pool.monitor_group}"${ctx.suggest(pool.monitor_group, groupNames)}`);
    }
    let enabled = 0;
    for (const o of pool.origins) if (o.enabled) enabled++;
    if (pool.minimum_origins > enabled && !isPartial(pool.origins)) {
      ctx.warn(posOf(pool, 'minimum_origins'), `pool "${pool.name}" needs ${pool.minimum_origins} healthy origins but has ${enabled} enabled: it can never be healthy`);
    }
  }

  // Positions and the words for where a reference is are made only for a problem: most references are fine.
  type Where = () => string;
  const checkPool = (name: string, owner: object, key: string | number, lb: LoadBalancerConfig, what: Where) => {
    if (!config.pools.has(name) && !ctx.isDropped('pool', name)) {
      ctx.error(posOf(owner, key), `load balancer "${lb.name}" ${what()} refers to unknown pool "${name}"${ctx.suggest(name, poolNames)}`);
    }
  };
  const checkPoolList = (list: string[], lb: LoadBalancerConfig, what: Where) => {
    for (let i = 0; i < list.length; i++) checkPool(list[i], list, i, lb, what);
  };
  const checkPoolMap = (map: Record<string, string[]>, lb: LoadBalancerConfig, what: Where) => {
    for (const key in map) checkPoolList(map[key], lb, () => `${what()}.${key}`);
  };
  const checkOverrides = (o: RuleOverrides, lb: LoadBalancerConfig, what: Where) => {
    if (o.default_pools) checkPoolList(o.default_pools, lb, () => `${what()}.default_pools`);
    if (o.fallback_pool !== undefined) checkPool(o.fallback_pool, o, 'fallback_pool', lb, () => `${what()}.fallback_pool`);
    if (o.region_pools) checkPoolMap(o.region_pools, lb, () => `${what()}.region_pools`);
    if (o.country_pools) checkPoolMap(o.country_pools, lb, () => `${what()}.country_pools`);
    if (o.pop_pools) checkPoolMap(o.pop_pools, lb, () => `${what()}.pop_pools`);
  };
  const DEFAULT_POOLS: Where = () => 'default_pools';
  const FALLBACK_POOL: Where = () => 'fallback_pool';
  const REGION_POOLS: Where = () => 'region_pools';
  const COUNTRY_POOLS: Where = () => 'country_pools';
  const POP_POOLS: Where = () => 'pop_pools';

  const seenLbs = new Set<string>();
  for (const lb of config.load_balancers) {
    if (seenLbs.has(lb.name)) ctx.error(posOf(lb, 'name'), `load balancer "${lb.name}" is defined twice`);
    seenLbs.add(lb.name);
    const bare = lb.name.startsWith('*.') ? lb.name.slice(2) : lb.name;
    const zone = zoneOf(bare, zoneSet);
    const dropped = ctx.dropped.get('zone');
    if (zone === null && dropped && zoneOf(bare, dropped) !== null) {
      // Inside a zone left out for an error (reported there).
    } else if (zone === null || (lb.name.startsWith('*.') && bare !== zone && !bare.endsWith(`.${zone}`))) {
      ctx.error(posOf(lb, 'name'), `load balancer "${lb.name}" is not inside any configured zone (${zoneNames.join(', ')})`);
    }
    checkPoolList(lb.default_pools, lb, DEFAULT_POOLS);
    if (lb.fallback_pool !== null) checkPool(lb.fallback_pool, lb, 'fallback_pool', lb, FALLBACK_POOL);
    checkPoolMap(lb.region_pools, lb, REGION_POOLS);
    checkPoolMap(lb.country_pools, lb, COUNTRY_POOLS);
    checkPoolMap(lb.pop_pools, lb, POP_POOLS);
    for (const p of Object.keys(lb.random_steering.pool_weights)) {
      if (!config.pools.has(p) && !ctx.isDropped('pool', p)) {
        ctx.error(posOf(lb.random_steering.pool_weights, p), `load balancer "${lb.name}" random_steering.pool_weights names unknown pool "${p}"${ctx.suggest(p, poolNames)}`);
      }
    }
    lb.rules.forEach((rule, i) => {
      checkOverrides(rule.overrides, lb, () => `rules[${i}]${rule.name ? ` "${rule.name}"` : ''} overrides`);
      if (rule.overrides.random_steering) {
        for (const p of Object.keys(rule.overrides.random_steering.pool_weights)) {
          if (!config.pools.has(p) && !ctx.isDropped('pool', p)) ctx.error(posOf(rule.overrides.random_steering.pool_weights, p), `unknown pool "${p}" in rule "${rule.name}" pool_weights`);
        }
      }
    });
    const geo = lb.steering_policy === 'geo' || (lb.steering_policy === '' && hasGeoPools(lb));
    if (geo && lb.rules.some((r) => !r.disabled)) {
      ctx.warn(posOf(lb, 'rules'), `Cloudflare documents custom rules as incompatible with geo steering; steerdns applies them before geo steering, so "${lb.name}" may behave differently if ported back`);
    }
  }
}

export function hasGeoPools(lb: { region_pools: object; country_pools: object; pop_pools: object }): boolean {
  return Object.keys(lb.region_pools).length > 0 || Object.keys(lb.country_pools).length > 0 || Object.keys(lb.pop_pools).length > 0;
}
