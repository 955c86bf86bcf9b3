// Independent decoders as oracles: every response is decoded by dns-packet AND dns2, both results are brought to
// one normalised shape, and the two must agree before a test looks at them. Neither library shares code with
// steerdns, so a compression or length bug in our encoder shows up as a disagreement or a decode error.
import * as dnsPacket from 'dns-packet';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Packet } = require('dns2') as { Packet: { parse(buf: Buffer): Dns2Packet } };

export interface RR {
  /** Owner as on the wire (case kept), without trailing dot. */
  name: string;
  type: string;
  klass: number;
  ttl: number;
  /** Presentation-style RDATA. */
  data: string;
}

export interface Ecs {
  family: number;
  source: number;
  scope: number;
  ip: string;
}

export interface Opt {
  udpSize: number;
  version: number;
  dnssecOk: boolean;
  extendedRcode: number;
  ecs: Ecs | null;
}

export interface Norm {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  cd: boolean;
  /** Full 12-bit RCODE (header + OPT extended bits). */
  rcode: number;
  question: { name: string; type: string; klass: number }[];
  answer: RR[];
  authority: RR[];
  /** Additional records other than OPT. */
  additional: RR[];
  opt: Opt | null;
  /** NSID payload as text (dns-packet only: dns2 does not decode NSID). */
  nsid: string | null;
  raw: Buffer;
}

export const TYPES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 13: 'HINFO', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV',
  41: 'OPT', 43: 'DS', 251: 'IXFR', 252: 'AXFR', 255: 'ANY', 257: 'CAA',
};
const CLASSES: Record<string, number> = { IN: 1, CS: 2, CH: 3, HS: 4, ANY: 255 };
export const RCODES: Record<string, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };

// eslint-disable-next-line @typescript-eslint/no-require-imports
const dpTypes = require('dns-packet/types') as { toType(name: string): number };
/** One spelling for both libraries: our table's name, else TYPEnnn. */
const typeName = (t: number | string): string => {
  const n = typeof t === 'number' ? t : t.startsWith('UNKNOWN_') ? Number(t.slice(8)) : dpTypes.toType(t);
  return TYPES[n] ?? `TYPE${n}`;
};
const classNum = (c: string | undefined): number => (c === undefined ? 1 : CLASSES[c] ?? (c.startsWith('UNKNOWN_') ? Number(c.slice(8)) : -1));
const strip = (n: string): string => (n.endsWith('.') && n.length > 1 ? n.slice(0, -1) : n === '.' ? '' : n);

function charStrings(b: Buffer): string[] {
  const out: string[] = [];
  for (let o = 0; o < b.length; ) {
    const l = b[o];
    out.push(b.subarray(o + 1, o + 1 + l).toString('latin1'));
    o += l + 1;
  }
  return out;
}

// ---- dns-packet ---------------------------------------------------------------------------------------

interface DpRecord {
  name: string;
  type: string;
  class?: string;
  ttl?: number;
  data?: unknown;
  udpPayloadSize?: number;
  extendedRcode?: number;
  ednsVersion?: number;
  flag_do?: boolean;
  options?: { code: number; data?: Buffer; family?: number; sourcePrefixLength?: number; scopePrefixLength?: number; ip?: string }[];
}

interface DpPacket {
  id: number;
  flags: number;
  opcode: string;
  rcode: string;
  flag_qr: boolean;
  flag_aa: boolean;
  flag_tc: boolean;
  flag_rd: boolean;
  flag_ra: boolean;
  flag_cd: boolean;
  questions: { name: string; type: string; class: string }[];
  answers: DpRecord[];
  authorities: DpRecord[];
  additionals: DpRecord[];
}

function dpData(r: DpRecord): string {
  const d = r.data as Record<string, unknown> | string | Buffer | Buffer[];
  switch (r.type) {
    case 'A': case 'AAAA': return d as string;
    case 'NS': case 'CNAME': case 'PTR': return strip(d as string).toLowerCase();
    case 'MX': { const m = d as { preference: number; exchange: string }; return `${m.preference} ${strip(m.exchange).toLowerCase()}`; }
    case 'SRV': { const s = d as { priority: number; weight: number; port: number; target: string }; return `${s.priority} ${s.weight} ${s.port} ${strip(s.target).toLowerCase()}`; }
    case 'TXT': return JSON.stringify((d as Buffer[]).map((b) => b.toString('latin1')));
    case 'CAA': { const c = d as { flags: number; tag: string; value: string }; return `${c.flags} ${c.tag} "${c.value}"`; }
    case 'SOA': {
      const s = d as { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number };
      return `${strip(s.mname).toLowerCase()} ${strip(s.rname).toLowerCase()} ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
    }
    case 'HINFO': { const h = d as { cpu: string; os: string }; return JSON.stringify([h.cpu, h.os]); }
    default: return Buffer.isBuffer(d) ? d.toString('hex') : JSON.stringify(d);
  }
}

function dpRR(r: DpRecord): RR {
  return { name: strip(r.name), type: typeName(r.type), klass: classNum(r.class), ttl: r.ttl ?? 0, data: dpData(r) };
}

function fromDnsPacket(raw: Buffer): Norm {
  const p = dnsPacket.decode(raw) as unknown as DpPacket;
  const optRec = (p.additionals ?? []).find((a) => a.type === 'OPT');
  let opt: Opt | null = null;
  let nsid: string | null = null;
  if (optRec) {
    const ecsOpt = (optRec.options ?? []).find((o) => o.code === 8);
    const nsidOpt = (optRec.options ?? []).find((o) => o.code === 3);
    if (nsidOpt) nsid = (nsidOpt.data ?? Buffer.alloc(0)).toString('utf8');
    opt = {
      udpSize: optRec.udpPayloadSize ?? -1,
      version: optRec.ednsVersion ?? -1,
      dnssecOk: optRec.flag_do === true,
      extendedRcode: optRec.extendedRcode ?? 0,
      ecs: ecsOpt ? { family: ecsOpt.family ?? -1, source: ecsOpt.sourcePrefixLength ?? -1, scope: ecsOpt.scopePrefixLength ?? -1, ip: ecsOpt.ip ?? '' } : null,
    };
  }
  return {
    id: p.id,
    qr: p.flag_qr,
    opcode: (p.flags >> 11) & 0xf,
    aa: p.flag_aa,
    tc: p.flag_tc,
    rd: p.flag_rd,
    ra: p.flag_ra,
    cd: p.flag_cd,
    rcode: ((opt?.extendedRcode ?? 0) << 4) | (p.flags & 0xf),
    question: (p.questions ?? []).map((q) => ({ name: strip(q.name), type: typeName(q.type), klass: classNum(q.class) })),
    answer: (p.answers ?? []).map(dpRR),
    authority: (p.authorities ?? []).map(dpRR),
    additional: (p.additionals ?? []).filter((a) => a.type !== 'OPT').map(dpRR),
    opt,
    nsid,
    raw,
  };
}

// ---- dns2 ---------------------------------------------------------------------------------------------

interface Dns2Record {
  name: string;
  type: number;
  class: number;
  ttl: number;
  [k: string]: unknown;
}

interface Dns2Packet {
  header: { id: number; qr: number; opcode: number; aa: number; tc: number; rd: number; ra: number; cd: number; rcode: number };
  questions: { name: string; type: number; class: number }[];
  answers: Dns2Record[];
  authorities: Dns2Record[];
  additionals: Dns2Record[];
}

function d2Data(r: Dns2Record): string {
  const t = typeName(r.type);
  switch (t) {
    case 'A': case 'AAAA': return r.address as string;
    case 'NS': return strip(r.ns as string).toLowerCase();
    case 'CNAME': case 'PTR': return strip(r.domain as string).toLowerCase();
    case 'MX': return `${r.priority as number} ${strip(r.exchange as string).toLowerCase()}`;
    case 'SRV': return `${r.priority as number} ${r.weight as number} ${r.port as number} ${strip(r.target as string).toLowerCase()}`;
    case 'TXT': {
      const d = r.data as string[] | string;
      return JSON.stringify(Array.isArray(d) ? d : [d]);
    }
    case 'CAA': return `${r.flags as number} ${r.tag as string} "${r.value as string}"`;
    case 'SOA':
      return `${strip(r.primary as string).toLowerCase()} ${strip(r.admin as string).toLowerCase()} ${r.serial as number} ${r.refresh as number} ${r.retry as number} ${r.expiration as number} ${r.minimum as number}`;
    case 'HINFO': return JSON.stringify(charStrings(r.data as Buffer));
    default: return Buffer.isBuffer(r.data) ? (r.data as Buffer).toString('hex') : JSON.stringify(r.data);
  }
}

function d2RR(r: Dns2Record): RR {
  return { name: strip(r.name), type: typeName(r.type), klass: r.class, ttl: r.ttl, data: d2Data(r) };
}

function fromDns2(raw: Buffer): Norm {
  const p = Packet.parse(raw);
  // dns2 3.0.0 (the newest that supports Node 20) drops a record it cannot decode without saying so: compare what
  // it decoded with the header counts.
  const counts = [raw.readUInt16BE(4), raw.readUInt16BE(6), raw.readUInt16BE(8), raw.readUInt16BE(10)];
  const got = [p.questions, p.answers, p.authorities, p.additionals].map((s) => s.length);
  if (counts.join() !== got.join()) throw new Error(`dns2 decoded ${got.join('/')} records, header says ${counts.join('/')}`);
  const optRec = p.additionals.find((a) => a.type === 41);
  let opt: Opt | null = null;
  if (optRec) {
    const ecsOpt = ((optRec.rdata ?? []) as { ednsCode: number; family: number; sourcePrefixLength: number; scopePrefixLength: number; ip: string }[]).find((o) => o.ednsCode === 8);
    opt = {
      udpSize: optRec.class,
      version: optRec.version as number,
      dnssecOk: optRec.doFlag === true,
      extendedRcode: (optRec.extendedRcode as number) ?? 0,
      ecs: ecsOpt ? { family: ecsOpt.family, source: ecsOpt.sourcePrefixLength, scope: ecsOpt.scopePrefixLength, ip: ecsOpt.ip } : null,
    };
  }
  const h = p.header;
  return {
    id: h.id,
    qr: h.qr === 1,
    opcode: h.opcode,
    aa: h.aa === 1,
    tc: h.tc === 1,
    rd: h.rd === 1,
    ra: h.ra === 1,
    cd: h.cd === 1,
    rcode: h.rcode, // dns2 merges the OPT extended bits itself
    question: p.questions.map((q) => ({ name: strip(q.name), type: typeName(q.type), klass: q.class })),
    answer: p.answers.map(d2RR),
    authority: p.authorities.map(d2RR),
    additional: p.additionals.filter((a) => a.type !== 41).map(d2RR),
    opt,
    nsid: null,
    raw,
  };
}

/**
 * Decodes a response with both libraries and checks that they agree (dns2 is skipped when `dns2: false`, e.g.
 * IPv6 ECS /56, which dns2 mis-parses — see peers.md — or an OPT whose NSID option precedes another option, which
 * dns2 3.0.0 cannot step over and so drops the whole OPT). Also checks the header counts against what was decoded.
 */
export function decodeBoth(raw: Buffer, o: { dns2?: boolean } = {}): Norm {
  const a = fromDnsPacket(raw);
  const counts = [raw.readUInt16BE(4), raw.readUInt16BE(6), raw.readUInt16BE(8), raw.readUInt16BE(10)];
  const got = [a.question.length, a.answer.length, a.authority.length, a.additional.length + (a.opt ? 1 : 0)];
  if (counts.join() !== got.join()) throw new Error(`dns-packet decoded ${got.join('/')} records, header says ${counts.join('/')}`);
  if (o.dns2 !== false) {
    const b = fromDns2(raw);
    const strip2 = (n: Norm) => ({ ...n, nsid: null, raw: null });
    expect(strip2(b)).toEqual(strip2(a));
  }
  return a;
}

export function rcodeName(n: Norm): string {
  return Object.keys(RCODES).find((k) => RCODES[k] === n.rcode) ?? (n.rcode === 16 ? 'BADVERS' : String(n.rcode));
}

/** "name type data" lines of a section, lowercased names, sorted: easy to compare as a set. */
export function lines(rrs: RR[]): string[] {
  return rrs.map((r) => `${r.name.toLowerCase()} ${r.type} ${r.data}`).sort();
}

/** Data of records of one type in a section, sorted. */
export function dataOf(rrs: RR[], type: string): string[] {
  return rrs.filter((r) => r.type === type).map((r) => r.data).sort();
}
