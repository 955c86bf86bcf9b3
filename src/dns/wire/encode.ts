// Encoding responses. RDATA is prepared when the config is compiled (records.ts); per query the encoder copies it
// behind owner names that are almost always a 2-byte pointer to the question. Whole RRsets only: when one does
// not fit, it and everything after it is left out and TC is set (RFC 2181 §9); the OPT record always fits.
import { tsigErrorSize, writeTsigError } from '../tsig';
import { EdnsOption, FLAG_AA, FLAG_CD, FLAG_QR, FLAG_RD, FLAG_TC, HEADER_SIZE, RRClass, RRType } from './constants';
import type { Query } from './decode';
import { isSubdomainKey, type WireName } from './name';
import type { Message, RRset, WordBytes } from './records';

export interface EncodeOptions {
  /** Byte budget for the whole message (UDP: negotiated payload size; TCP: 65535). */
  limit: number;
  /** Our advertised EDNS payload size. */
  ednsUdpSize: number;
  /** NSID payload, sent when the query asked for it. */
  nsid: Buffer | null;
  /** Bytes reserved in front of the message (2 for the TCP length prefix). */
  prefix: 0 | 2;
  /** The coarse clock (clock.ts), for the Time Signed of an error TSIG. */
  now: number;
}

// Responses are written straight into a slab and handed out as views of it (no copy); a new slab starts when
// the rest of the current one could not hold a maximal message. Old slabs live as long as a send holds a view.
const SLAB_SIZE = 256 * 1024;

/**
 * Writes responses. One per query context: its slab and compression dictionary are the state of the message
 * being written, so two contexts can encode independently.
 */
export class Encoder {
  private buf = Buffer.allocUnsafe(SLAB_SIZE);
  // The slab's memory, read once: the buffer/byteOffset getters cost as much as creating the view itself.
  private slabMemory = this.buf.buffer;
  private slabOffset = this.buf.byteOffset;
  /** The slab for 16- and 32-bit writes (one access instead of two or four byte stores). */
  private view = new DataView(this.slabMemory, this.slabOffset, SLAB_SIZE);
  private slabUsed = 0;
  // Compression dictionary for the message being written: key → offset (relative to the message start).
  private readonly dictKeys: string[] = [];
  private readonly dictOffs: number[] = [];
  private dictLen = 0;
  /** Where the message (after any TCP prefix) starts in the slab. */
  private base = 0;
  private pos = 0;
  private readonly questionLabelOffsets: number[] = [];
  private questionIndexed = false;
  private qname = '';
  private qnameLabels = 0;

  /** Whether the last encoded message was truncated (for metrics). */
  truncated = false;

  /** Encodes the response into the slab and returns a view of it (slab bytes are never written twice). */
  encode(q: Query, req: Buffer, msg: Message, opts: EncodeOptions): Uint8Array {
    const limit = Math.max(opts.limit, HEADER_SIZE);
    if (this.slabUsed + limit + opts.prefix > SLAB_SIZE) this.newSlab();
    const view = this.view;
    const start = this.slabUsed;
    const base = start + opts.prefix;
    this.base = base;
    this.pos = base + HEADER_SIZE;
    this.dictLen = 0;
    this.qname = q.qname;
    this.qnameLabels = q.qnameLabels;
    this.questionIndexed = false;

    let flags = FLAG_QR | (q.flags & (0x7800 | FLAG_RD | FLAG_CD));
    if (msg.aa) flags |= FLAG_AA;
    flags |= msg.rcode & 0xf;

    let qd = 0;
    if (q.questionEnd > 0) {
      this.putBytes(req, HEADER_SIZE, q.questionEnd, this.pos);
      this.pos += q.questionEnd - HEADER_SIZE;
      qd = 1;
    }

    const edns = q.edns;
    const cookie = msg.cookie;
    let optSize = 0;
    if (edns) {
      optSize = 11;
      if (edns.nsid && opts.nsid) optSize += 4 + opts.nsid.length;
      if (edns.ecs) optSize += 8 + edns.ecs.octets;
      if (cookie !== null) optSize += 28;
    }
    // The error TSIG, like the OPT record, always fits: it is written after the OPT record, last (RFC 8945 §5.2).
    const tsig = msg.tsigError !== 0 ? q.tsig : null;
    if (tsig !== null) optSize += tsigErrorSize(tsig);
    const end = base + limit - optSize;

    let truncated = false;
    let an = 0;
    let ns = 0;
    let ar = 0;
    for (let i = 0; i < msg.answer.length && !truncated; i++) {
      const n = this.writeRRset(msg.answer.at(i), end);
      if (n < 0) truncated = true;
      else an += n;
    }
    for (let i = 0; i < msg.authority.length && !truncated; i++) {
      const n = this.writeRRset(msg.authority.at(i), end);
      if (n < 0) truncated = true;
      else ns += n;
    }
    for (let i = 0; i < msg.additional.length && !truncated; i++) {
      const n = this.writeRRset(msg.additional.at(i), end);
      if (n < 0) {
        if (msg.additionalRequired) truncated = true;
        break;
      }
      ar += n;
    }
    if (truncated || msg.truncate) flags |= FLAG_TC;
    this.truncated = truncated;

    let pos = this.pos;
    if (edns) {
      // Root owner, TYPE OPT, CLASS = our UDP payload size, TTL = extended RCODE | version 0 | DO.
      view.setUint8(pos, 0);
      view.setUint32(pos + 1, (RRType.OPT << 16) | opts.ednsUdpSize);
      view.setUint32(pos + 5, (((msg.rcode >> 4) & 0xff) << 24) | (edns.dnssecOk ? 0x8000 : 0));
      const rdlenAt = pos + 9;
      pos += 11;
      if (edns.nsid && opts.nsid) {
        view.setUint32(pos, (EdnsOption.NSID << 16) | opts.nsid.length);
        this.putBytes(opts.nsid, 0, opts.nsid.length, pos + 4);
        pos += 4 + opts.nsid.length;
      }
      if (edns.ecs) {
        const e = edns.ecs;
        view.setUint32(pos, (EdnsOption.ECS << 16) | (4 + e.octets));
        view.setUint32(pos + 4, (e.family << 16) | (e.sourcePrefix << 8) | Math.min(msg.ecsScope, e.family === 1 ? 32 : 128));
        this.putBytes(e.address.bytes, 0, e.octets, pos + 8);
        pos += 8 + e.octets;
      }
      if (cookie !== null) {
        view.setUint32(pos, (EdnsOption.COOKIE << 16) | 24);
        view.setInt32(pos + 4, cookie[0]);
        view.setInt32(pos + 8, cookie[1]);
        view.setInt32(pos + 12, cookie[2]);
        view.setInt32(pos + 16, cookie[3]);
        view.setInt32(pos + 20, cookie[4]);
        view.setInt32(pos + 24, cookie[5]);
        pos += 28;
      }
      view.setUint16(rdlenAt, pos - rdlenAt - 2);
      ar += 1;
    }
    if (tsig !== null) {
      pos = writeTsigError(view, pos, req, tsig, q.id, msg.tsigError, opts.now);
      ar += 1;
    }

    view.setUint32(base, (q.id << 16) | flags);
    view.setUint32(base + 4, (qd << 16) | an);
    view.setUint32(base + 8, (ns << 16) | ar);
    if (opts.prefix === 2) view.setUint16(start, pos - base);

    this.pos = pos;
    this.slabUsed = (pos + 7) & ~7;
    // A plain Uint8Array view: Buffer#subarray goes through a derived-class constructor that costs twice as much,
    // and the sockets take any Uint8Array.
    return new Uint8Array(this.slabMemory, this.slabOffset + start, pos - start);
  }

  private newSlab(): void {
    this.buf = Buffer.allocUnsafe(SLAB_SIZE);
    this.slabMemory = this.buf.buffer;
    this.slabOffset = this.buf.byteOffset;
    this.view = new DataView(this.slabMemory, this.slabOffset, SLAB_SIZE);
    this.slabUsed = 0;
  }

  /** Copies prepared bytes to `at`. */
  private putWords(w: WordBytes, at: number): void {
    const view = this.view;
    const words = w.words;
    for (let i = 0; i < words.length; i++) view.setInt32(at + 4 * i, words[i]);
    const rest = w.rest;
    at += 4 * words.length;
    for (let i = 0; i < rest.length; i++) view.setUint8(at + i, rest[i]);
  }

  /** Writes an RRset; returns its record count, or -1 (and writes nothing) when it does not fit before `end`. */
  private writeRRset(set: RRset, end: number): number {
    const view = this.view;
    const t = set.template;
    if (t !== undefined) {
      const apex = this.findSuffix(t.apexKey, t.apexLabels);
      if (apex >= 0 && apex <= 0x3fff) {
        const len = t.bytes.length;
        const pos = this.pos;
        if (pos + len > end) return -1;
        this.putWords(t.words, pos);
        for (let i = 0; i < t.pointers.length; i++) view.setUint16(pos + t.pointers[i], 0xc000 | apex);
        this.pos = pos + len;
        return 1;
      }
    }
    const start = this.pos;
    const dictMark = this.dictLen;
    const klass = set.klass ?? RRClass.IN;
    const rdata = set.rdata;
    for (let i = 0; i < rdata.length; i++) {
      const rd = rdata[i];
      // Owner.
      if (set.owner === null) {
        if (this.pos + 2 > end) return this.rollback(start, dictMark);
        view.setUint16(this.pos, 0xc000 | HEADER_SIZE);
        this.pos += 2;
      } else if (!this.writeName(set.owner, true, end)) {
        return this.rollback(start, dictMark);
      }
      let pos = this.pos;
      if (pos + 10 > end) return this.rollback(start, dictMark);
      view.setUint32(pos, (set.type << 16) | klass);
      view.setUint32(pos + 4, set.ttl);
      const rdlenAt = pos + 8;
      pos += 10;
      const head = rd.headWords;
      if (pos + head.length > end) return this.rollback(start, dictMark);
      this.putWords(head, pos);
      this.pos = pos + head.length;
      if (rd.name && !this.writeName(rd.name, rd.compress, end)) return this.rollback(start, dictMark);
      if (rd.name2 && !this.writeName(rd.name2, rd.compress, end)) return this.rollback(start, dictMark);
      const tail = rd.tailWords;
      if (tail !== null) {
        if (this.pos + tail.length > end) return this.rollback(start, dictMark);
        this.putWords(tail, this.pos);
        this.pos += tail.length;
      }
      view.setUint16(rdlenAt, this.pos - rdlenAt - 2);
    }
    return rdata.length;
  }

  private rollback(start: number, dictMark: number): number {
    this.pos = start;
    this.dictLen = dictMark;
    return -1;
  }

  /** Writes a name, compressed against earlier names when allowed. Returns false if it does not fit. */
  private writeName(n: WireName, compress: boolean, end: number): boolean {
    const labels = n.suffixKeys.length;
    const at = this.pos;
    if (compress) {
      for (let i = 0; i < labels; i++) {
        const target = this.findSuffix(n.suffixKeys[i], labels - i);
        if (target < 0) continue;
        const head = n.suffixOffsets[i];
        if (at + head + 2 > end) return false;
        this.putBytes(n.wire, 0, head, at);
        this.view.setUint16(at + head, 0xc000 | target);
        this.pos = at + head + 2;
        this.remember(n, at, i);
        return true;
      }
    }
    if (at + n.wire.length > end) return false;
    this.putBytes(n.wire, 0, n.wire.length, at);
    this.pos = at + n.wire.length;
    if (compress) this.remember(n, at, labels);
    return true;
  }

  /** Records where the first `count` suffixes of `n` now live, for later pointers. */
  private remember(n: WireName, at: number, count: number): void {
    for (let j = 0; j < count; j++) {
      const off = at - this.base + n.suffixOffsets[j];
      if (off > 0x3fff) return;
      this.dictKeys[this.dictLen] = n.suffixKeys[j];
      this.dictOffs[this.dictLen] = off;
      this.dictLen++;
    }
  }

  /** Offset (from the message start) of a name with this key already in the message, or -1. */
  private findSuffix(key: string, labels: number): number {
    const dictKeys = this.dictKeys;
    for (let i = 0; i < this.dictLen; i++) if (dictKeys[i] === key) return this.dictOffs[i];
    // The question name and its suffixes.
    const qnameLabels = this.qnameLabels;
    if (labels > qnameLabels) return -1;
    if (labels === qnameLabels) return key === this.qname ? HEADER_SIZE : -1;
    // A real label boundary: the dot before the suffix must not be an escaped one ("x.a\\.b.example" does not end
    // in the name "b.example").
    if (!isSubdomainKey(this.qname, key)) return -1;
    if (!this.questionIndexed) this.indexQuestion();
    return this.questionLabelOffsets[qnameLabels - labels] ?? -1;
  }

  private indexQuestion(): void {
    const buf = this.buf;
    const base = this.base;
    let off = base + HEADER_SIZE;
    let n = 0;
    while (buf[off] !== 0 && n < 128) {
      this.questionLabelOffsets[n++] = off - base;
      off += buf[off] + 1;
    }
    this.questionLabelOffsets.length = n;
    this.questionIndexed = true;
  }

  /**
   * Copies bytes into the slab at `at`, four at a time through the DataView. Buffer#copy checks its arguments in
   * JS and makes a view before its native copy: it takes fewer instructions from about 16 bytes on, but stays
   * slower in time up to a few dozen (one more allocation per query), so only long runs take it.
   */
  private putBytes(src: Uint8Array, start: number, end: number, at: number): void {
    if (end - start > 64) {
      this.buf.set(new Uint8Array(src.buffer, src.byteOffset + start, end - start), at);
      return;
    }
    const view = this.view;
    let i = start;
    for (; i + 4 <= end; i += 4, at += 4) view.setUint32(at, (src[i] << 24) | (src[i + 1] << 16) | (src[i + 2] << 8) | src[i + 3]);
    for (; i < end; i++) view.setUint8(at++, src[i]);
  }
}

/** The smallest useful reply when a packet cannot be parsed past its header: FORMERR, no question. */
export function encodeHeaderOnly(id: number, reqFlags: number, rcode: number, prefix: 0 | 2): Buffer {
  const out = Buffer.alloc(HEADER_SIZE + prefix);
  if (prefix) out.writeUInt16BE(HEADER_SIZE, 0);
  out.writeUInt16BE(id, prefix);
  out.writeUInt16BE(FLAG_QR | (reqFlags & (0x7800 | FLAG_RD | FLAG_CD)) | (rcode & 0xf), prefix + 2);
  return out;
}
