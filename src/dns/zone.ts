// Compiling zones into lookup tables: one node per existing name (empty non-terminals included), static
// RRsets with pre-encoded RDATA, delegation points, and the dynamic (load-balanced) names bound in.
import { statSync } from 'node:fs';
import { posOf } from '../config/kit';
import type { Config, Pos, Problem, ZoneConfig } from '../config/types';
import type { DynamicName } from './dynamic';
import { RRType } from './wire/constants';
import { apexTemplate, type RData, type RRset } from './wire/records';
import { isSubdomainKey, labelCountOfKey, nameOf, parentKey, parseName, WireName } from './wire/name';
import { rdataName, rdataSoa } from './wire/rdata';
import { parseRData, recordTypeNamed, STATIC_TYPES, typeName } from './wire/rrtypes';
import { internalized } from '../util/intern';
import { runToEnd, type Sliced } from '../util/slices';

export class ZoneNode {
  /** Static RRsets by type (CNAME included). */
  readonly rrsets = new Map<number, RRset>();
  /** rrsets' CNAME, set by ZoneTable.seal(): every lookup asks for it first. */
  cname: RRset | null = null;
  dynamic: DynamicName | null = null;
  /** NS records below the apex: a delegation point. */
  isCut = false;
  /** The nearest delegation point strictly above this node (names under a cut are glue, not authoritative). */
  cutAbove: ZoneNode | null = null;
  /** The "*" child, if any (RFC 4592 source of synthesis). */
  wildcard: ZoneNode | null = null;

  constructor(readonly name: WireName) {}

  get isEmptyNonTerminal(): boolean {
    return this.rrsets.size === 0 && this.dynamic === null;
  }
}

export class Zone {
  readonly nodes = new Map<string, ZoneNode>();
  constructor(
    readonly origin: WireName,
    readonly apex: ZoneNode,
    /** SOA as served for QTYPE SOA. */
    readonly soa: RRset,
    /** SOA for negative answers: TTL = min(SOA TTL, minimum) (RFC 2308 §5). */
    readonly negativeSoa: RRset,
    readonly nsSet: RRset,
  ) {
    this.nodes.set(origin.key, apex);
  }
}

/** A name that exists in a zone, with that zone. */
export interface ZoneEntry {
  zone: Zone;
  node: ZoneNode;
}

export class ZoneTable {
  readonly zones = new Map<string, Zone>();
  /**
   * Every existing name, with the zone find() picks for it (with nested zones the deepest one; a parent zone's
   * glue under a child zone's origin is not indexed). Most questions are for a name that exists: one lookup
   * instead of the zone search and the zone's own. Built by seal() once the zones are complete.
   */
  private readonly names = new Map<string, ZoneEntry>();
  /** Label counts of the configured zones, deepest first, so lookups try only plausible suffixes. */
  private depths: number[] = [];

  /** With few zones, suffix tests on the key beat slicing it into candidate origins: deepest first. */
  private few: { zone: Zone; key: string; dotted: string }[] | null = [];

  add(zone: Zone): void {
    this.zones.set(zone.origin.key, zone);
    const depth = zone.origin.labelCount;
    if (!this.depths.includes(depth)) this.depths.push(depth);
    this.depths.sort((a, b) => b - a);
    if (this.zones.size > 8) this.few = null;
    else if (this.few) {
      this.few.push({ zone, key: zone.origin.key, dotted: `.${zone.origin.key}` });
      this.few.sort((a, b) => b.zone.origin.labelCount - a.zone.origin.labelCount);
    }
  }

  /** Indexes the names of the finished zones (see `names`). */
  *seal(): Sliced<void> {
    this.names.clear();
    this.parentSides.clear();
    for (const zone of this.zones.values()) {
      for (const [key, node] of zone.nodes) {
        node.cname = node.rrsets.get(RRType.CNAME) ?? null;
        if (this.find(key, labelCountOfKey(key)) === zone) this.names.set(key, { zone, node });
        yield;
      }
      const origin = zone.origin;
      if (origin.key === '') continue;
      const parent = this.find(parentKey(origin.key), origin.labelCount - 1);
      const cut = parent?.nodes.get(origin.key);
      if (parent && cut && cut.isCut) this.parentSides.set(origin.key, { zone: parent, node: cut });
    }
  }

  /**
   * The parent zone's delegation to the zone whose apex is `key`, when both zones are ours: the DS RRset there is
   * the parent's data (RFC 4035 §3.1.4.1), answered from the parent, not from the child's apex.
   */
  parentSide(key: string): ZoneEntry | undefined {
    return this.parentSides.get(key);
  }

  private readonly parentSides = new Map<string, ZoneEntry>();

  /** The zone and node of a name that exists in our zones; undefined for any other name. */
  existing(key: string): ZoneEntry | undefined {
    return this.names.get(key);
  }

  /** The zone that holds `key` (longest matching origin), or null. */
  find(key: string, labels: number): Zone | null {
    const few = this.few;
    if (few !== null) {
      let i = 0;
      for (; i < few.length; i++) {
        const f = few[i];
        if (key === f.key) return f.zone;
        if (!key.endsWith(f.dotted)) continue;
        // A backslash before the dot may escape it (a dot inside a label): the slow path below decides.
        if (key.charCodeAt(key.length - f.dotted.length - 1) === 0x5c) break;
        return f.zone;
      }
      if (i === few.length) return null;
    }
    for (const depth of this.depths) {
      if (depth > labels) continue;
      const suffix = suffixWithLabels(key, labels, depth);
      const z = this.zones.get(suffix);
      if (z) return z;
    }
    return null;
  }
}

/** The last `keep` labels of a key that has `labels` labels. */
export function suffixWithLabels(key: string, labels: number, keep: number): string {
  let k = key;
  for (let i = labels; i > keep; i--) k = parentKey(k);
  return k;
}

export interface Binding {
  /** Lowercase name without trailing dot; may start with "*.". */
  name: string;
  handler: DynamicName;
  /** Query types whose static records at the same name the binding hides (docs/decisions.md §1.3). */
  hides: readonly number[];
  /** Where the binding is configured, for a message (computed only then). */
  pos: () => Pos;
}

export interface ZoneCompileResult {
  table: ZoneTable;
  problems: Problem[];
}

export function compileZones(config: Config, bindings: readonly Binding[]): ZoneCompileResult {
  return runToEnd(compileZonesSliced(config, bindings));
}

/** compileZones, pausable (see util/slices). */
export function* compileZonesSliced(config: Config, bindings: readonly Binding[]): Sliced<ZoneCompileResult> {
  const problems: Problem[] = [];
  const err = (pos: Pos, message: string) => problems.push({ pos, message, severity: 'error' });
  const warn = (pos: Pos, message: string) => problems.push({ pos, message, severity: 'warning' });
  const table = new ZoneTable();
  const serialDefault = defaultSerial(config.file);

  const suffixes = domainSuffixes(config.zones.map((z) => z.name));
  for (const zc of config.zones) {
    const zone = yield* compileZone(zc, serialDefault, err, warn, suffixes);
    if (zone) table.add(zone);
  }

  for (const b of bindings) {
    yield;
    const key = b.name;
    const zone = table.find(key, labelCountOfKey(key));
    if (!zone) {
      err(b.pos(), `"${key}" is not inside any configured zone`);
      continue;
    }
    // Checked before the node is made: a name created here has no cutAbove yet (that is set in compileZone).
    const cut = delegationAtOrAbove(zone, key);
    if (cut) {
      err(b.pos(), `"${key}" is at or below the delegation point "${cut.name}"; its answers would never be authoritative`);
      continue;
    }
    const node = ensureNode(zone, key);
    if (!node) {
      err(b.pos(), `"${key}" is not a valid name`);
      continue;
    }
    node.dynamic = b.handler;
    for (const t of b.hides) {
      if (node.rrsets.has(t)) {
        warn(b.pos(), `the load balancer "${key}" takes precedence over the static ${typeName(t)} records at that name`);
      }
    }
    if (node.rrsets.has(RRType.CNAME)) {
      warn(b.pos(), `the load balancer "${key}" takes precedence over the static CNAME at that name; the CNAME is not served`);
      node.rrsets.delete(RRType.CNAME);
    }
    for (const t of b.hides) node.rrsets.delete(t);
  }
  yield* table.seal();
  return { table, problems };
}

/** The delegation point at or above `key` inside `zone` (never the apex), or null. */
function delegationAtOrAbove(zone: Zone, key: string): ZoneNode | null {
  for (let k = key; k !== zone.origin.key && k !== ''; k = parentKey(k)) {
    const n = zone.nodes.get(k);
    if (n && n.isCut) return n;
  }
  return null;
}

/** Default SOA serial: the config file's mtime in seconds, so every edit bumps it and instances agree. */
function defaultSerial(file: string): number {
  try {
    return Math.floor(statSync(file).mtimeMs / 1000) >>> 0;
  } catch {
    return Math.floor(Date.now() / 1000) >>> 0;
  }
}

type Report = (pos: Pos, message: string) => void;

/**
 * The zones' names and the domains above them with at least two labels ("lb.example.com" → lb.example.com,
 * example.com): a relative name in the zone that ends in one of them was almost surely meant to be absolute.
 */
function domainSuffixes(zones: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const z of zones) {
    for (let k = z; k.includes('.'); k = parentKey(k)) out.add(k);
  }
  return out;
}

/**
 * For a name completed with the zone's origin: "did you mean" text when the part written ("mail.example.com") ends
 * in a zone's or a parent domain's name, so that it reads as absolute but is not (RFC 1035 §5.1: a name without a
 * trailing dot is relative to the origin). null when the name looks meant.
 */
function relativeLooksAbsolute(key: string, origin: string, suffixes: ReadonlySet<string>): string | null {
  if (!key.endsWith(`.${origin}`)) return null;
  const written = key.slice(0, key.length - origin.length - 1);
  for (let k = written; k.includes('.'); k = parentKey(k)) {
    if (suffixes.has(k)) return written;
  }
  return null;
}

function* compileZone(zc: ZoneConfig, serialDefault: number, err: Report, warn: Report, suffixes: ReadonlySet<string>): Sliced<Zone | null> {
  const origin = nameOf(zc.name);
  // SOA and NS names in the zone block are always absolute (a trailing dot is optional there).
  const absolute = (t: string) => parseName(t.endsWith('.') ? t : `${t}.`);
  const mname = absolute(zc.soa.mname);
  const rname = absolute(zc.soa.rname.includes('@') ? zc.soa.rname.replace('@', '.') : zc.soa.rname);
  if (typeof mname === 'string') { err(posOf(zc.soa, 'mname'), `soa.mname: ${mname}`); return null; }
  if (typeof rname === 'string') { err(posOf(zc.soa, 'rname'), `soa.rname: ${rname}`); return null; }
  const s = zc.soa;
  const soaData = rdataSoa(mname, rname, s.serial ?? serialDefault, s.refresh, s.retry, s.expire, s.minimum);
  const soa: RRset = { owner: origin, type: RRType.SOA, ttl: s.ttl, rdata: [soaData] };
  const negativeSoa: RRset = { owner: origin, type: RRType.SOA, ttl: Math.min(s.ttl, s.minimum), rdata: [soaData] };
  soa.template = apexTemplate(soa, origin);
  negativeSoa.template = apexTemplate(negativeSoa, origin);

  const nsData: RData[] = [];
  zc.ns.forEach((n, i) => {
    const target = absolute(n);
    if (typeof target === 'string') err(posOf(zc.ns, i), target);
    else nsData.push(rdataName(target));
  });
  const apex = new ZoneNode(origin);
  const nsSet: RRset = { owner: origin, type: RRType.NS, ttl: zc.default_ttl, rdata: nsData };
  const zone = new Zone(origin, apex, soa, negativeSoa, nsSet);
  apex.rrsets.set(RRType.SOA, soa);
  apex.rrsets.set(RRType.NS, nsSet);

  // Group values by (name, type) into RRsets; TTLs within an RRset must agree (RFC 2181 §5.2): the lowest wins.
  const sets = new Map<string, { node: ZoneNode; type: number; ttl: number; rdata: RData[]; pos: () => Pos }>();
  for (const rec of zc.records) {
    yield;
    // Positions only for a message (turning an offset into line:col indexes the file's lines on first use).
    const at = (): Pos => posOf(rec, 'name');
    const ownerText = rec.name;
    const owner = parseName(ownerText, origin);
    if (typeof owner === 'string') { err(at(), owner); continue; }
    const meant = relativeLooksAbsolute(owner.key, origin.key, suffixes);
    if (meant !== null) {
      warn(at(), `"${rec.name}" is relative to the zone, so it names ${owner.key}. (did you mean "${meant}."?)`);
    }
    if (!isSubdomainKey(owner.key, origin.key)) {
      err(at(), `"${rec.name}" is outside the zone "${zc.name}" (names are relative to the zone unless they end with ".")`);
      continue;
    }
    if (owner.key.includes('*') && !owner.key.startsWith('*.')) {
      err(at(), `"${rec.name}": a wildcard must be the first label`);
      continue;
    }
    const known = recordTypeNamed(rec.type);
    if (!known || !known.parse) {
      err(posOf(rec, 'type'), `unsupported record type "${rec.type}" (supported: ${STATIC_TYPES.join(', ')})`);
      continue;
    }
    const type = known.code;
    if (type === RRType.NS && owner.key === origin.key) {
      err(posOf(rec, 'type'), 'apex NS records come from the zone\'s "ns" list');
      continue;
    }
    if (type === RRType.NS && owner.key.startsWith('*.')) {
      err(posOf(rec, 'type'), 'a wildcard cannot be a delegation point (RFC 4592 §4.2)');
      continue;
    }
    const node = ensureNode(zone, owner.key, owner);
    if (!node) { err(at(), `"${rec.name}" is not a valid name`); continue; }
    const ttl = rec.ttl ?? zc.default_ttl;
    const setKey = `${owner.key}|${type}`;
    let set = sets.get(setKey);
    if (!set) {
      set = { node, type, ttl, rdata: [], pos: at };
      sets.set(setKey, set);
    } else if (set.ttl !== ttl) {
      warn(at(), `records of one RRset (${rec.name} ${rec.type}) have different TTLs; using the lowest`);
      set.ttl = Math.min(set.ttl, ttl);
    }
    const rrset = set;
    rec.values.forEach((v, i) => {
      const rd = parseRData(type, v, origin);
      if (typeof rd === 'string') {
        err(posOf(rec.values, i), `${rec.type} ${rec.name}: ${rd}`);
        return;
      }
      rrset.rdata.push(rd);
      for (const n of [rd.name, rd.name2]) {
        const meant = n ? relativeLooksAbsolute(n.key, origin.key, suffixes) : null;
        if (n && meant !== null) {
          warn(posOf(rec.values, i), `${rec.type} ${rec.name}: "${meant}" is relative to the zone, so it names ${n.key}. (did you mean "${meant}."?)`);
        }
      }
    });
  }

  for (const set of sets.values()) {
    if (set.rdata.length === 0) continue;
    if (set.type === RRType.CNAME && set.rdata.length > 1) {
      err(set.pos(), `${set.node.name} has more than one CNAME`);
      continue;
    }
    set.node.rrsets.set(set.type, { owner: set.node.name, type: set.type, ttl: set.ttl, rdata: dedupe(set.rdata) });
  }

  // CNAME and other data cannot share a name (RFC 1034 §3.6.2).
  for (const node of zone.nodes.values()) {
    yield;
    if (node.rrsets.has(RRType.CNAME) && node.rrsets.size > 1) {
      const s = sets.get(`${node.name.key}|${RRType.CNAME}`);
      err(s ? s.pos() : { file: '?', line: 0, col: 0 }, `${node.name} has a CNAME and other records; a CNAME must be alone at its name`);
    }
    if (node !== apex && node.rrsets.has(RRType.NS)) node.isCut = true;
    // A DS RRset lives on the parent side of a delegation (RFC 4034 §5, RFC 4035 §2.4): only at a cut.
    if (node.rrsets.has(RRType.DS) && !node.isCut) {
      const s = sets.get(`${node.name.key}|${RRType.DS}`);
      err(s ? s.pos() : { file: '?', line: 0, col: 0 }, `${node.name} has DS records but no NS records: DS belongs at a delegation point below the apex`);
    }
  }
  // Names under a delegation point are glue: remember the cut for referrals.
  for (const node of zone.nodes.values()) {
    yield;
    let k = node.name.key;
    while (k !== origin.key && k !== '') {
      k = parentKey(k);
      const up = zone.nodes.get(k);
      if (up && up.isCut && up !== node) {
        node.cutAbove = up;
        break;
      }
    }
  }
  return zone;
}

function dedupe(rdata: RData[]): RData[] {
  const seen = new Set<string>();
  const out: RData[] = [];
  for (const r of rdata) {
    const k = `${r.head.toString('hex')}|${r.name?.key ?? ''}|${r.name2?.key ?? ''}|${r.tail?.toString('hex') ?? ''}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push(r);
    }
  }
  return out;
}

/** Gets or creates the node for `key` and the empty non-terminals between it and the apex. */
function ensureNode(zone: Zone, key: string, name?: WireName): ZoneNode | null {
  const existing = zone.nodes.get(key);
  if (existing) return existing;
  let wire: WireName;
  if (name) wire = name;
  else {
    const parsed = parseName(`${key}.`);
    if (typeof parsed === 'string') return null;
    wire = parsed;
  }
  const node = new ZoneNode(wire);
  // wire.key is internalized; so is the Map key then, which query-path look-ups compare by pointer.
  zone.nodes.set(wire.key === key ? wire.key : internalized(key), node);
  const parent = parentKey(key);
  // The parent's WireName is made only when the parent is new (most names share theirs).
  const up = zone.nodes.get(parent) ?? ensureNode(zone, parent, wire.key === key ? suffixName(wire) : undefined);
  if (up && key.startsWith('*.')) up.wildcard = node;
  return node;
}

/** The parent of a WireName, keeping the configured case. */
function suffixName(n: WireName): WireName | undefined {
  if (n.suffixKeys.length < 2) return undefined;
  return new WireName(n.suffixKeys[1], n.wire.subarray(n.suffixOffsets[1]));
}
