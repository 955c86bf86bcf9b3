// Encoding responses. RDATA is prepared when the config is compiled; per query the encoder copies it behind
// owner names that are almost always a 2-byte pointer to the question. Whole RRsets only: when one does not
// fit, it and everything after it is left out and TC is set (RFC 2181 §9); the OPT record always fits.
import { EdnsOption, FLAG_AA, FLAG_CD, FLAG_QR, FLAG_RD, FLAG_TC, HEADER_SIZE, RRClass, RRType } from './constants';
import type { Query } from './decode';
import { isSubdomainKey, type WireName } from './name';

/**
 * One record's data. Most records are opaque bytes (`head`); name-bearing types keep their names apart so
 * they can be compressed where RFC 3597 §4 allows it (NS, CNAME, PTR, MX, SOA — not SRV).
 */
export class RData {
  /** Wire length when written without compression. */
  readonly length: number;
  /** `head` and `tail` as the encoder copies them. */
  readonly headWords: WordBytes;
  readonly tailWords: WordBytes | null;
  constructor(
    readonly head: Buffer,
    readonly name: WireName | null = null,
    readonly name2: WireName | null = null,
    readonly tail: Buffer | null = null,
    readonly compress = false,
  ) {
    this.length = head.length + (name ? name.wire.length : 0) + (name2 ? name2.wire.length : 0) + (tail ? tail.length : 0);
    this.headWords = wordBytes(head);
    this.tailWords = tail ? wordBytes(tail) : null;
  }
}

/**
 * Bytes prepared for copying into a response as big-endian 32-bit words plus the last 0–3 bytes. In V8 every
 * typed-array access costs a dozen instructions (map, bounds and detach checks are not hoisted out of loops),
 * so a 4-byte DataView write is about four times cheaper per byte than a byte loop.
 */
export interface WordBytes {
  readonly length: number;
  readonly words: Int32Array;
  /** The bytes after the last whole word. */
  readonly rest: Uint8Array;
}

export function wordBytes(bytes: Uint8Array): WordBytes {
  const n = bytes.length >> 2;
  const words = new Int32Array(n);
  for (let i = 0; i < n; i++) words[i] = (bytes[4 * i] << 24) | (bytes[4 * i + 1] << 16) | (bytes[4 * i + 2] << 8) | bytes[4 * i + 3];
  return { length: bytes.length, words, rest: Uint8Array.from(bytes.subarray(4 * n)) };
}

export interface RRset {
  /** null: the question name, written as a pointer to it. */
  owner: WireName | null;
  type: number;
  /** Class IN unless set (CH for identity answers). */
  klass?: number;
  ttl: number;
  rdata: readonly RData[];
  /** A one-record RRset pre-encoded around its zone apex (see apexTemplate): written by copying. */
  template?: ApexTemplate;
}

/** An RRset of the current message whose records were computed for this query (see Message.computedSet). */
export interface ComputedRRset extends RRset {
  rdata: RData[];
}

/**
 * A one-record RRset encoded once with every name at or below `apex` ending in a pointer to the apex, whose
 * offset is filled in per response (the apex is nearly always a suffix of the question). The zone SOA of every
 * negative answer is written this way.
 */
export interface ApexTemplate {
  apexKey: string;
  apexLabels: number;
  bytes: Buffer;
  /** `bytes` as the encoder copies them. */
  words: WordBytes;
  /** Offsets in `bytes` of the 2-byte pointers to the apex. */
  pointers: number[];
}

export function apexTemplate(set: RRset, apex: WireName): ApexTemplate | undefined {
  if (set.rdata.length !== 1 || set.owner === null || set.owner.key !== apex.key) return undefined;
  const rd = set.rdata[0];
  const parts: number[] = [];
  const pointers: number[] = [];
  const pushName = (n: WireName, compress: boolean) => {
    const i = compress ? n.suffixKeys.indexOf(apex.key) : -1;
    if (i < 0) {
      parts.push(...n.wire);
      return;
    }
    parts.push(...n.wire.subarray(0, n.suffixOffsets[i]));
    pointers.push(parts.length);
    parts.push(0xc0, 0);
  };
  pointers.push(0);
  parts.push(0xc0, 0);
  const klass = set.klass ?? RRClass.IN;
  parts.push(set.type >> 8, set.type & 0xff, klass >> 8, klass & 0xff);
  const ttl = set.ttl >>> 0;
  parts.push(ttl >>> 24, (ttl >>> 16) & 0xff, (ttl >>> 8) & 0xff, ttl & 0xff, 0, 0);
  const rdStart = parts.length;
  parts.push(...rd.head);
  if (rd.name) pushName(rd.name, rd.compress);
  if (rd.name2) pushName(rd.name2, rd.compress);
  if (rd.tail) parts.push(...rd.tail);
  const rdlen = parts.length - rdStart;
  parts[rdStart - 2] = rdlen >> 8;
  parts[rdStart - 1] = rdlen & 0xff;
  const bytes = Buffer.from(parts);
  return { apexKey: apex.key, apexLabels: apex.labelCount, bytes, words: wordBytes(bytes), pointers };
}

/** The RRsets of one section: a reusable list whose clear() is a counter reset, not an array truncation. */
export class Section {
  private items: RRset[] = [];
  length = 0;

  push(set: RRset): void {
    this.items[this.length++] = set;
  }

  at(i: number): RRset {
    return this.items[i];
  }

  clear(): void {
    this.length = 0;
  }

  some(fn: (set: RRset) => boolean): boolean {
    for (let i = 0; i < this.length; i++) if (fn(this.items[i])) return true;
    return false;
  }

  /** A copy of the RRsets (tests, internal resolution). */
  toArray(): RRset[] {
    return this.items.slice(0, this.length);
  }
}

/** The response being built for one query. One instance is reused: the query path is synchronous. */
export class Message {
  rcode = 0;
  aa = false;
  readonly answer = new Section();
  readonly authority = new Section();
  readonly additional = new Section();
  /** Additional RRsets that must not be dropped silently (referral glue, RFC 9471): TC if they don't fit. */
  additionalRequired = false;
  /** ECS SCOPE PREFIX-LENGTH to return; the answer logic raises it when the answer depended on the ECS address. */
  ecsScope = 0;
  /** RRsets whose records are computed per query (load-balancer answers), reused from one query to the next. */
  private readonly computed: ComputedRRset[] = [];
  private computedUsed = 0;

  /** An RRset with no records yet, for records computed during this query; valid until reset(). */
  computedSet(owner: WireName | null, type: number): ComputedRRset {
    let set = this.computed[this.computedUsed];
    if (set === undefined) {
      set = { owner, type, ttl: 0, rdata: [] };
      this.computed.push(set);
    } else {
      set.owner = owner;
      set.type = type;
      set.ttl = 0;
      // pop() is inlined; assigning length = 0 is a runtime call costing more than the few records held.
      const rdata = set.rdata;
      while (rdata.length > 0) rdata.pop();
    }
    this.computedUsed++;
    return set;
  }

  reset(): this {
    this.computedUsed = 0;
    this.rcode = 0;
    this.aa = false;
    this.answer.clear();
    this.authority.clear();
    this.additional.clear();
    this.additionalRequired = false;
    this.ecsScope = 0;
    return this;
  }
}

export interface EncodeOptions {
  /** Byte budget for the whole message (UDP: negotiated payload size; TCP: 65535). */
  limit: number;
  /** Our advertised EDNS payload size. */
  ednsUdpSize: number;
  /** NSID payload, sent when the query asked for it. */
  nsid: Buffer | null;
  /** Bytes reserved in front of the message (2 for the TCP length prefix). */
  prefix: 0 | 2;
}

// Responses are written straight into a slab and handed out as views of it (no copy); a new slab starts when
// the rest of the current one could not hold a maximal message. Old slabs live as long as a send holds a view.
const SLAB_SIZE = 256 * 1024;
let buf = Buffer.allocUnsafe(SLAB_SIZE);
// The slab's memory, read once: the buffer/byteOffset getters cost as much as creating the view itself.
let slabMemory = buf.buffer;
let slabOffset = buf.byteOffset;
/** The slab for 16- and 32-bit writes (one access instead of two or four byte stores). */
let view = new DataView(slabMemory, slabOffset, SLAB_SIZE);
let slabUsed = 0;
// Compression dictionary for the message being written: key → offset (relative to the message start).
const dictKeys: string[] = [];
const dictOffs: number[] = [];
let dictLen = 0;
/** Where the message (after any TCP prefix) starts in the slab. */
let base = 0;
let pos = 0;
const questionLabelOffsets: number[] = [];
let questionIndexed = false;
let qname = '';
let qnameLabels = 0;

/** Whether the last encoded message was truncated (for metrics). */
export let lastTruncated = false;

/** Big-endian 16 bits (Buffer#writeUInt16BE checks its arguments on every call; DataView access is inlined). */
function put16(at: number, v: number): void {
  view.setUint16(at, v);
}

/** Copies prepared bytes to `at`. */
function putWords(w: WordBytes, at: number): void {
  const words = w.words;
  for (let i = 0; i < words.length; i++) view.setInt32(at + 4 * i, words[i]);
  const rest = w.rest;
  at += 4 * words.length;
  for (let i = 0; i < rest.length; i++) view.setUint8(at + i, rest[i]);
}

/** Encodes the response into the slab and returns a view of it (slab bytes are never written twice). */
export function encodeResponse(q: Query, req: Buffer, msg: Message, opts: EncodeOptions): Uint8Array {
  const limit = Math.max(opts.limit, HEADER_SIZE);
  if (slabUsed + limit + opts.prefix > SLAB_SIZE) {
    buf = Buffer.allocUnsafe(SLAB_SIZE);
    slabMemory = buf.buffer;
    slabOffset = buf.byteOffset;
    view = new DataView(slabMemory, slabOffset, SLAB_SIZE);
    slabUsed = 0;
  }
  const start = slabUsed;
  base = start + opts.prefix;
  pos = base + HEADER_SIZE;
  dictLen = 0;
  qname = q.qname;
  qnameLabels = q.qnameLabels;
  questionIndexed = false;

  let flags = FLAG_QR | (q.flags & (0x7800 | FLAG_RD | FLAG_CD));
  if (msg.aa) flags |= FLAG_AA;
  flags |= msg.rcode & 0xf;

  let qd = 0;
  if (q.questionEnd > 0) {
    putBytes(req, HEADER_SIZE, q.questionEnd, pos);
    pos += q.questionEnd - HEADER_SIZE;
    qd = 1;
  }

  const edns = q.edns;
  let optSize = 0;
  if (edns) {
    optSize = 11;
    if (edns.nsid && opts.nsid) optSize += 4 + opts.nsid.length;
    if (edns.ecs) optSize += 8 + edns.ecs.octets;
  }
  const end = base + limit - optSize;

  let truncated = false;
  let an = 0;
  let ns = 0;
  let ar = 0;
  for (let i = 0; i < msg.answer.length && !truncated; i++) {
    const n = writeRRset(msg.answer.at(i), end);
    if (n < 0) truncated = true;
    else an += n;
  }
  for (let i = 0; i < msg.authority.length && !truncated; i++) {
    const n = writeRRset(msg.authority.at(i), end);
    if (n < 0) truncated = true;
    else ns += n;
  }
  for (let i = 0; i < msg.additional.length && !truncated; i++) {
    const n = writeRRset(msg.additional.at(i), end);
    if (n < 0) {
      if (msg.additionalRequired) truncated = true;
      break;
    }
    ar += n;
  }
  if (truncated) flags |= FLAG_TC;
  lastTruncated = truncated;

  if (edns) {
    // Root owner, TYPE OPT, CLASS = our UDP payload size, TTL = extended RCODE | version 0 | DO.
    view.setUint8(pos, 0);
    view.setUint32(pos + 1, (RRType.OPT << 16) | opts.ednsUdpSize);
    view.setUint32(pos + 5, (((msg.rcode >> 4) & 0xff) << 24) | (edns.dnssecOk ? 0x8000 : 0));
    const rdlenAt = pos + 9;
    pos += 11;
    if (edns.nsid && opts.nsid) {
      view.setUint32(pos, (EdnsOption.NSID << 16) | opts.nsid.length);
      putBytes(opts.nsid, 0, opts.nsid.length, pos + 4);
      pos += 4 + opts.nsid.length;
    }
    if (edns.ecs) {
      const e = edns.ecs;
      view.setUint32(pos, (EdnsOption.ECS << 16) | (4 + e.octets));
      view.setUint32(pos + 4, (e.family << 16) | (e.sourcePrefix << 8) | Math.min(msg.ecsScope, e.family === 1 ? 32 : 128));
      putBytes(e.address.bytes, 0, e.octets, pos + 8);
      pos += 8 + e.octets;
    }
    put16(rdlenAt, pos - rdlenAt - 2);
    ar += 1;
  }

  view.setUint32(base, (q.id << 16) | flags);
  view.setUint32(base + 4, (qd << 16) | an);
  view.setUint32(base + 8, (ns << 16) | ar);
  if (opts.prefix === 2) put16(start, pos - base);

  slabUsed = (pos + 7) & ~7;
  // A plain Uint8Array view: Buffer#subarray goes through a derived-class constructor that costs twice as much,
  // and the sockets take any Uint8Array.
  return new Uint8Array(slabMemory, slabOffset + start, pos - start);
}

/** Writes an RRset; returns its record count, or -1 (and writes nothing) when it does not fit before `end`. */
function writeRRset(set: RRset, end: number): number {
  const t = set.template;
  if (t !== undefined) {
    const apex = findSuffix(t.apexKey, t.apexLabels);
    if (apex >= 0 && apex <= 0x3fff) {
      const len = t.bytes.length;
      if (pos + len > end) return -1;
      putWords(t.words, pos);
      for (let i = 0; i < t.pointers.length; i++) put16(pos + t.pointers[i], 0xc000 | apex);
      pos += len;
      return 1;
    }
  }
  const start = pos;
  const dictMark = dictLen;
  const klass = set.klass ?? RRClass.IN;
  const rdata = set.rdata;
  for (let i = 0; i < rdata.length; i++) {
    const rd = rdata[i];
    // Owner.
    if (set.owner === null) {
      if (pos + 2 > end) return rollback(start, dictMark);
      put16(pos, 0xc000 | HEADER_SIZE);
      pos += 2;
    } else if (!writeName(set.owner, true, end)) {
      return rollback(start, dictMark);
    }
    if (pos + 10 > end) return rollback(start, dictMark);
    view.setUint32(pos, (set.type << 16) | klass);
    view.setUint32(pos + 4, set.ttl);
    const rdlenAt = pos + 8;
    pos += 10;
    const head = rd.headWords;
    if (pos + head.length > end) return rollback(start, dictMark);
    putWords(head, pos);
    pos += head.length;
    if (rd.name && !writeName(rd.name, rd.compress, end)) return rollback(start, dictMark);
    if (rd.name2 && !writeName(rd.name2, rd.compress, end)) return rollback(start, dictMark);
    const tail = rd.tailWords;
    if (tail !== null) {
      if (pos + tail.length > end) return rollback(start, dictMark);
      putWords(tail, pos);
      pos += tail.length;
    }
    put16(rdlenAt, pos - rdlenAt - 2);
  }
  return rdata.length;
}

function rollback(start: number, dictMark: number): number {
  pos = start;
  dictLen = dictMark;
  return -1;
}

/** Writes a name, compressed against earlier names when allowed. Returns false if it does not fit. */
function writeName(n: WireName, compress: boolean, end: number): boolean {
  const labels = n.suffixKeys.length;
  if (compress) {
    for (let i = 0; i < labels; i++) {
      const target = findSuffix(n.suffixKeys[i], labels - i);
      if (target < 0) continue;
      const head = n.suffixOffsets[i];
      if (pos + head + 2 > end) return false;
      const at = pos;
      putBytes(n.wire, 0, head, pos);
      pos += head;
      put16(pos, 0xc000 | target);
      pos += 2;
      remember(n, at, i);
      return true;
    }
  }
  if (pos + n.wire.length > end) return false;
  const at = pos;
  putBytes(n.wire, 0, n.wire.length, pos);
  pos += n.wire.length;
  if (compress) remember(n, at, labels);
  return true;
}

/** Records where the first `count` suffixes of `n` now live, for later pointers. */
function remember(n: WireName, at: number, count: number): void {
  for (let j = 0; j < count; j++) {
    const off = at - base + n.suffixOffsets[j];
    if (off > 0x3fff) return;
    dictKeys[dictLen] = n.suffixKeys[j];
    dictOffs[dictLen] = off;
    dictLen++;
  }
}

/** Offset (from the message start) of a name with this key already in the message, or -1. */
function findSuffix(key: string, labels: number): number {
  for (let i = 0; i < dictLen; i++) if (dictKeys[i] === key) return dictOffs[i];
  // The question name and its suffixes.
  if (labels > qnameLabels) return -1;
  if (labels === qnameLabels) return key === qname ? HEADER_SIZE : -1;
  // A real label boundary: the dot before the suffix must not be an escaped one ("x.a\\.b.example" does not end
  // in the name "b.example").
  if (!isSubdomainKey(qname, key)) return -1;
  if (!questionIndexed) indexQuestion();
  return questionLabelOffsets[qnameLabels - labels] ?? -1;
}

function indexQuestion(): void {
  let off = base + HEADER_SIZE;
  let n = 0;
  while (buf[off] !== 0 && n < 128) {
    questionLabelOffsets[n++] = off - base;
    off += buf[off] + 1;
  }
  questionLabelOffsets.length = n;
  questionIndexed = true;
}

/** The smallest useful reply when a packet cannot be parsed past its header: FORMERR, no question. */
export function encodeHeaderOnly(id: number, reqFlags: number, rcode: number, prefix: 0 | 2): Buffer {
  const out = Buffer.alloc(HEADER_SIZE + prefix);
  if (prefix) out.writeUInt16BE(HEADER_SIZE, 0);
  out.writeUInt16BE(id, prefix);
  out.writeUInt16BE(FLAG_QR | (reqFlags & (0x7800 | FLAG_RD | FLAG_CD)) | (rcode & 0xf), prefix + 2);
  return out;
}

/**
 * Copies bytes into the slab at `at`, four at a time through the DataView. Buffer#copy checks its arguments in
 * JS and makes a view before its native copy: it takes fewer instructions from about 16 bytes on, but stays
 * slower in time up to a few dozen (one more allocation per query), so only long runs take it.
 */
function putBytes(src: Uint8Array, start: number, end: number, at: number): void {
  if (end - start > 64) {
    buf.set(new Uint8Array(src.buffer, src.byteOffset + start, end - start), at);
    return;
  }
  let i = start;
  for (; i + 4 <= end; i += 4, at += 4) view.setUint32(at, (src[i] << 24) | (src[i + 1] << 16) | (src[i + 2] << 8) | src[i + 3]);
  for (; i < end; i++) view.setUint8(at++, src[i]);
}
