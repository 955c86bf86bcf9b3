// The steering configuration of one load balancer as the query path reads it: pool references resolved, rules
// compiled. Built by compile.ts, read by the balancer and the pool-steering policies.
import type { LocationStrategyConfig, SteeringPolicy } from '../config/types';
import type { Pop } from './location';
import type { Pool } from './pool';
import type { CompiledCondition } from './rules/condition';
import type { LbStatsRegistry } from './stats';
import type { GeoView, HealthView, HostnameView } from './views';

/** The steering inputs a rule can override (https://developers.cloudflare.com/load-balancing/additional-options/load-balancing-rules/); one object per load balancer, copied when a rule matches. */
export interface Steering {
  defaultPools: Pool[];
  /** null: the last of defaultPools (https://developers.cloudflare.com/load-balancing/understand-basics/traffic-steering/steering-policies/standard-options/, "fallback pool"). */
  fallback: Pool | null;
  regionPools: ReadonlyMap<string, Pool[]>;
  countryPools: ReadonlyMap<string, Pool[]>;
  popPools: ReadonlyMap<string, Pool[]>;
  policy: SteeringPolicy;
  poolWeights: ReadonlyMap<Pool, number>;
  defaultWeight: number;
  location: LocationStrategyConfig;
  ttl: number;
}

export interface CompiledRule {
  name: string;
  priority: number;
  terminates: boolean;
  condition: CompiledCondition;
  overrides: Partial<Steering>;
  overrideNames: string[];
}

/** Shared by every load balancer of one runtime. */
export interface SteeringEnv {
  pop: Pop;
  geo: GeoView | null;
  health: HealthView;
  hostnames: HostnameView;
  /** Decision counters, kept across reloads. */
  stats: LbStatsRegistry;
}

/** The policy a steering configuration actually runs ("" → geo when any geo map is set, else off; https://developers.cloudflare.com/api/resources/load_balancers/methods/create/, steering_policy). */
export function effectivePolicy(s: Steering): Exclude<SteeringPolicy, ''> {
  if (s.policy !== '') return s.policy;
  return s.regionPools.size > 0 || s.countryPools.size > 0 || s.popPools.size > 0 ? 'geo' : 'off';
}
