// The signing step of the query path, between the answer and the encoder (handler.ts calls it for DO=1 queries):
// every RRset of a signed zone in the answer, authority and additional sections gets its RRSIG RRset right after it
// (RFC 4035 §3.1.1), negative answers get the compact-denial NSEC (RFC 9824 §3), and referrals the DS, or the NSEC
// proving there is none (RFC 4035 §3.1.4). Signatures come from the cache; a miss signs synchronously.
//
// Load-balanced, wildcard and CNAME-chained answers are signed under the name they are served at, as if it
// existed (RFC 9824 §3.4: with compact denial there is no wildcard proof to give).
import { ProofKind, type Answering } from '../dns/authority';
import { SigningCounter, type QueryContext } from '../dns/context';
import type { AnswerSigner } from '../dns/handler';
import { Rcode, RRType } from '../dns/wire/constants';
import type { Query } from '../dns/wire/decode';
import type { WireName } from '../dns/wire/name';
import type { Message, RData, RRset, Section } from '../dns/wire/records';
import type { Zone, ZoneNode, ZoneTable } from '../dns/zone';
import { idHash, idsOf, SigEntry, type SignatureCache } from './cache';
import { canonicalName, canonicalNameOfKey } from './canonical';
import { nsecRData } from './nsec';
import type { ZoneSigner } from './signer';

/** The signing step's working memory in a query context (QueryContext.signing). */
class SigningScratch {
  /** A section's RRsets while it is rebuilt with their signatures. */
  readonly list: RRset[] = [];
  /** RRSIG and NSEC RRsets handed to the message, reused from one query to the next. */
  private readonly sets: RRset[] = [];
  private used = 0;

  reset(): void {
    this.used = 0;
  }

  take(owner: WireName | null, type: number, ttl: number, rdata: readonly RData[]): RRset {
    let set = this.sets[this.used];
    if (set === undefined) {
      set = { owner, type, ttl, rdata };
      this.sets.push(set);
    } else {
      set.owner = owner;
      set.type = type;
      set.ttl = ttl;
      set.rdata = rdata;
    }
    this.used++;
    return set;
  }
}

function scratchOf(ctx: QueryContext): SigningScratch {
  const s = ctx.signing;
  if (s instanceof SigningScratch) return s;
  const made = new SigningScratch();
  ctx.signing = made;
  return made;
}

/** Types whose presence at a node the NSEC of a NODATA answer lists (besides the static RRsets). */
const DYNAMIC_TYPES: readonly number[] = [RRType.A, RRType.AAAA, RRType.MX, RRType.SRV];

/** The types at `node` for its NSEC, without `qtype` (the type a NODATA answer says is not there). */
export function typesAt(node: ZoneNode, qtype: number): number[] {
  // At a delegation the parent has the NS (and DS) only; anything else there is occluded (RFC 4035 §2.3).
  const types = node.isCut ? [...node.rrsets.keys()].filter((t) => t === RRType.NS || t === RRType.DS) : [...node.rrsets.keys()];
  const dynamic = node.dynamic;
  if (dynamic !== null && !node.isCut) for (const t of DYNAMIC_TYPES) if (dynamic.serves(t) && !types.includes(t)) types.push(t);
  return types.filter((t) => t !== qtype);
}

/** Whether a zone signs an RRset at `key`: not glue below a delegation, nor the delegation's NS (RFC 4035 §2.2). */
function authoritative(zone: Zone, key: string, type: number): boolean {
  const node = zone.nodes.get(key);
  if (node === undefined) return true; // synthesized from a wildcard: never below a delegation
  if (node.cutAbove !== null) return false;
  return !node.isCut || type === RRType.DS;
}

export class OnlineSigner implements AnswerSigner {
  constructor(
    private readonly zones: ZoneTable,
    private readonly signers: ReadonlyMap<Zone, ZoneSigner>,
    readonly cache: SignatureCache,
  ) {}

  sign(ctx: QueryContext, q: Query): void {
    const msg = ctx.msg;
    const rcode = msg.rcode;
    if (rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN) return;
    const s = scratchOf(ctx);
    s.reset();
    const stats = ctx.signingStats;
    const a = ctx.answering;
    this.signSection(msg.answer, q, s, stats);
    const kind = a.proofKind;
    if (kind === ProofKind.Referral) {
      // The delegation's NS and the glue are not signed; the DS is, or the NSEC proving there is none.
      this.referral(a, msg, q, s, stats);
      return;
    }
    this.signSection(msg.authority, q, s, stats);
    if (kind !== ProofKind.None && this.denial(a, msg, q, s, stats) && rcode === Rcode.NXDOMAIN) {
      msg.rcode = Rcode.NOERROR; // RFC 9824 §3.1: the name is said to exist, without the type
    }
    this.signSection(msg.additional, q, s, stats);
  }

  /** Rebuilds a section with each RRset's RRSIG RRset right after it (when its zone is signed). */
  private signSection(section: Section, q: Query, s: SigningScratch, stats: Float64Array): void {
    const n = section.length;
    if (n === 0) return;
    const list = s.list;
    for (let i = 0; i < n; i++) list[i] = section.at(i);
    section.clear();
    for (let i = 0; i < n; i++) {
      const set = list[i];
      section.push(set);
      const sigs = this.signatures(set, q, stats);
      if (sigs !== null) section.push(s.take(set.owner, RRType.RRSIG, set.ttl, sigs));
    }
  }

  /** The RRSIG records of an RRset of the answer, from the cache or signed now; null when it is not to be signed. */
  private signatures(set: RRset, q: Query, stats: Float64Array): readonly RData[] | null {
    const owner = set.owner;
    const key = owner === null ? q.qname : owner.key;
    const rdata = set.rdata;
    const hash = idHash(rdata);
    const cache = this.cache;
    const e = cache.find(key, set.type, set.ttl, hash, rdata);
    if (e !== null && cache.fresh(e)) {
      stats[SigningCounter.Hits]++;
      cache.touch(e);
      return e.sigs;
    }
    stats[SigningCounter.Misses]++;
    const zone = this.zones.find(key, owner === null ? q.qnameLabels : owner.labelCount);
    if (zone === null) return null;
    const zs = this.signers.get(zone);
    if (zs === undefined || !zs.canSign || !authoritative(zone, key, set.type)) return null;
    const signed = signInto(cache, e, zs, key, owner === null ? canonicalNameOfKey(key) : canonicalName(owner), set.type, set.ttl, hash, rdata, null, false);
    stats[SigningCounter.Signatures] += signed.made;
    stats[SigningCounter.Evictions] += signed.evicted;
    return signed.entry.sigs;
  }

  /** Adds the NSEC (and its RRSIG) of a negative answer; false when its zone is not signed. */
  private denial(a: Answering, msg: Message, q: Query, s: SigningScratch, stats: Float64Array): boolean {
    const zone = a.proofZone as Zone;
    const zs = this.signers.get(zone);
    if (zs === undefined || !zs.canSign) return false;
    const name = a.proofName;
    const key = name === null ? q.qname : name.key;
    const kind = a.proofKind;
    const variant = kind === ProofKind.NxDomain ? RRType.NXNAME : kind === ProofKind.Referral ? RRType.DS : q.qtype;
    const ttl = zone.negativeSoa.ttl; // RFC 9077: the NSEC TTL is the negative-caching TTL
    const cache = this.cache;
    let e = cache.find(key, RRType.NSEC, ttl, variant, null);
    if (e !== null && cache.fresh(e)) {
      stats[SigningCounter.Hits]++;
      cache.touch(e);
    } else {
      stats[SigningCounter.Misses]++;
      const owner = name === null ? canonicalNameOfKey(key) : canonicalName(name);
      const node = a.proofNode;
      const covered = e !== null && e.covered !== null ? e.covered : [nsecRData(owner, node === null ? null : typesAt(node, q.qtype))];
      const signed = signInto(cache, e, zs, key, owner, RRType.NSEC, ttl, variant, covered, covered, false);
      stats[SigningCounter.Signatures] += signed.made;
      stats[SigningCounter.Evictions] += signed.evicted;
      e = signed.entry;
    }
    msg.authority.push(s.take(name, RRType.NSEC, ttl, e.covered as readonly RData[]));
    msg.authority.push(s.take(name, RRType.RRSIG, ttl, e.sigs));
    return true;
  }

  private referral(a: Answering, msg: Message, q: Query, s: SigningScratch, stats: Float64Array): void {
    const zs = this.signers.get(a.proofZone as Zone);
    if (zs === undefined || !zs.canSign) return; // an unsigned parent: the referral stays as it is
    const cut = a.proofNode as ZoneNode;
    const ds = cut.rrsets.get(RRType.DS);
    if (ds === undefined) {
      this.denial(a, msg, q, s, stats);
      return;
    }
    msg.authority.push(ds);
    const sigs = this.signatures(ds, q, stats);
    if (sigs !== null) msg.authority.push(s.take(ds.owner, RRType.RRSIG, ds.ttl, sigs));
  }
}

/**
 * Signs an RRset (or a synthesized record set, `covered`) into the cache: a stale entry `e` gets new signatures in
 * place, otherwise a new entry is added. `hash` is the set's id hash, or the variant of a synthesized set.
 */
export function signInto(
  cache: SignatureCache,
  e: SigEntry | null,
  zs: ZoneSigner,
  key: string,
  owner: Buffer,
  type: number,
  ttl: number,
  hash: number,
  rdata: readonly RData[],
  covered: readonly RData[] | null,
  ahead: boolean,
): { entry: SigEntry; made: number; evicted: number } {
  const now = cache.now;
  const sigs = zs.sign(type, owner, ttl, rdata, now);
  // Entries signed together (at load) would all fall due together: spread their refresh over a tenth of the span.
  const span = zs.settings.validity - zs.settings.refresh;
  const refreshAt = zs.refreshAt(now) - Math.floor(Math.random() * (span / 10));
  if (e !== null) {
    e.sigs = sigs;
    e.covered = covered;
    e.epoch = zs.epoch;
    e.refreshAt = refreshAt;
    cache.touch(e);
    return { entry: e, made: sigs.length, evicted: 0 };
  }
  const ids = covered === null ? idsOf(rdata) : [hash];
  const entry = new SigEntry(key, type, ttl, hash, ids, covered, sigs, zs, zs.epoch, refreshAt);
  const evicted = cache.insert(entry, ahead);
  return { entry, made: sigs.length, evicted };
}
