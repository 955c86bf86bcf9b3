// DNSSEC for one runtime: the signed zones' keys read from their files (off the query path, when the runtime is
// built), their DNSKEY RRsets at the apex, the signature cache and the signing step; and, while the runtime serves,
// its upkeep: the clock the signatures are dated by, key states as their timing comes due, and signing ahead
// (static RRsets and each pool's likely answers) in slices of a few milliseconds between queries.
import * as path from 'node:path';
import { posOf } from '../config/kit';
import type { Config, Problem, ZoneConfig } from '../config/types';
import { SigningCounter } from '../dns/context';
import { RRType } from '../dns/wire/constants';
import type { WireName } from '../dns/wire/name';
import { rdataA } from '../dns/wire/rdata';
import type { RData } from '../dns/wire/records';
import type { Zone, ZoneTable } from '../dns/zone';
import type { Logger } from '../observe/log';
import { runInSlices, type Sliced } from '../util/slices';
import { OnlineSigner, signInto } from './answer';
import { idHash, SignatureCache } from './cache';
import { canonicalName, signingInput } from './canonical';
import { readZoneKeys } from './keyfile';
import type { ZoneKey } from './keys';
import { signingSettings, ZoneSigner } from './signer';

/** How often the upkeep reads the clock and the key timing. */
const TICK_MS = 1000;

export interface DnssecBuild {
  dnssec: DnssecRuntime | null;
  problems: Problem[];
}

/** The key directory of a zone, resolved against the config file's directory. */
export function keyDirectory(config: Config, zc: ZoneConfig): string {
  const dir = zc.dnssec?.key_directory ?? 'keys';
  return path.isAbsolute(dir) ? dir : path.resolve(path.dirname(config.file), dir);
}

/** Reads the keys of every signed zone and sets up signing; problems carry the zone's `dnssec` position. */
export function* compileDnssecSliced(config: Config, zones: ZoneTable, now = Math.floor(Date.now() / 1000)): Sliced<DnssecBuild> {
  const problems: Problem[] = [];
  const signers = new Map<Zone, ZoneSigner>();
  for (const zc of config.zones) {
    const d = zc.dnssec;
    if (d === null || !d.enabled) continue;
    yield;
    const at = posOf(d);
    const err = (message: string) => problems.push({ pos: at, message, severity: 'error' });
    const warn = (message: string) => problems.push({ pos: at, message, severity: 'warning' });
    const zone = zones.zones.get(zc.name);
    if (!zone) continue; // the zone itself did not compile: already reported
    const dir = keyDirectory(config, zc);
    const loaded = readZoneKeys(dir, zc.name);
    for (const p of loaded.problems) err(`dnssec: ${p}`);
    if (loaded.problems.length > 0) continue;
    if (loaded.keys.length === 0) {
      err(`dnssec: no keys for ${zc.name} in ${dir}; make one with: steerdns dnssec keygen --zone ${zc.name} -c ${config.file}`);
      continue;
    }
    const signer = new ZoneSigner(zone, loaded.keys, d.keys, signingSettings(d));
    const state = signer.evaluate(now);
    if (!signer.canSign) {
      for (const p of state.problems) err(`dnssec: ${p} at ${new Date(now * 1000).toISOString()} (see: steerdns dnssec status -c ${config.file})`);
      continue;
    }
    for (const p of state.problems) warn(`dnssec: ${p}`);
    for (const p of keyWarnings(signer, loaded.keys, d.keys, now)) warn(`dnssec: ${p}`);
    const bad = selfTest(signer, now);
    if (bad !== null) {
      err(`dnssec: ${bad}`);
      continue;
    }
    const maxTtl = maxZoneTtl(zc, config);
    if (maxTtl > signer.settings.refresh) {
      warn(`dnssec: a TTL of ${maxTtl} s is longer than refresh (${signer.settings.refresh} s): caches may hold a signature until shortly before it expires; raise refresh or lower the TTL`);
    }
    // The DNSKEY RRset is served at the apex like a static RRset; its records follow the keys' states.
    zone.apex.rrsets.set(RRType.DNSKEY, signer.dnskeySet);
    signers.set(zone, signer);
  }
  if (signers.size === 0 || problems.some((p) => p.severity === 'error')) return { dnssec: null, problems };
  return { dnssec: new DnssecRuntime(zones, signers, config.server.dnssec.cache_size, now), problems };
}

/** What an operator should hear about a zone's keys at load (and from `check`). */
function keyWarnings(signer: ZoneSigner, keys: readonly ZoneKey[], mode: 'csk' | 'ksk+zsk', now: number): string[] {
  const out: string[] = [];
  const zone = signer.origin.toString();
  for (const k of keys) {
    const t = k.timing;
    const order: [string, number | null][] = [['Publish', t.publish], ['Activate', t.activate], ['Inactive', t.inactive], ['Delete', t.delete]];
    let last: [string, number] | null = null;
    for (const [name, v] of order) {
      if (v === null) continue;
      if (last !== null && v < last[1]) out.push(`key ${k.tag} of ${zone}: ${name} is before ${last[0]}`);
      last = [name, v];
    }
    if (mode === 'csk' && !k.sep && k.isActive(now)) out.push(`key ${k.tag} of ${zone} signs as a CSK but has flags 256 (no SEP): its DS is not listed by "dnssec ds"`);
    // A key that will stop signing needs another of its role to take over by then.
    if (k.isActive(now) && t.inactive !== null) {
      const at = t.inactive;
      const successor = keys.some((o) => o !== k && (mode === 'csk' || o.sep === k.sep) && o.isActive(at));
      if (!successor) out.push(`key ${k.tag} of ${zone} stops signing at ${new Date(at * 1000).toISOString()} and no other key signs from then on (see: steerdns dnssec rollover)`);
    }
  }
  return out;
}

/** Signs and verifies one record with every signing key: a broken key is found at load, not by validators. */
function selfTest(signer: ZoneSigner, now: number): string | null {
  const rd = rdataA(Uint8Array.of(192, 0, 2, 1));
  const owner = canonicalName(signer.origin);
  for (const type of [RRType.A, RRType.DNSKEY]) {
    for (const sig of signer.sign(type, owner, 300, [rd], now)) {
      const h = sig.head;
      const tag = h.readUInt16BE(16);
      const key = signer.keys.find((k) => k.tag === tag && k.algorithm.number === h[2]);
      const fieldsLen = 18 + signer.signerName.length;
      const data = signingInput(h.subarray(0, fieldsLen), owner, type, 300, [rd]);
      if (!key || !key.algorithm.verify(key.publicKey, data, h.subarray(fieldsLen))) return `key ${tag} makes signatures its public key does not verify`;
    }
  }
  return null;
}

/** The longest TTL the zone serves (static records, SOA, DNSKEY, load balancers inside it). */
export function maxZoneTtl(zc: ZoneConfig, config: Config): number {
  let max = Math.max(zc.soa.ttl, zc.default_ttl, zc.dnssec?.dnskey_ttl ?? 0);
  for (const r of zc.records) if (r.ttl !== null && r.ttl > max) max = r.ttl;
  for (const lb of config.load_balancers) {
    if (lb.name !== zc.name && !lb.name.endsWith(`.${zc.name}`)) continue;
    max = Math.max(max, lb.ttl, ...lb.rules.map((r) => r.overrides.ttl ?? 0));
  }
  return max;
}

export interface UpkeepEnv {
  log: Logger;
  /** The data plane's signing counters (SigningCounter). */
  stats: Float64Array;
}

export class DnssecRuntime {
  readonly cache: SignatureCache;
  readonly signer: OnlineSigner;
  private timer: NodeJS.Timeout | null = null;
  private env: UpkeepEnv | null = null;
  /** Bumped on deactivate and on each new signing-ahead run: a run that sees another value stops. */
  private run = 0;

  constructor(
    zones: ZoneTable,
    readonly signers: ReadonlyMap<Zone, ZoneSigner>,
    cacheSize: number,
    now: number,
  ) {
    this.cache = new SignatureCache(cacheSize, now);
    this.signer = new OnlineSigner(zones, signers, this.cache);
  }

  /** Starts the upkeep (this runtime now serves): clock, key states, signing ahead. */
  activate(env: UpkeepEnv): void {
    if (this.timer !== null) return;
    this.env = env;
    this.tick();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    this.signAhead();
  }

  /** Stops the upkeep (another runtime took over, or the server stops). */
  deactivate(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.run++;
  }

  /** Reads the clock and the key timing; a change of keys is logged and signed ahead. */
  tick(now = Math.floor(Date.now() / 1000)): void {
    this.cache.now = now;
    let changed = false;
    for (const zs of this.signers.values()) {
      if (now < zs.nextEventAt) continue; // nothing in its keys' timing is due yet
      const r = zs.evaluate(now);
      if (!r.changed) continue;
      changed = true;
      const s = zs.signers;
      this.env?.log.info('dnssec: keys changed', {
        zone: zs.origin.toString(),
        published: zs.keys.filter((k) => zs.dnskeySet.rdata.includes(k.dnskey)).map((k) => k.tag),
        signing: [...new Set([...s.dnskey, ...s.data])].map((k) => k.tag),
      });
      for (const p of r.problems) this.env?.log.warn(`dnssec: ${p}; the previous keys keep signing`, { zone: zs.origin.toString() });
    }
    if (changed && this.timer !== null) this.signAhead();
  }

  /** Signs ahead in slices between queries (a new run supersedes one in progress). */
  private signAhead(): void {
    const run = ++this.run;
    const env = this.env;
    runInSlices(this.signAheadSliced(run, env ? env.stats : null)).catch((err: unknown) => {
      env?.log.error('dnssec: signing ahead failed', { err: err instanceof Error ? err.message : String(err) });
    });
  }

  /**
   * Every static RRset of the signed zones (but glue and delegation NS, and wildcard owners, which are signed under
   * each name asked), then each load balancer's likely answers — up to 80 % of the cache, as protected entries.
   */
  *signAheadSliced(run: number, stats: Float64Array | null): Sliced<number> {
    const cache = this.cache;
    const limit = Math.floor(cache.capacity * 0.8);
    let made = 0;
    const ahead = (zs: ZoneSigner, owner: WireName, type: number, ttl: number, rdata: readonly RData[]): void => {
      const hash = idHash(rdata);
      const e = cache.find(owner.key, type, ttl, hash, rdata);
      if (e !== null && cache.fresh(e)) return;
      const r = signInto(cache, e, zs, owner.key, canonicalName(owner), type, ttl, hash, rdata, null, true);
      made += r.made;
      if (stats) {
        stats[SigningCounter.Background] += r.made;
        stats[SigningCounter.Evictions] += r.evicted;
      }
    };
    for (const zs of this.signers.values()) {
      const zone = zs.zone;
      ahead(zs, zone.origin, RRType.DNSKEY, zs.dnskeySet.ttl, zs.dnskeySet.rdata);
      ahead(zs, zone.origin, RRType.SOA, zone.negativeSoa.ttl, zone.negativeSoa.rdata);
      for (const node of zone.nodes.values()) {
        if (run !== this.run || cache.size >= limit) return made;
        if (node.cutAbove !== null || node.name.key.startsWith('*.')) continue;
        for (const set of node.rrsets.values()) {
          if (node.isCut && set.type !== RRType.DS) continue;
          ahead(zs, node.name, set.type, set.ttl, set.rdata);
          yield;
        }
        const dynamic = node.dynamic;
        if (dynamic !== null && dynamic.likelyAnswers !== undefined) {
          const likely: [number, number, readonly RData[]][] = [];
          dynamic.likelyAnswers((qtype, ttl, rdata) => likely.push([qtype, ttl, rdata]));
          for (const [qtype, ttl, rdata] of likely) {
            if (run !== this.run || cache.size >= limit) return made;
            ahead(zs, node.name, qtype, ttl, rdata);
            yield;
          }
        }
      }
    }
    return made;
  }
}
