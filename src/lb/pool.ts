// Pools and endpoints as the query path sees them: endpoint RDATA prepared once (when the endpoint first enters its
// pool's eligible sets), and per-pool lists of eligible endpoints per query type, re-derived only when health or
// hostname resolution changes.
import type { OriginConfig, PoolConfig } from '../config/types';
import { RRType } from '../dns/wire/constants';
import type { RData } from '../dns/wire/records';
import { nameOf, WireName } from '../dns/wire/name';
import { rdataA, rdataMx, rdataSrv } from '../dns/wire/rdata';
import { fmix32, parseIp, type IpAddr } from '../util/ip';
import { REGION_COUNT } from './stats';
import type { HealthView, HostnameView } from './views';

export type EndpointKind = 'v4' | 'v6' | 'name';

export class Endpoint {
  readonly kind: EndpointKind;
  /**
   * A or AAAA RDATA for address endpoints, made by prepare() when the endpoint first enters its pool's eligible sets
   * (null before, and always for a hostname endpoint): an RDATA is four objects, and a config of 50,000 endpoints made
   * all of them at every load (and `check`), most for endpoints not answered with for a long while, if ever. Every
   * reader takes endpoints from those sets (Pool.eligibleFor), so the query path reads a plain field.
   */
  rdata: RData | null = null;
  /** Hostname endpoints: the name (target of MX/SRV answers; resolved in the background for A/AAAA). */
  readonly target: WireName | null;
  readonly mx: RData | null;
  /** Null when the endpoint has no port (it cannot be an SRV target). */
  readonly srv: RData | null;
  /** Per-endpoint constant mixed into rendezvous hashing. */
  readonly seed: number;
  /** Where this endpoint's answer cells start in its LB × pool block (stats.ts CellBlock: slot 1 + index). */
  readonly cellOffset: number;

  constructor(
    readonly config: OriginConfig,
    /** Position in the pool's `origins` list (health is reported in that order). */
    readonly index: number,
  ) {
    const ip = parseIp(config.address);
    if (ip) {
      this.kind = ip.family === 4 ? 'v4' : 'v6';
      this.target = null;
      this.mx = null;
      this.srv = null;
    } else {
      this.kind = 'name';
      this.target = nameOf(`${config.address}.`);
      this.mx = rdataMx(config.priority, this.target);
      this.srv = config.port === null ? null : rdataSrv(config.priority, srvWeight(config.weight), config.port, this.target);
    }
    let h = 0x9e3779b9;
    for (let i = 0; i < config.name.length; i++) h = fmix32(h ^ config.name.charCodeAt(i));
    for (let i = 0; i < config.address.length; i++) h = fmix32(h ^ config.address.charCodeAt(i));
    this.seed = h;
    this.cellOffset = REGION_COUNT * (1 + index);
  }

  /** Makes `rdata` for an address endpoint, once. */
  prepare(): void {
    if (this.rdata === null && this.kind !== 'name') this.rdata = rdataA((parseIp(this.config.address) as IpAddr).bytes);
  }

  get name(): string {
    return this.config.name;
  }

  get weight(): number {
    return this.config.weight;
  }
}

/** SRV weight from an endpoint weight (Cloudflare weights are 0–1): × 100, capped to 16 bits. */
export function srvWeight(weight: number): number {
  return Math.min(65535, Math.round(weight * 100));
}

interface EligibleSets {
  A: Endpoint[];
  AAAA: Endpoint[];
  MX: Endpoint[];
  SRV: Endpoint[];
}

function emptySets(): EligibleSets {
  return { A: [], AAAA: [], MX: [], SRV: [] };
}

/** What a pool answers before its first refresh(): nothing. Never written to (refresh() replaces it first). */
const NO_SETS: EligibleSets = emptySets();

export class Pool {
  readonly name: string;
  /** Enabled endpoints in config order. */
  readonly endpoints: Endpoint[];
  /** All enabled endpoints share one weight: answers carry every eligible endpoint (https://developers.cloudflare.com/reference-architecture/architectures/load-balancing/). */
  readonly equalWeights: boolean;
  readonly hasHostnames: boolean;

  private seenHealth = -1;
  private seenHostnames = -1;
  /** Healthy ≥ minimum_origins (an unmonitored pool counts every enabled endpoint). */
  private healthy = false;
  private healthyCount = 0;
  // Empty (shared) until the first refresh(): a config of 10,000 pools that answer nothing yet made 100,000 objects.
  private eligible: EligibleSets = NO_SETS;
  /** Health ignored (the fallback pool). */
  private any: EligibleSets = NO_SETS;
  /** Rotation of multi-endpoint answers. */
  rotation = 0;
  /** Mixed into the client hash for IP-hash load shedding, so pools shed independent slices. */
  readonly shedSeed: number;

  constructor(readonly config: PoolConfig) {
    this.name = config.name;
    let h = 0x5bd1e995;
    for (let i = 0; i < config.name.length; i++) h = fmix32(h ^ config.name.charCodeAt(i));
    this.shedSeed = h;
    this.endpoints = config.origins.map((o, i) => new Endpoint(o, i)).filter((e) => e.config.enabled);
    const w = this.endpoints.length ? this.endpoints[0].weight : 0;
    this.equalWeights = this.endpoints.every((e) => e.weight === w);
    this.hasHostnames = this.endpoints.some((e) => e.kind === 'name');
  }

  get enabled(): boolean {
    return this.config.enabled;
  }

  /** Re-derives eligibility when health or hostname data changed since the last call. Cheap otherwise. */
  refresh(health: HealthView, hostnames: HostnameView): void {
    if (this.seenHealth === health.version && this.seenHostnames === hostnames.version) return;
    this.seenHealth = health.version;
    this.seenHostnames = hostnames.version;
    const judged = health.pool(this.config);
    if (this.eligible === NO_SETS) {
      this.eligible = emptySets();
      this.any = emptySets();
    }
    const sets = this.eligible;
    const any = this.any;
    for (const k of ['A', 'AAAA', 'MX', 'SRV'] as const) {
      sets[k].length = 0;
      any[k].length = 0;
    }
    for (const e of this.endpoints) {
      if (e.weight <= 0) continue; // weight 0 takes an endpoint out of answers (https://developers.cloudflare.com/load-balancing/additional-options/planned-maintenance/)
      e.prepare();
      const v4 = e.kind === 'v4' || (e.kind === 'name' && hostnames.addresses(e.config.address, 4) !== null);
      const v6 = e.kind === 'v6' || (e.kind === 'name' && hostnames.addresses(e.config.address, 6) !== null);
      const add = (target: EligibleSets) => {
        if (v4) target.A.push(e);
        if (v6) target.AAAA.push(e);
        if (e.kind === 'name') {
          target.MX.push(e);
          if (e.srv) target.SRV.push(e);
        }
      };
      add(any);
      if (judged.up[e.index] === true) add(sets);
    }
    this.healthyCount = judged.healthyCount;
    this.healthy = judged.usable;
  }

  /** Healthy enough to receive traffic (health threshold met). Call refresh() first. */
  get isHealthy(): boolean {
    return this.healthy;
  }

  get healthyEndpointCount(): number {
    return this.healthyCount;
  }

  /** Endpoints that may answer `qtype` (healthy ones, or every enabled one when health is ignored). */
  eligibleFor(qtype: number, ignoreHealth: boolean): readonly Endpoint[] {
    const sets = ignoreHealth ? this.any : this.eligible;
    switch (qtype) {
      case RRType.A: return sets.A;
      case RRType.AAAA: return sets.AAAA;
      case RRType.MX: return sets.MX;
      case RRType.SRV: return sets.SRV;
      default: return EMPTY;
    }
  }
}

const EMPTY: readonly Endpoint[] = [];
