// Assembling a runtime from a validated config: each domain compiles its part (load balancers → steering
// tables and zone bindings, zones → lookup tables), and the result is one immutable object the listeners read.
// A reload builds a new one beside the running one and swaps a single reference.
import { statSync } from 'node:fs';
import { posOf } from '../config/kit';
import type { Config, Problem } from '../config/types';
import { resolveInternally } from '../dns/authority';
import { ClientInfo } from '../dns/dynamic';
import { identityRData, type DnsRuntime } from '../dns/handler';
import { compileZonesSliced, type ZoneTable } from '../dns/zone';
import { compileDnssecSliced, type DnssecRuntime } from '../dnssec/runtime';
import { openGeoIp, type GeoIp } from '../geo/geoip';
import { isValidRegion, REGION_CODES, regionOf } from '../geo/regions';
import { sharedHealthProblems } from '../health/shared/check';
import { HealthStore } from '../health/store';
import { targetProblems } from '../health/targets';
import type { LoadBalancer } from '../lb/balancer';
import { compileLoadBalancersSliced } from '../lb/compile';
import { popFromConfig, type Pop } from '../lb/location';
import type { Pool } from '../lb/pool';
import { LbStatsRegistry } from '../lb/stats';
import { noHostnames, type HealthView, type HostnameView } from '../lb/views';
import { formatIp } from '../util/ip';
import { runToEnd, type Sliced } from '../util/slices';
import { AssumeUpHealthView, StoreHealthView } from './health-view';

export interface Runtime extends DnsRuntime {
  readonly config: Config;
  readonly zones: ZoneTable;
  readonly balancers: Map<string, LoadBalancer>;
  readonly pools: Map<string, Pool>;
  readonly pop: Pop;
  readonly geo: GeoIp | null;
  readonly health: HealthView;
  /** Hostnames of pool endpoints to keep resolved. */
  readonly hostnames: Set<string>;
  /** Online signing of the signed zones (null: none); its upkeep runs while the runtime serves. */
  readonly dnssec: DnssecRuntime | null;
  readonly builtAt: number;
}

export interface RuntimeDeps {
  /** The live store (serve); null = every endpoint up (explain --health assume-up, check). */
  store: HealthStore | null;
  hostnames: HostnameView;
  /** GeoIP readers kept across reloads while the files are unchanged. */
  geoCache?: GeoCache;
  /** Steering counters kept across reloads (a fresh registry when omitted). */
  lbStats?: LbStatsRegistry;
  /** The config was checked already (the loading thread ran every check): skip checks that build nothing. */
  checked?: boolean;
}

export interface BuildResult {
  runtime: Runtime | null;
  problems: Problem[];
}

/** Opens each GeoIP file set once; reopens when a file's size or mtime changes. */
export class GeoCache {
  private key = '';
  private geo: GeoIp | null = null;

  open(paths: string[]): GeoIp | null {
    if (paths.length === 0) return null;
    const key = paths.map((p) => {
      try {
        const st = statSync(p);
        return `${p}:${st.size}:${st.mtimeMs}`;
      } catch {
        return `${p}:missing`;
      }
    }).join('|');
    if (key !== this.key || this.geo === null) {
      this.geo = openGeoIp(paths);
      this.key = key;
    }
    return this.geo;
  }
}

export function buildRuntime(config: Config, deps: RuntimeDeps): BuildResult {
  return runToEnd(buildRuntimeSliced(config, deps));
}

/** buildRuntime, pausable: a reload runs it in slices beside the serving query path (util/slices). */
export function* buildRuntimeSliced(config: Config, deps: RuntimeDeps): Sliced<BuildResult> {
  const problems: Problem[] = [];
  let geo: GeoIp | null = null;
  try {
    geo = (deps.geoCache ?? new GeoCache()).open(config.server.geoip.databases);
  } catch (e) {
    problems.push({ pos: posOf(config.server.geoip), message: `geoip: ${(e as Error).message}`, severity: 'error' });
  }
  const pop = popFromConfig(config.server.pop, regionOf);
  if (config.server.pop.country && pop.region === null) {
    problems.push({ pos: posOf(config.server.pop, 'country'), message: `no load-balancer region known for ${config.server.pop.country}; set pop.region`, severity: 'warning' });
  }
  problems.push(...sharedHealthProblems(config, { popRegion: pop.region, isValidRegion, codes: REGION_CODES }));
  const health: HealthView = deps.store ? new StoreHealthView(deps.store, config, deps.hostnames) : new AssumeUpHealthView(config, deps.hostnames);
  const lb = yield* compileLoadBalancersSliced(config, { pop, geo, health, hostnames: deps.hostnames, stats: deps.lbStats ?? new LbStatsRegistry() });
  problems.push(...lb.problems);
  const zones = yield* compileZonesSliced(config, lb.bindings);
  problems.push(...zones.problems);
  // Keys are read here, with the runtime (files, off the query path); the DNSKEY RRsets join the zone apexes.
  const dnssec = zones.problems.some((p) => p.severity === 'error') ? { dnssec: null, problems: [] } : yield* compileDnssecSliced(config, zones.table);
  problems.push(...dnssec.problems);
  for (const t of deps.checked ? [] : targetProblems(config)) {
    problems.push({ pos: posOf(config.pools.get(t.pool) ?? config.server, 'monitor'), message: t.message, severity: t.severity });
  }
  if (problems.some((p) => p.severity === 'error')) return { runtime: null, problems };

  const hostnames = new Set<string>();
  for (const p of lb.pools.values()) {
    for (const e of p.endpoints) if (e.kind === 'name') hostnames.add(e.config.address);
    yield;
  }

  const runtime: Runtime = {
    config,
    zones: zones.table,
    balancers: lb.balancers,
    pools: lb.pools,
    pop,
    geo,
    health,
    hostnames,
    ednsUdpSize: config.server.edns_udp_size,
    nsid: config.server.nsid === null ? null : Buffer.from(config.server.nsid, 'utf8'),
    identity: identityRData(config.server.identity),
    signer: dnssec.dnssec === null ? null : dnssec.dnssec.signer,
    dnssec: dnssec.dnssec,
    builtAt: Date.now(),
  };
  return { runtime, problems };
}

/** Everything `check` can find without starting the server. */
export async function checkRuntime(config: Config): Promise<Problem[]> {
  const { problems } = buildRuntime(config, { store: null, hostnames: noHostnames });
  const usesIcmp = [...config.monitors.values()].some((m) => m.type === 'icmp_ping' || m.type === 'udp_icmp');
  if (usesIcmp) {
    const { icmpAvailable } = await import('../health/probes/icmp');
    const r = await icmpAvailable();
    if (!r.ok) {
      const m = [...config.monitors.values()].find((x) => x.type === 'icmp_ping' || x.type === 'udp_icmp');
      problems.push({ pos: posOf(m ?? config.server), message: `icmp_ping/udp_icmp monitors cannot run on this host: ${r.detail}`, severity: 'warning' });
    }
  }
  return problems;
}

/**
 * Resolves a hostname endpoint that lives in our own zones from this runtime's data, as a client of this PoP
 * would see it (for the hostname resolver and the monitors). undefined: the name is not in our zones.
 */
export function internalLookup(rt: Runtime): (name: string, family: 4 | 6) => string[] | undefined {
  const client = new ClientInfo('127.0.0.1', null, 'udp');
  return (name, family) => {
    const key = name.toLowerCase().replace(/\.$/, '');
    const found = resolveInternally(rt.zones, key, family, client);
    return found?.map((bytes) => formatIp({ family, bytes }));
  };
}
