// One table of the record types steerdns knows, as miekg/dns keeps one: the type code and mnemonic, how a static
// record's RDATA is read from presentation text (zone-file syntax, RFC 1035 §5.1), how wire RDATA is shown (explain),
// and whether queries for it get their own label in the query metrics. A new type is one row here.
import { formatIp, parseIpv4, parseIpv6 } from '../../util/ip';
import { RRType } from './constants';
import { keyOfWire, parseName, type WireName } from './name';
import { parseTxtStrings, rdataA, rdataMx, rdataName, rdataSrv, rdataTxt } from './rdata';
import { RData } from './records';

export interface RecordType {
  readonly code: number;
  readonly name: string;
  /** Reads a static record's value (names relative to `origin` unless absolute). Absent: not a static record type. */
  readonly parse?: (value: string, origin: WireName) => RData | string;
  /** Shows wire RDATA at `off` (length `len`) of a message. Absent: RFC 3597 generic form. */
  readonly present?: (pkt: Buffer, off: number, len: number) => string;
  /** Counted under its own qtype label in steerdns_queries_total (the rest is "other"). */
  readonly metric?: boolean;
}

/** A name inside a message (compression followed), in presentation form with its trailing dot. */
export function readName(pkt: Buffer, off: number): { name: string; end: number } {
  const labels: Buffer[] = [];
  let end = -1;
  let jumps = 0;
  for (;;) {
    const len = pkt[off];
    if (len === undefined) throw new Error('truncated name');
    if ((len & 0xc0) === 0xc0) {
      if (end < 0) end = off + 2;
      off = ((len & 0x3f) << 8) | pkt[off + 1];
      if (++jumps > 64) throw new Error('pointer loop');
      continue;
    }
    if (len === 0) {
      if (end < 0) end = off + 1;
      break;
    }
    labels.push(pkt.subarray(off, off + len + 1));
    off += len + 1;
  }
  const key = keyOfWire(Buffer.concat([...labels, Buffer.from([0])]), 0);
  return { name: key === '' ? '.' : `${key}.`, end };
}

/** The <character-string>s of RDATA, each quoted. */
function charStrings(rd: Buffer): string[] {
  const out: string[] = [];
  let o = 0;
  while (o < rd.length) {
    const l = rd[o];
    out.push(JSON.stringify(rd.subarray(o + 1, o + 1 + l).toString('utf8')));
    o += l + 1;
  }
  return out;
}

function u16(text: string | undefined, what: string): number | string {
  if (text === undefined || !/^\d{1,5}$/.test(text) || Number(text) > 65535) return `${what} must be an integer from 0 to 65535`;
  return Number(text);
}

function fieldsOf(value: string): string[] {
  return value.trim().split(/\s+/);
}

function nameField(t: string | undefined, what: string, origin: WireName): WireName | string {
  if (t === undefined || t === '') return `missing ${what}`;
  const n = parseName(t, origin);
  return typeof n === 'string' ? `${what}: ${n}` : n;
}

/** CNAME, NS, PTR: one domain name, compressible (RFC 3597 §4). */
function oneName(value: string, origin: WireName): RData | string {
  const fields = fieldsOf(value);
  if (fields.length !== 1) return `expected one domain name, got "${value.trim()}"`;
  const n = nameField(fields[0], 'target', origin);
  return typeof n === 'string' ? n : rdataName(n);
}

const presentName = (pkt: Buffer, off: number): string => readName(pkt, off).name;

/** DS digest lengths by digest type: SHA-1 (RFC 4034), SHA-256 (RFC 4509), SHA-384 (RFC 6605). */
const DS_DIGEST_LENGTHS: Record<number, number> = { 1: 20, 2: 32, 4: 48 };

/** RFC 4034 §5.3: key tag, algorithm, digest type, digest in hex (spaces allowed inside it). */
function parseDs(text: string): RData | string {
  const value = text.trim();
  const m = /^(\d{1,5})\s+(\d{1,3})\s+(\d{1,3})\s+([0-9a-fA-F\s]+)$/.exec(value);
  if (!m) return `expected "<key tag> <algorithm> <digest type> <hex digest>", got "${value}"`;
  const tag = u16(m[1], 'key tag');
  if (typeof tag === 'string') return tag;
  const alg = Number(m[2]);
  const digestType = Number(m[3]);
  if (alg > 255 || digestType > 255) return 'algorithm and digest type must be from 0 to 255';
  const hex = m[4].replace(/\s+/g, '');
  if (hex.length % 2 !== 0) return 'the digest has an odd number of hex digits';
  const expected = DS_DIGEST_LENGTHS[digestType];
  if (expected !== undefined && hex.length !== expected * 2) return `a digest of type ${digestType} is ${expected} bytes, got ${hex.length / 2}`;
  const head = Buffer.alloc(4 + hex.length / 2);
  head.writeUInt16BE(tag, 0);
  head[2] = alg;
  head[3] = digestType;
  Buffer.from(hex, 'hex').copy(head, 4);
  return new RData(head);
}

const presentDs = (pkt: Buffer, off: number, len: number): string =>
  `${pkt.readUInt16BE(off)} ${pkt[off + 2]} ${pkt[off + 3]} ${pkt.subarray(off + 4, off + len).toString('hex').toUpperCase()}`;

function parseCaa(text: string): RData | string {
  const value = text.trim();
  const m = /^(\d{1,3})\s+([A-Za-z0-9]+)\s+(.*)$/.exec(value);
  if (!m || Number(m[1]) > 255) return `expected "<flags> <tag> <value>", e.g. 0 issue "letsencrypt.org", got "${value}"`;
  const tag = Buffer.from(m[2].toLowerCase(), 'ascii');
  if (tag.length > 15) return 'CAA tag longer than 15 characters';
  let v = m[3].trim();
  if (v.startsWith('"')) {
    const s = parseTxtStrings(v);
    if (typeof s === 'string') return s;
    v = Buffer.concat(s).toString('utf8');
  }
  return new RData(Buffer.concat([Buffer.from([Number(m[1]), tag.length]), tag, Buffer.from(v, 'utf8')]));
}

export const RECORD_TYPES: readonly RecordType[] = [
  {
    code: RRType.A,
    name: 'A',
    metric: true,
    parse: (v) => {
      const b = parseIpv4(v.trim());
      return b ? rdataA(b) : `"${v.trim()}" is not an IPv4 address`;
    },
    present: (pkt, off, len) => [...pkt.subarray(off, off + len)].join('.'),
  },
  { code: RRType.NS, name: 'NS', metric: true, parse: oneName, present: presentName },
  { code: RRType.CNAME, name: 'CNAME', metric: true, parse: oneName, present: presentName },
  {
    code: RRType.SOA,
    name: 'SOA',
    metric: true,
    present: (pkt, off) => {
      const m = readName(pkt, off);
      const r = readName(pkt, m.end);
      const t = pkt.subarray(r.end, r.end + 20);
      return `${m.name} ${r.name} ${t.readUInt32BE(0)} ${t.readUInt32BE(4)} ${t.readUInt32BE(8)} ${t.readUInt32BE(12)} ${t.readUInt32BE(16)}`;
    },
  },
  { code: RRType.PTR, name: 'PTR', metric: true, parse: oneName, present: presentName },
  { code: RRType.HINFO, name: 'HINFO', present: (pkt, off, len) => charStrings(pkt.subarray(off, off + len)).join(' ') },
  {
    code: RRType.MX,
    name: 'MX',
    metric: true,
    parse: (value, origin) => {
      const fields = fieldsOf(value);
      if (fields.length !== 2) return `expected "<preference> <exchange>", got "${value.trim()}"`;
      const pref = u16(fields[0], 'preference');
      if (typeof pref === 'string') return pref;
      const n = nameField(fields[1], 'exchange', origin);
      return typeof n === 'string' ? n : rdataMx(pref, n);
    },
    present: (pkt, off) => `${pkt.readUInt16BE(off)} ${readName(pkt, off + 2).name}`,
  },
  {
    code: RRType.TXT,
    name: 'TXT',
    metric: true,
    parse: (value) => {
      const strings = parseTxtStrings(value);
      return typeof strings === 'string' ? strings : rdataTxt(strings);
    },
    present: (pkt, off, len) => charStrings(pkt.subarray(off, off + len)).join(' '),
  },
  {
    code: RRType.AAAA,
    name: 'AAAA',
    metric: true,
    parse: (v) => {
      const b = parseIpv6(v.trim());
      return b ? rdataA(b) : `"${v.trim()}" is not an IPv6 address`;
    },
    present: (pkt, off, len) => formatIp({ family: 6, bytes: pkt.subarray(off, off + len) }),
  },
  {
    code: RRType.SRV,
    name: 'SRV',
    metric: true,
    parse: (value, origin) => {
      const fields = fieldsOf(value);
      if (fields.length !== 4) return `expected "<priority> <weight> <port> <target>", got "${value.trim()}"`;
      const nums: number[] = [];
      for (const [i, what] of ['priority', 'weight', 'port'].entries()) {
        const v = u16(fields[i], what);
        if (typeof v === 'string') return v;
        nums.push(v);
      }
      const n = nameField(fields[3], 'target', origin);
      return typeof n === 'string' ? n : rdataSrv(nums[0], nums[1], nums[2], n);
    },
    present: (pkt, off) => `${pkt.readUInt16BE(off)} ${pkt.readUInt16BE(off + 2)} ${pkt.readUInt16BE(off + 4)} ${readName(pkt, off + 6).name}`,
  },
  { code: RRType.OPT, name: 'OPT' },
  { code: RRType.DS, name: 'DS', parse: parseDs, present: presentDs },
  { code: RRType.RRSIG, name: 'RRSIG' },
  { code: RRType.NSEC, name: 'NSEC' },
  { code: RRType.DNSKEY, name: 'DNSKEY' },
  { code: RRType.NXNAME, name: 'NXNAME' },
  { code: 52, name: 'TLSA' },
  { code: 64, name: 'SVCB' },
  { code: 65, name: 'HTTPS', metric: true },
  { code: RRType.IXFR, name: 'IXFR' },
  { code: RRType.AXFR, name: 'AXFR' },
  { code: RRType.TSIG, name: 'TSIG' },
  { code: RRType.ANY, name: 'ANY', metric: true },
  { code: RRType.CAA, name: 'CAA', metric: true, parse: parseCaa },
];

const BY_CODE = new Map<number, RecordType>(RECORD_TYPES.map((t) => [t.code, t]));
const BY_NAME = new Map<string, RecordType>(RECORD_TYPES.map((t) => [t.name, t]));

export function recordType(code: number): RecordType | undefined {
  return BY_CODE.get(code);
}

/** The type with this mnemonic (uppercase), if known. */
export function recordTypeNamed(name: string): RecordType | undefined {
  return BY_NAME.get(name);
}

export function typeName(code: number): string {
  return BY_CODE.get(code)?.name ?? `TYPE${code}`;
}

/** Accepts "AAAA", "aaaa", "28" or "TYPE28". */
export function parseTypeName(text: string): number | null {
  const t = text.toUpperCase();
  const known = BY_NAME.get(t);
  if (known) return known.code;
  const m = /^(?:TYPE)?(\d{1,5})$/.exec(t);
  if (m && Number(m[1]) <= 65535) return Number(m[1]);
  return null;
}

/** Types a static record may have (SOA and the apex NS come from the zone block). */
export const STATIC_TYPES: readonly string[] = RECORD_TYPES.filter((t) => t.parse !== undefined).map((t) => t.name);

/** Parses the value of a static record of type `code`; the RData or an error message. */
export function parseRData(code: number, text: string, origin: WireName): RData | string {
  const t = BY_CODE.get(code);
  return t?.parse ? t.parse(text, origin) : `record type ${typeName(code)} is not supported`;
}

/** Presentation text of wire RDATA (RFC 3597 `\# len hex` for types without a presenter). */
export function presentRData(pkt: Buffer, code: number, off: number, len: number): string {
  const t = BY_CODE.get(code);
  return t?.present ? t.present(pkt, off, len) : `\\# ${len} ${pkt.subarray(off, off + len).toString('hex')}`;
}
