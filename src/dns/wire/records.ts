// The record model: RDATA prepared at config-compile time, RRsets, and the message a query's answer is built in.
// The encoder (encode.ts) writes these to the wire; the authority and the load balancers fill them in.
import { RRClass } from './constants';
import type { WireName } from './name';

// RData identities: every RData gets the next number when it is made (at config compile, or when a hostname
// endpoint resolves), so that an RRset's records can be told apart by integers instead of bytes (the DNSSEC
// signature cache keys on them).
let nextRDataId = 1;

/**
 * One record's data. Most records are opaque bytes (`head`); name-bearing types keep their names apart so
 * they can be compressed where RFC 3597 §4 allows it (NS, CNAME, PTR, MX, SOA — not SRV).
 */
export class RData {
  /** Unique per RData object of this process (records are immutable: the same id means the same bytes). */
  readonly id = nextRDataId++;
  /** RFC 4034 §6.2 canonical RDATA (names lowercased, uncompressed), filled in by the signer on first use. */
  canonical: Buffer | null = null;
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

/** The rest of most prepared byte runs (an A record, a word-aligned name) is empty: one array for them all. */
const NO_REST = new Uint8Array(0);

export function wordBytes(bytes: Uint8Array): WordBytes {
  const n = bytes.length >> 2;
  const words = new Int32Array(n);
  for (let i = 0; i < n; i++) words[i] = (bytes[4 * i] << 24) | (bytes[4 * i + 1] << 16) | (bytes[4 * i + 2] << 8) | bytes[4 * i + 3];
  return { length: bytes.length, words, rest: bytes.length === 4 * n ? NO_REST : Uint8Array.from(bytes.subarray(4 * n)) };
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

  /** Clears and lets go of the RRsets held (they belong to a runtime that may be gone). */
  forget(): void {
    this.items = [];
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

/** The response being built for one query. Each query context keeps one and resets it per query. */
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
  /** COOKIE option data to return (client then server cookie, six big-endian words), or null (RFC 7873). */
  cookie: Int32Array | null = null;
  /** Non-zero: the request's TSIG failed with this TSIG error; an unsigned TSIG carrying it ends the response. */
  tsigError = 0;
  /** Send TC=1 whatever fits (a response slipped by rate limiting: sections empty, "ask again over TCP"). */
  truncate = false;
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

  /** Resets and lets go of every record it held: see QueryContext.forget(). */
  forget(): void {
    this.reset();
    this.answer.forget();
    this.authority.forget();
    this.additional.forget();
    this.computed.length = 0;
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
    this.cookie = null;
    this.tsigError = 0;
    this.truncate = false;
    return this;
  }
}
