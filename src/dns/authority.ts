// The authoritative answer for one question: which zone, which name (exact, wildcard per RFC 4592, or a
// delegation), static versus load-balanced data, CNAME chains inside our zones, and the negative answers.
import { ClientInfo, DynamicAnswer, DynamicName, newDynamicAnswer } from './dynamic';
import { Rcode, RRType } from './wire/constants';
import { Message, type ComputedRRset, type RData, type RRset } from './wire/records';
import { isSubdomainKey, labelCountOfKey, parentKey, WireName } from './wire/name';
import { rdataTxt } from './wire/rdata';
import { Zone, ZoneNode, ZoneTable } from './zone';

const MAX_CNAME_HOPS = 8;

/** RFC 8482 §4.2: the synthesized HINFO answer to QTYPE ANY. */
const RFC8482_HINFO: RData = rdataTxt([Buffer.from('RFC8482'), Buffer.alloc(0)]);

export const enum ProofKind {
  None = 0,
  NxDomain = 1,
  NoData = 2,
  Referral = 3,
}

interface Found {
  zone: Zone;
  /** The node that answers: exact match, or the wildcard that synthesizes it. */
  node: ZoneNode | null;
  /** A delegation that covers the name (referral), or null. */
  cut: ZoneNode | null;
}

/**
 * One answer in the making: the message, who asked, and the authority's working memory. A query context keeps one
 * and reuses it for every query (nothing here outlives a query).
 */
export class Answering {
  readonly msg: Message;
  readonly client: ClientInfo;
  /** What a dynamic name answered (reused). */
  readonly dyn: DynamicAnswer = newDynamicAnswer();
  /** Names already followed in the current CNAME chain (entries past the current hop are stale). */
  readonly chain: string[] = [];
  readonly found: Found = { zone: null as unknown as Zone, node: null, cut: null };
  /**
   * The name the response is about, for response rate limiting (dns/rrl.ts): the node that answered the question
   * (the wildcard itself for a synthesized answer), the zone for NXDOMAIN (random subdomains share it), the
   * delegation point for a referral. null when no zone answered.
   */
  subject: WireName | null = null;
  /**
   * What a DNSSEC signer must prove about the last answer beyond its RRsets (read by src/dnssec, ignored otherwise):
   * that `proofName` (null: the question name) does not exist in `proofZone` (kind 'nxdomain'), has no data of the
   * type at `proofNode` ('nodata'), or that the delegation at `proofNode` has or lacks a DS ('referral').
   */
  proofKind: ProofKind = ProofKind.None;
  proofZone: Zone | null = null;
  proofNode: ZoneNode | null = null;
  proofName: WireName | null = null;

  constructor(msg: Message, client: ClientInfo) {
    this.msg = msg;
    this.client = client;
  }

  /** Lets go of what the last answer found (zone, node, names, records): see QueryContext.forget(). */
  forget(): void {
    this.found.zone = null as unknown as Zone;
    this.found.node = null;
    this.found.cut = null;
    this.subject = null;
    this.proofKind = ProofKind.None;
    this.proofZone = null;
    this.proofNode = null;
    this.proofName = null;
    this.chain.length = 0;
    this.dyn.rdata = [];
  }
}

/**
 * Asks a dynamic name for its records, straight into a reusable RRset of the message. Returns the set when it
 * has records, null for NODATA. Raises the message's ECS scope to what the answer depended on.
 */
function answerDynamic(a: Answering, dynamic: DynamicName, qtype: number, key: string, owner: WireName | null): ComputedRRset | null {
  const msg = a.msg;
  const dyn = a.dyn;
  const set = msg.computedSet(owner, qtype);
  dyn.rdata = set.rdata;
  dynamic.answer(qtype, key, a.client, dyn);
  if (dyn.ecsScope > msg.ecsScope) msg.ecsScope = dyn.ecsScope;
  if (dyn.status !== 'answer' || dyn.rdata.length === 0) return null;
  set.rdata = dyn.rdata; // the same array, unless the dynamic name replaced it
  set.ttl = dyn.ttl;
  return set;
}

/** Finds the data for `key` inside `zone` into `found`; `exact` is the node at `key` when the caller has it. */
function lookup(found: Found, zone: Zone, key: string, qtype: number, exact: ZoneNode | undefined = zone.nodes.get(key)): Found {
  found.zone = zone;
  found.cut = null;
  if (exact) {
    found.node = exact;
    if (exact.cutAbove) found.cut = exact.cutAbove;
    else if (exact.isCut && qtype !== RRType.DS) found.cut = exact;
    return found;
  }
  // Closest encloser: the longest existing ancestor (empty non-terminals count as existing).
  let k = key;
  let encloser: ZoneNode | undefined;
  do {
    k = parentKey(k);
    encloser = zone.nodes.get(k);
  } while (!encloser && k !== zone.origin.key && k !== '');
  if (!encloser) encloser = zone.apex;
  if (encloser.isCut || encloser.cutAbove) {
    found.cut = encloser.isCut ? encloser : encloser.cutAbove;
    found.node = null;
    return found;
  }
  found.node = encloser.wildcard; // null: NXDOMAIN
  return found;
}

/**
 * Fills `a.msg` with the answer to (qname, qtype) for `a.client`. Returns false when no zone of ours holds the name
 * (the caller answers REFUSED).
 */
export function answerQuestion(a: Answering, zones: ZoneTable, qname: string, qnameLabels: number, qtype: number): boolean {
  const msg = a.msg;
  const chain = a.chain;
  let existing = zones.existing(qname);
  // A DS at a zone cut is the parent's data, also when the child zone is ours as well (RFC 4035 §3.1.4.1).
  if (qtype === RRType.DS && existing !== undefined && existing.node === existing.zone.apex) existing = zones.parentSide(qname) ?? existing;
  let zone = existing !== undefined ? existing.zone : zones.find(qname, qnameLabels);
  a.subject = null;
  a.proofKind = ProofKind.None;
  if (!zone) return false;
  msg.aa = true;
  let key = qname;
  let owner: WireName | null = null; // null: the question name itself
  for (let hop = 0; ; hop++) {
    const f = hop === 0 && existing !== undefined ? lookup(a.found, zone, key, qtype, existing.node) : lookup(a.found, zone, key, qtype);
    if (f.cut) {
      if (hop === 0) {
        a.subject = f.cut.name;
        referral(a, zones, f.cut);
        proof(a, ProofKind.Referral, zone, f.cut, f.cut.name);
      }
      return true; // a CNAME into a delegation: the resolver follows it from here
    }
    const node = f.node;
    if (!node) {
      msg.rcode = Rcode.NXDOMAIN;
      msg.authority.push(zone.negativeSoa);
      a.subject = zone.origin;
      proof(a, ProofKind.NxDomain, zone, null, owner);
      return true;
    }
    if (hop === 0) a.subject = node.name;
    // A CNAME (static; a load balancer at the name hides it) redirects every type but CNAME itself.
    const cname = node.cname;
    if (cname !== null && qtype !== RRType.CNAME) {
      msg.answer.push(owner === null && node.name.key === qname ? cname : withOwner(cname, owner));
      const target = cname.rdata[0].name as WireName;
      if (hop + 1 >= MAX_CNAME_HOPS) return true;
      // A loop: the target was already answered in this chain. Stop rather than repeat RRsets (RFC 1034 §3.6.2
      // "CNAME loops detected"; RFC 2181 §5: no RRset twice in a section).
      chain[hop] = key;
      for (let i = 0; i <= hop; i++) if (chain[i] === target.key) return true;
      const next = zones.find(target.key, target.labelCount);
      if (!next) return true; // outside our zones: the resolver continues
      zone = next;
      key = target.key;
      owner = target;
      continue;
    }
    answerAtNode(a, zone, node, key, owner, qtype);
    additionalFor(a, zones);
    return true;
  }
}

function proof(a: Answering, kind: ProofKind, zone: Zone, node: ZoneNode | null, name: WireName | null): void {
  a.proofKind = kind;
  a.proofZone = zone;
  a.proofNode = node;
  a.proofName = name;
}

/** RRset with another owner (wildcard synthesis, chain steps): a shallow copy. */
function withOwner(set: RRset, owner: WireName | null): RRset {
  return { owner, type: set.type, ttl: set.ttl, rdata: set.rdata };
}

function answerAtNode(a: Answering, zone: Zone, node: ZoneNode, key: string, owner: WireName | null, qtype: number): void {
  const msg = a.msg;
  // Synthesized from a wildcard, or the original name: owner is the name asked, not the node's.
  const renamed = owner !== null || node.name.key !== key;

  if (qtype === RRType.ANY) {
    if (node.isEmptyNonTerminal) {
      msg.authority.push(zone.negativeSoa);
      proof(a, ProofKind.NoData, zone, node, owner);
      return;
    }
    msg.answer.push({ owner, type: RRType.HINFO, ttl: zone.nsSet.ttl, rdata: [RFC8482_HINFO] });
    return;
  }

  const dynamic = node.dynamic;
  if (dynamic && dynamic.serves(qtype)) {
    const set = answerDynamic(a, dynamic, qtype, key, owner);
    if (set) msg.answer.push(set);
    else {
      msg.authority.push(zone.negativeSoa);
      proof(a, ProofKind.NoData, zone, node, owner);
    }
    return;
  }

  const set = node.rrsets.get(qtype);
  if (set) {
    msg.answer.push(renamed ? withOwner(set, owner) : set);
    return;
  }
  msg.authority.push(zone.negativeSoa); // NODATA
  proof(a, ProofKind.NoData, zone, node, owner);
}

function referral(a: Answering, zones: ZoneTable, cut: ZoneNode): void {
  const msg = a.msg;
  msg.aa = false;
  const ns = cut.rrsets.get(RRType.NS);
  if (!ns) return;
  msg.authority.push(ns);
  for (const rd of ns.rdata) {
    if (!rd.name) continue;
    // In-domain glue is required (RFC 9471): when it does not fit, TC. Sibling glue is optional.
    if (isSubdomainKey(rd.name.key, cut.name.key)) msg.additionalRequired = true;
    addAddresses(a, zones, rd.name);
  }
}

/** A/AAAA for the names in NS, MX and SRV answers that live in our zones (RFC 1035 §3.3.9 additional processing). */
function additionalFor(a: Answering, zones: ZoneTable): void {
  const msg = a.msg;
  const n = msg.answer.length;
  for (let i = 0; i < n; i++) {
    const set = msg.answer.at(i);
    if (set.type !== RRType.MX && set.type !== RRType.SRV && set.type !== RRType.NS) continue;
    for (const rd of set.rdata) if (rd.name) addAddresses(a, zones, rd.name);
  }
}

function addAddresses(a: Answering, zones: ZoneTable, target: WireName): void {
  const msg = a.msg;
  const zone = zones.find(target.key, target.labelCount);
  if (!zone) return;
  // Glue below a cut is found by its exact name; other names may be covered by a wildcard.
  const node = zone.nodes.get(target.key) ?? lookup(a.found, zone, target.key, RRType.A).node;
  if (!node) return;
  for (const t of [RRType.A, RRType.AAAA]) {
    if (msg.additional.some((s) => s.type === t && s.owner !== null && s.owner.key === target.key)) continue;
    if (node.dynamic && node.dynamic.serves(t)) {
      // Not the client's question: the load balancer steers for the client but does not count it as a query.
      const client = a.client;
      const wasInternal = client.internal;
      client.internal = true;
      const set = answerDynamic(a, node.dynamic, t, target.key, target);
      client.internal = wasInternal;
      if (set) msg.additional.push(set);
      continue;
    }
    const set = node.rrsets.get(t);
    if (set) msg.additional.push(set.owner === target ? set : withOwner(set, target));
  }
}

/**
 * Addresses of `key` as our own zones answer it (wildcards and CNAME chains included), for hostname endpoints
 * that live in our zones. undefined: not in our zones; []: the name has no such addresses. Not on the query
 * path: it answers in a working memory of its own.
 */
export function resolveInternally(zones: ZoneTable, key: string, family: 4 | 6, client: ClientInfo): Uint8Array[] | undefined {
  const labels = key === '' ? 0 : labelCountOfKey(key);
  if (!zones.find(key, labels)) return undefined;
  const qtype = family === 4 ? RRType.A : RRType.AAAA;
  client.internal = true; // the server's own lookup: not counted as a client query
  const a = new Answering(new Message(), client);
  answerQuestion(a, zones, key, labels, qtype);
  const out: Uint8Array[] = [];
  for (const set of a.msg.answer.toArray()) if (set.type === qtype) for (const rd of set.rdata) out.push(rd.head);
  return out;
}
