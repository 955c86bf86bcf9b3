// Decoding a query: header, the one question, the OPT record with ECS/NSID/COOKIE, and a TSIG record. Purpose-built
// for the hot path (one object, one name string); strict bounds on every read; never throws on any input.
import type { IpAddr } from '../../util/ip';
import { emptyTsig, readTsig, type TsigRecord } from '../tsig';
import { EdnsOption, HEADER_SIZE, RRType } from './constants';
import { readQuestionName, skipName } from './name';

export interface Ecs {
  family: 1 | 2;
  sourcePrefix: number;
  /** As received (RFC 7871 says 0 in queries; anything else is ignored). */
  scopePrefix: number;
  /** Full-width address (4 or 16 bytes), bits past sourcePrefix zero. */
  address: IpAddr;
  /** ADDRESS octets in the option (ceil(sourcePrefix / 8)): the first `octets` bytes of `address` are echoed. */
  octets: number;
}

export interface Edns {
  udpSize: number;
  version: number;
  dnssecOk: boolean;
  nsid: boolean;
  ecs: Ecs | null;
  /**
   * The first COOKIE option (RFC 7873 §5.2: later ones are ignored): offset of its data in the request and its
   * length, 8 (client cookie only) or 16–40 (client and server cookie); 0 when there is none, -1 when it was
   * malformed (FORMERR).
   */
  cookieAt: number;
  cookieLen: number;
  /**
   * The OPT record was well formed but its ECS or COOKIE option was not: the FORMERR still carries our OPT
   * (RFC 6891 §7; RFC 7873 §5.2.2).
   */
  badOption: boolean;
}

/**
 * What the decoder concluded. 'drop': no answer at all (too short for a header, or a response). 'cookie': a QUERY
 * without a question whose OPT carries a COOKIE, asking for a server cookie (RFC 7873 §5.4).
 */
export type DecodeStatus = 'ok' | 'drop' | 'formerr' | 'notimp' | 'cookie';

export interface Query {
  status: DecodeStatus;
  id: number;
  /** Second header word as received (opcode, RD, CD… are copied into the response). */
  flags: number;
  opcode: number;
  /** Offset just past the question; 0 when there is no usable question to echo. */
  questionEnd: number;
  qname: string;
  qnameLabels: number;
  qtype: number;
  qclass: number;
  edns: Edns | null;
  /** The request's TSIG record (RFC 8945), last in the additional section; null when unsigned. */
  tsig: TsigRecord | null;
  /** Why the packet got FORMERR/NOTIMP (for logs and tests). */
  problem: string;
  /**
   * Reused by the next decode into this same Query (a query context decodes into one Query: allocation-light);
   * a Query decoded afresh has its own, so its OPT and ECS stay as they were.
   */
  readonly spares: QuerySpares;
}

/** Objects a Query reuses from one decode to the next: its OPT, ECS and TSIG, and the question name's scratch. */
interface QuerySpares {
  edns: Edns;
  ecs: Ecs;
  tsig: TsigRecord;
  name: { key: string; labels: number };
}

export function emptyQuery(): Query {
  return { status: 'drop', id: 0, flags: 0, opcode: 0, questionEnd: 0, qname: '', qnameLabels: 0, qtype: 0, qclass: 0, edns: null, tsig: null, problem: '', spares: newSpares() };
}

function newSpares(): QuerySpares {
  return {
    edns: { udpSize: 0, version: 0, dnssecOk: false, nsid: false, ecs: null, cookieAt: 0, cookieLen: 0, badOption: false },
    ecs: { family: 1, sourcePrefix: 0, scopePrefix: 0, address: { family: 4, bytes: new Uint8Array(4) }, octets: 0 },
    tsig: emptyTsig(),
    name: { key: '', labels: 0 },
  };
}

/** Big-endian 16 bits; callers have checked the bounds (Buffer#readUInt16BE would check them again). */
function u16(pkt: Buffer, at: number): number {
  return (pkt[at] << 8) | pkt[at + 1];
}

function fail(q: Query, status: DecodeStatus, problem: string): Query {
  q.status = status;
  q.problem = problem;
  return q;
}

export function decodeQuery(pkt: Buffer, q: Query = emptyQuery()): Query {
  const end = pkt.length;
  q.edns = null;
  q.tsig = null;
  q.questionEnd = 0;
  q.problem = '';
  if (end < HEADER_SIZE) return fail(q, 'drop', 'shorter than a header');
  q.id = u16(pkt, 0);
  q.flags = u16(pkt, 2);
  if (q.flags & 0x8000) return fail(q, 'drop', 'a response');
  q.opcode = (q.flags >> 11) & 0xf;
  const qd = u16(pkt, 4);
  const an = u16(pkt, 6);
  const ns = u16(pkt, 8);
  const ar = u16(pkt, 10);

  if (qd !== 1) {
    q.qname = '';
    q.qnameLabels = 0;
    q.qtype = 0;
    q.qclass = 0;
    // RFC 7873 §5.4: a QUERY with no question but a COOKIE option asks for a server cookie (RFC 9619 forbids more
    // than one question, not none). Whether cookies are on is the handler's call.
    if (qd === 0 && q.opcode === 0 && ar > 0 && readRecords(pkt, HEADER_SIZE, end, an + ns, ar, q) === '') {
      const opt = q.edns as Edns | null; // readRecords set it (the assignment above narrowed it to null)
      if (opt !== null && opt.cookieLen > 0) {
        q.tsig = null;
        return fail(q, 'cookie', 'QDCOUNT 0');
      }
    }
    q.edns = null;
    q.tsig = null;
    // RFC 9619: QDCOUNT must be 1 (an opcode we don't implement with no question is NOTIMP all the same).
    return fail(q, q.opcode !== 0 ? 'notimp' : 'formerr', `QDCOUNT ${qd}`);
  }
  const nameOut = q.spares.name;
  let off = readQuestionName(pkt, HEADER_SIZE, end, nameOut);
  if (off < 0 || off + 4 > end) return fail(q, q.opcode !== 0 ? 'notimp' : 'formerr', 'malformed question');
  q.qname = nameOut.key;
  q.qnameLabels = nameOut.labels;
  q.qtype = u16(pkt, off);
  q.qclass = u16(pkt, off + 2);
  off += 4;
  q.questionEnd = off;
  // An opcode we do not implement is NOTIMP whatever follows; the rest is still read for its OPT record, which
  // the response must carry (RFC 6891 §7). A malformed rest just means no OPT.
  const bad: DecodeStatus = q.opcode !== 0 ? 'notimp' : 'formerr';
  const problem = readRecords(pkt, off, end, an + ns, ar, q);
  if (problem) {
    if (bad === 'notimp') q.edns = null;
    q.tsig = null;
    return fail(q, bad, bad === 'notimp' ? `opcode ${q.opcode}` : problem);
  }
  if (bad === 'notimp') return fail(q, 'notimp', `opcode ${q.opcode}`);
  q.status = 'ok';
  return q;
}

/**
 * Skips the answer/authority records and reads the additional section (the OPT record, a TSIG record). Returns a
 * problem or ''.
 */
function readRecords(pkt: Buffer, off: number, end: number, anNs: number, ar: number, q: Query): string {
  // Any structural fault leaves no OPT to answer with; a bad ECS or COOKIE option alone keeps it (Edns.badOption).
  const structural = (problem: string): string => {
    if (q.edns) q.edns.badOption = false;
    return problem;
  };
  // Answer and authority records have no business in a query; skip them if present.
  for (let i = 0; i < anNs; i++) {
    off = skipRecord(pkt, off, end);
    if (off < 0) return structural('malformed record');
  }
  let optionProblem = '';
  for (let i = 0; i < ar; i++) {
    const nameEnd = skipName(pkt, off, end);
    if (nameEnd < 0 || nameEnd + 10 > end) return structural('malformed additional record');
    const type = u16(pkt, nameEnd);
    const rdlen = u16(pkt, nameEnd + 8);
    const rdStart = nameEnd + 10;
    if (rdStart + rdlen > end) return structural('record overruns the packet');
    if (type === RRType.OPT) {
      if (q.edns !== null) return structural('more than one OPT record');
      if (nameEnd - off !== 1 || pkt[off] !== 0) return structural('OPT owner is not the root');
      const problem = decodeOpt(pkt, nameEnd, rdStart, rdlen, q);
      if (problem && !(q.edns as Edns | null)?.badOption) return structural(problem);
      optionProblem = problem;
    } else if (type === RRType.TSIG) {
      // RFC 8945 §5.2: the TSIG record must be the last record of the additional section (so there is one).
      if (i !== ar - 1) return structural('TSIG is not the last additional record');
      const problem = readTsig(pkt, off, nameEnd, rdStart, rdlen, q.spares.tsig);
      if (problem) return structural(problem);
      q.tsig = q.spares.tsig;
    }
    off = rdStart + rdlen;
  }
  return optionProblem;
}

function skipRecord(pkt: Buffer, off: number, end: number): number {
  const nameEnd = skipName(pkt, off, end);
  if (nameEnd < 0 || nameEnd + 10 > end) return -1;
  const rdEnd = nameEnd + 10 + u16(pkt, nameEnd + 8);
  return rdEnd > end ? -1 : rdEnd;
}

/** Returns a problem description, or '' when the OPT record is well formed. */
function decodeOpt(pkt: Buffer, fixed: number, rd: number, rdlen: number, q: Query): string {
  const spare = q.spares;
  const edns = spare.edns;
  edns.udpSize = u16(pkt, fixed + 2);
  edns.version = pkt[fixed + 5];
  edns.dnssecOk = (pkt[fixed + 6] & 0x80) !== 0;
  edns.nsid = false;
  edns.ecs = null;
  edns.cookieAt = 0;
  edns.cookieLen = 0;
  edns.badOption = false;
  q.edns = edns;
  let ecsProblem = '';
  let cookieProblem = '';
  const end = rd + rdlen;
  let off = rd;
  while (off < end) {
    if (off + 4 > end) return 'truncated EDNS option';
    const code = u16(pkt, off);
    const len = u16(pkt, off + 2);
    const data = off + 4;
    if (data + len > end) return 'EDNS option overruns OPT';
    if (code === EdnsOption.ECS) {
      const r: Ecs | string = edns.ecs !== null || ecsProblem ? 'more than one ECS option' : decodeEcs(pkt, data, len, spare.ecs);
      if (typeof r === 'string') ecsProblem = r;
      else edns.ecs = r;
    } else if (code === EdnsOption.NSID) {
      edns.nsid = true;
    } else if (code === EdnsOption.COOKIE && edns.cookieLen === 0 && !cookieProblem) {
      // Only the first COOKIE option counts (RFC 7873 §5.2).
      // RFC 7873 §5.2.2: a client cookie is 8 bytes, a server cookie 8 to 32; any other length is FORMERR.
      if (len === 8 || (len >= 16 && len <= 40)) {
        edns.cookieAt = data;
        edns.cookieLen = len;
      } else {
        cookieProblem = `COOKIE option of ${len} bytes`;
      }
    }
    // Unknown options are skipped by length.
    off = data + len;
  }
  if (ecsProblem) edns.ecs = null;
  if (cookieProblem) edns.cookieLen = -1;
  const problem = ecsProblem || cookieProblem;
  if (problem) edns.badOption = true;
  return problem;
}

function decodeEcs(pkt: Buffer, off: number, len: number, into: Ecs): Ecs | string {
  if (len < 4) return 'ECS option shorter than 4 bytes';
  const family = u16(pkt, off);
  const source = pkt[off + 2];
  const scope = pkt[off + 3];
  let width: number;
  if (family === 1) width = 4;
  else if (family === 2) width = 16;
  else return `ECS family ${family} is not IPv4 or IPv6`;
  if (source > width * 8) return `ECS source prefix /${source} is too long for the family`;
  const octets = (source + 7) >> 3;
  if (len - 4 !== octets) return `ECS address has ${len - 4} octets, /${source} needs ${octets}`;
  const rem = source & 7;
  if (rem && (pkt[off + 4 + octets - 1] & (0xff >> rem)) !== 0) return 'ECS address has bits set past the source prefix';
  into.family = family as 1 | 2;
  into.sourcePrefix = source;
  into.scopePrefix = scope;
  into.address = ecsAddress(pkt, off + 4, octets, width);
  into.octets = octets;
  return into;
}

// A resolver sends the same few client subnets again and again: their address objects are kept by a hash of the
// bytes and handed out again. They are never written to (a rule input or trace of an earlier query may still
// hold one), so sharing them is safe; a colliding subnet just replaces the slot.
const ECS_SLOTS = 512;
const ecsAddresses: (IpAddr | null)[] = new Array<IpAddr | null>(ECS_SLOTS).fill(null);

function ecsAddress(pkt: Buffer, at: number, octets: number, width: number): IpAddr {
  let h = width;
  for (let i = 0; i < octets; i++) h = Math.imul(h ^ pkt[at + i], 0x01000193);
  const slot = (h ^ (h >>> 15)) & (ECS_SLOTS - 1);
  const cached = ecsAddresses[slot];
  if (cached !== null && cached.bytes.length === width) {
    const b = cached.bytes;
    let i = 0;
    while (i < octets && b[i] === pkt[at + i]) i++;
    if (i === octets) {
      while (i < width && b[i] === 0) i++;
      if (i === width) return cached;
    }
  }
  const bytes = new Uint8Array(width);
  for (let i = 0; i < octets; i++) bytes[i] = pkt[at + i];
  const address: IpAddr = { family: width === 4 ? 4 : 6, bytes };
  ecsAddresses[slot] = address;
  return address;
}
