// Where a query comes from (https://developers.cloudflare.com/load-balancing/understand-basics/traffic-steering/steering-policies/, "EDNS Client Subnet (ECS) support"): ECS when the location strategy prefers it for
// this steering policy, else the resolver's GeoIP location in `resolver_ip` mode, else this server's PoP.
import type { LocationStrategyConfig, PopConfig, SteeringPolicy } from '../config/types';
import type { ClientInfo } from '../dns/dynamic';
import type { GeoView } from './views';

export type LocationSource = 'ecs' | 'resolver' | 'pop';

export interface Location {
  source: LocationSource;
  country: string | null;
  subdivision: string | null;
  region: string | null;
  latitude: number | null;
  longitude: number | null;
  /**
   * ECS scope this location implies: the deciding GeoIP network's prefix, capped by the source prefix; the source
   * prefix when ECS was preferred but not in the database; 0 when ECS was not preferred.
   */
  ecsScope: number;
  /** Why ECS or the resolver address was not used (for explain). */
  note: string;
  /**
   * The object this location came from (a cached, frozen GeoIP result or the PoP): the same key means the same
   * place, so per-location work (proximity order) can be memoized on it.
   */
  key: object;
}

/** This server as a PoP: the configured block with its region filled in. */
export type Pop = PopConfig;

export function popFromConfig(pop: PopConfig, regionOf: (country: string, subdivision: string | null) => string | null): Pop {
  return { ...pop, region: pop.region ?? (pop.country ? regionOf(pop.country, pop.subdivision) : null) };
}

/** Whether the ECS address is the preferred location for this policy (https://developers.cloudflare.com/load-balancing/understand-basics/traffic-steering/steering-policies/, the prefer_ecs table). */
export function ecsPreferred(strategy: LocationStrategyConfig, policy: SteeringPolicy): boolean {
  switch (strategy.prefer_ecs) {
    case 'always': return true;
    case 'never': return false;
    case 'proximity': return policy === 'proximity';
    case 'geo': return policy === 'geo';
  }
}

/** A Location to locate queries into (each steering state keeps one and reuses it). */
export function emptyLocation(): Location {
  return { source: 'pop', country: null, subdivision: null, region: null, latitude: null, longitude: null, ecsScope: 0, note: '', key: {} };
}

/** Where `client` is for this steering, written into `loc` (which is returned). */
export function locate(loc: Location, pop: Pop, geo: GeoView | null, strategy: LocationStrategyConfig, policy: SteeringPolicy, client: ClientInfo): Location {
  loc.note = '';
  loc.ecsScope = 0;
  const ecs = client.usableEcs;
  if (ecs !== null && ecsPreferred(strategy, policy)) {
    const g = geo ? geo.lookup(ecs.address) : null;
    if (g) {
      setPlace(loc, 'ecs', g);
      loc.ecsScope = Math.min(g.prefixLength, ecs.sourcePrefix);
      return loc;
    }
    loc.note = geo ? 'ECS address not in the GeoIP database' : 'no GeoIP database configured';
    // The answer still depends on the ECS address (a located one would steer elsewhere): scope 0 would let a
    // resolver serve this fallback answer to every client. Without the miss network's prefix, the source prefix.
    if (geo) loc.ecsScope = ecs.sourcePrefix;
  } else if (client.ecs !== null) {
    loc.note = client.ecs.sourcePrefix === 0 ? 'ECS with source prefix 0 (client opted out)' : `ECS not preferred (prefer_ecs: ${strategy.prefer_ecs}, policy: ${policy || 'off'})`;
  }
  if (strategy.mode === 'resolver_ip') {
    const g = geo ? geo.lookup(client.resolver) : null;
    if (g) {
      setPlace(loc, 'resolver', g);
      return loc;
    }
    loc.note = loc.note ? `${loc.note}; resolver address not in the GeoIP database` : 'resolver address not in the GeoIP database';
  }
  setPlace(loc, 'pop', pop);
  return loc;
}

/** A place: a GeoIP result or the PoP (the object itself is the memo key for per-location work). */
type Place = Pick<Location, 'country' | 'subdivision' | 'region' | 'latitude' | 'longitude'>;

function setPlace(loc: Location, source: LocationSource, p: Place): void {
  loc.source = source;
  loc.key = p;
  loc.country = p.country;
  loc.subdivision = p.subdivision;
  loc.region = p.region;
  loc.latitude = p.latitude;
  loc.longitude = p.longitude;
}

/** (place, key) pairs a PerLocation checks by identity first. */
const RECENT = 8;

/**
 * Work that depends only on a location and a second object (a pool list, a steering table), kept as long as the
 * location object lives: GeoIP results are cached and shared, the PoP lives with the runtime.
 */
export class PerLocation<K extends object, V> {
  private readonly byPlace = new WeakMap<object, WeakMap<K, V>>();
  // The last few (place, key) pairs asked for, checked by identity before the two WeakMap lookups: queries come
  // from a few client networks at a time. Bounded, so the few places it holds on to do not matter.
  private readonly recentPlaces: (object | null)[] = new Array<object | null>(RECENT).fill(null);
  private readonly recentKeys: (K | null)[] = new Array<K | null>(RECENT).fill(null);
  private readonly recentValues: (V | null)[] = new Array<V | null>(RECENT).fill(null);
  private recentNext = 0;

  get(place: Location, key: K): V | undefined {
    const p = place.key;
    for (let i = 0; i < RECENT; i++) {
      if (this.recentPlaces[i] === p && this.recentKeys[i] === key) return this.recentValues[i] as V;
    }
    const v = this.byPlace.get(p)?.get(key);
    if (v !== undefined) this.remember(p, key, v);
    return v;
  }

  set(place: Location, key: K, value: V): V {
    let inner = this.byPlace.get(place.key);
    if (!inner) {
      inner = new WeakMap();
      this.byPlace.set(place.key, inner);
    }
    inner.set(key, value);
    this.remember(place.key, key, value);
    return value;
  }

  private remember(place: object, key: K, value: V): void {
    const i = this.recentNext;
    this.recentNext = (i + 1) % RECENT;
    this.recentPlaces[i] = place;
    this.recentKeys[i] = key;
    this.recentValues[i] = value;
  }
}
