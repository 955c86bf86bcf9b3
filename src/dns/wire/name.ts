// Domain names: presentation text ⇄ wire form, and the lowercase key used for lookups.
//
// A key is the lowercase presentation form without the trailing dot ("www.example.com", "" for the root).
// Bytes outside printable ASCII, and "." or "\" inside a label, are written as \DDD / \. so that every
// wire name has exactly one key. Only ASCII letters fold case (RFC 4343).
import { internalized } from '../../util/intern';

// Plain consts exported by name: the compiled module then reads them as locals, not as `exports` properties.
const MAX_NAME_WIRE = 255;
const MAX_LABEL = 63;
export { MAX_LABEL, MAX_NAME_WIRE };

/** A name prepared at config-compile time, ready to be written into responses. */
export class WireName {
  /** Lowercase key of every suffix, longest first (suffixKeys[0] === key), for compression lookups. */
  readonly suffixKeys: string[];
  /** Offset inside `wire` where each suffix starts. */
  readonly suffixOffsets: number[];

  /** Lowercase key (internalized: the query path compares it with question names and Map keys). */
  readonly key: string;
  /** 32-bit hash of the key, computed once: response rate limiting keys its accounts on it (dns/rrl.ts). */
  readonly hash: number;

  constructor(
    key: string,
    /** Uncompressed wire form as configured (case kept), ending in the root label. */
    readonly wire: Buffer,
  ) {
    this.key = internalized(key);
    this.hash = keyHash(this.key);
    let off = 0;
    let k = this.key;
    let n = 0;
    while (wire[off] !== 0) {
      suffixKeys[n] = off === 0 ? this.key : sharedSuffix(k);
      suffixOffsets[n++] = off;
      off += wire[off] + 1;
      const dot = nextDot(k);
      k = dot < 0 ? '' : k.slice(dot + 1);
    }
    // Copied out at their final size (an array grown by push from empty has room for 17).
    this.suffixKeys = suffixKeys.slice(0, n);
    this.suffixOffsets = suffixOffsets.slice(0, n);
    recentSuffixes = this.suffixKeys;
  }

  get labelCount(): number {
    return this.suffixKeys.length;
  }

  toString(): string {
    return this.key === '' ? '.' : `${this.key}.`;
  }
}

/** Where the constructor collects a name's suffixes (a name has at most 127 labels). */
const suffixKeys: string[] = [];
const suffixOffsets: number[] = [];

/** The suffix keys of the last name made: names are mostly made in runs under one zone, so they repeat. */
let recentSuffixes: readonly string[] = [];

/** The internalized string equal to `k`, taken from the last name's suffixes when it is there (a compare, where
 *  internalizing costs a string-table look-up and an array). */
function sharedSuffix(k: string): string {
  for (const r of recentSuffixes) if (r.length === k.length && r === k) return r;
  return internalized(k);
}

/**
 * FNV-1a over the key's characters, cut to 30 bits so that it stays a V8 small integer (passing a larger one to a
 * function allocates); never 0, so that 0 can mean "no name".
 */
function keyHash(key: string): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h &= 0x3fffffff;
  return h === 0 ? 1 : h;
}

/** Index of the first unescaped dot in a key. */
function nextDot(key: string): number {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 0x5c /* \ */) {
      i += isDigit(key.charCodeAt(i + 1)) ? 3 : 1;
    } else if (c === 0x2e) {
      return i;
    }
  }
  return -1;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Parent key ("a.b.c" → "b.c", "c" → ""). */
export function parentKey(key: string): string {
  const dot = nextDot(key);
  return dot < 0 ? '' : key.slice(dot + 1);
}

export function isSubdomainKey(key: string, of: string): boolean {
  if (of === '') return true;
  return key === of || (key.length > of.length && key.endsWith(of) && key.charCodeAt(key.length - of.length - 1) === 0x2e && !escapedDotBefore(key, key.length - of.length - 1));
}

function escapedDotBefore(key: string, dotIndex: number): boolean {
  // Count backslashes right before the dot: an odd count means the dot is escaped.
  let n = 0;
  for (let i = dotIndex - 1; i >= 0 && key.charCodeAt(i) === 0x5c; i--) n++;
  return n % 2 === 1;
}

/** Number of labels in a key. */
export function labelCountOfKey(key: string): number {
  if (key === '') return 0;
  let n = 1;
  // Unescaped dots, as nextDot finds them, without slicing the key.
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 0x5c /* \ */) i += isDigit(key.charCodeAt(i + 1)) ? 3 : 1;
    else if (c === 0x2e) n++;
  }
  return n;
}

/** Where parseName writes a name's labels (grown for a longer text). */
let labelBytes = new Uint8Array(256);
/** The root label: the tail of an absolute name. */
const ROOT_WIRE = Buffer.from([0]);

/**
 * Parses a presentation-format name. Relative names (no trailing dot) are completed with `origin` when given;
 * "@" is the origin itself. Returns an error message on bad syntax.
 */
export function parseName(text: string, origin?: WireName): WireName | string {
  if (text === '@') {
    if (!origin) return '"@" needs a zone origin';
    return origin;
  }
  if (text === '.') return new WireName('', Buffer.from([0]));
  // Absolute when the last dot is a real one: a\. ends in an escaped dot (relative), a\\. in an escaped
  // backslash and then a dot (absolute).
  const absolute = text.endsWith('.') && !escapedDotBefore(text, text.length - 1);
  const body = absolute ? text.slice(0, -1) : text;
  if (body === '') return 'empty name';
  // The labels are written straight into `labelBytes` in wire form (a length byte, then the bytes); a config
  // compiles tens of thousands of names, and an array per label was most of what that allocated.
  if (labelBytes.length < body.length + 1) labelBytes = new Uint8Array(body.length + 1);
  const buf = labelBytes;
  let lenAt = 0;
  let off = 1;
  let tooLong = false;
  let escaped = false;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c === 0x2e) {
      if (off === lenAt + 1) return `empty label in "${text}"`;
      if (off - lenAt - 1 > MAX_LABEL) tooLong = true;
      buf[lenAt] = off - lenAt - 1;
      lenAt = off++;
    } else if (c === 0x5c) {
      escaped = true;
      const n1 = body.charCodeAt(i + 1);
      if (isDigit(n1)) {
        const ddd = body.slice(i + 1, i + 4);
        if (!/^\d{3}$/.test(ddd) || Number(ddd) > 255) return `bad escape "\\${ddd}" in "${text}"`;
        buf[off++] = Number(ddd);
        i += 3;
      } else if (i + 1 < body.length) {
        buf[off++] = n1;
        i += 1;
      } else {
        return `trailing backslash in "${text}"`;
      }
    } else if (c > 0x7e || c < 0x21) {
      return `"${text}" contains a character that must be escaped`;
    } else {
      buf[off++] = c;
    }
  }
  if (off === lenAt + 1) return `empty label in "${text}"`;
  if (off - lenAt - 1 > MAX_LABEL) tooLong = true;
  buf[lenAt] = off - lenAt - 1;
  if (tooLong) return `label longer than 63 bytes in "${text}"`;
  // Without an origin a relative name is taken as absolute.
  const tail = !absolute && origin ? origin.wire : ROOT_WIRE;
  const size = off + tail.length;
  if (size > MAX_NAME_WIRE) return `"${text}" is longer than 255 bytes in wire form`;
  const wire = Buffer.alloc(size);
  for (let i = 0; i < off; i++) wire[i] = buf[i];
  tail.copy(wire, off);
  // Without escapes the text is printable ASCII without dots inside labels: its key is the text lowercased
  // (built from the wire byte by byte, it was a string per character).
  if (escaped) return new WireName(keyOfWire(wire, 0), wire);
  const key = tail === ROOT_WIRE || origin === undefined || origin.key === '' ? body.toLowerCase() : `${body.toLowerCase()}.${origin.key}`;
  return new WireName(key, wire);
}

/** Parses or throws; for names the code itself builds. */
export function nameOf(text: string, origin?: WireName): WireName {
  const n = parseName(text, origin);
  if (typeof n === 'string') throw new Error(n);
  return n;
}

const HEX_ESCAPE: string[] = [];
for (let i = 0; i < 256; i++) HEX_ESCAPE.push(`\\${String(i).padStart(3, '0')}`);

/** Key of an uncompressed wire name starting at `off` (used at compile time and for RDATA names). */
export function keyOfWire(wire: Uint8Array, off: number): string {
  let out = '';
  for (;;) {
    const len = wire[off];
    if (len === 0) return out;
    if (out !== '') out += '.';
    for (let i = off + 1; i <= off + len; i++) out += keyChar(wire[i]);
    off += len + 1;
  }
}

function keyChar(b: number): string {
  if (b >= 0x41 && b <= 0x5a) return String.fromCharCode(b + 32);
  if (b === 0x2e || b === 0x5c) return `\\${String.fromCharCode(b)}`;
  if (b < 0x21 || b > 0x7e) return HEX_ESCAPE[b];
  return String.fromCharCode(b);
}

// ---- the query path: reading a question name ----------------------------------------------------------

const scratch = Buffer.alloc(MAX_NAME_WIRE);

// Buffer#toString('latin1') dispatches on the encoding name first; the underlying method is Node's own.
type Latin1 = { latin1Slice(start: number, end: number): string };
const latin1 = typeof (scratch as unknown as Partial<Latin1>).latin1Slice === 'function'
  ? (b: Buffer, end: number): string => (b as unknown as Latin1).latin1Slice(0, end)
  : (b: Buffer, end: number): string => b.toString('latin1', 0, end);

/** Per byte: the byte as it appears in a key (ASCII letters lowercased), | 0x100 when the key escapes it. */
const KEY_BYTE = new Uint16Array(256);
for (let b = 0; b < 256; b++) {
  const escaped = b === 0x2e || b === 0x5c || b < 0x21 || b > 0x7e;
  KEY_BYTE[b] = (b >= 0x41 && b <= 0x5a ? b + 32 : b) | (escaped ? 0x100 : 0);
}

// Resolvers ask for the same few names over and over. The key strings of recent plain names are kept by a hash
// of their lowercase bytes, so a repeated name costs a compare instead of a new string whose hash every Map
// lookup would compute again. A name seen a second time is internalized, like the zone's own keys, so that
// comparing it with them is a pointer compare; names seen once (random subdomains) never pay for that.
// Direct-mapped and bounded: names that collide just replace each other.
// The lowercase bytes are kept and compared as 32-bit words: in V8 each typed-array access costs about a dozen
// instructions whatever its width.
const INTERN_SLOTS = 1024;
const WORDS = (MAX_NAME_WIRE + 3) >> 2;
const internKeys: string[] = new Array<string>(INTERN_SLOTS).fill('');
const internLengths = new Int16Array(INTERN_SLOTS).fill(-1);
const internWords = new Int32Array(INTERN_SLOTS * WORDS);
/** 1: the slot's key is internalized. */
const internDone = new Uint8Array(INTERN_SLOTS);
/** The name being read as key bytes (dots between labels), 4 to a word, the last word holding the 1–3 left. */
const nameWords = new Int32Array(WORDS);

function internedKey(pkt: Uint8Array, start: number, w: number, hash: number): string {
  const slot = hash & (INTERN_SLOTS - 1);
  const at = slot * WORDS;
  const n = (w + 3) >> 2;
  if (internLengths[slot] === w) {
    let i = 0;
    while (i < n && internWords[at + i] === nameWords[i]) i++;
    if (i === n) {
      if (internDone[slot] === 1) return internKeys[slot];
      internDone[slot] = 1;
      return (internKeys[slot] = internalized(internKeys[slot]));
    }
  }
  const key = latin1(keyBytes(pkt, start), w);
  for (let i = 0; i < n; i++) internWords[at + i] = nameWords[i];
  internLengths[slot] = w;
  internKeys[slot] = key;
  internDone[slot] = 0;
  return key;
}

/** The key bytes of a plain name already checked by readQuestionName, in `scratch`. */
function keyBytes(pkt: Uint8Array, off: number): Buffer {
  let w = 0;
  for (let len = pkt[off]; len !== 0; len = pkt[off]) {
    if (w > 0) scratch[w++] = 0x2e;
    for (let i = off + 1; i <= off + len; i++) scratch[w++] = KEY_BYTE[pkt[i]];
    off += len + 1;
  }
  return scratch;
}

/**
 * Reads an uncompressed name at `off` in a received packet. Returns the offset after it, or -1 if malformed
 * (pointer, reserved label type, overrun, > 255 bytes). The key is left in `nameOut.key`, the label count in
 * `nameOut.labels`: the interned string for a plain name's lowercase bytes, or one new string.
 */
export function readQuestionName(pkt: Uint8Array, off: number, end: number, nameOut: { key: string; labels: number }): number {
  let w = 0; // key bytes so far
  let word = 0;
  let labels = 0;
  let escapes = 0;
  let hash = 0x811c9dc5 | 0; // FNV-1a; the offset basis as int32, so that the loop never sees a double
  const start = off;
  for (;;) {
    if (off >= end) return -1;
    const len = pkt[off];
    if (len === 0) {
      off += 1;
      break;
    }
    if (len > MAX_LABEL) return -1; // compression pointers and extended label types are not valid here
    if (off + 1 + len > end) return -1;
    if (off + 1 + len - start >= MAX_NAME_WIRE) return -1;
    if (w > 0) {
      hash = Math.imul(hash ^ 0x2e, 0x01000193);
      word = (word << 8) | 0x2e;
      if ((++w & 3) === 0) {
        nameWords[(w >> 2) - 1] = word;
        word = 0;
      }
    }
    for (let i = off + 1; i <= off + len; i++) {
      const k = KEY_BYTE[pkt[i]];
      escapes |= k;
      const b = k & 0xff;
      hash = Math.imul(hash ^ b, 0x01000193);
      word = (word << 8) | b;
      if ((++w & 3) === 0) {
        nameWords[(w >> 2) - 1] = word;
        word = 0;
      }
    }
    labels++;
    off += len + 1;
  }
  if ((w & 3) !== 0) nameWords[w >> 2] = word;
  nameOut.labels = labels;
  nameOut.key = (escapes & 0x100) === 0 ? internedKey(pkt, start, w, hash ^ (hash >>> 16)) : keyOfWire(pkt, start);
  return off;
}

/** Skips a possibly compressed name (in records we do not interpret). Returns the offset after it or -1. */
export function skipName(pkt: Buffer, off: number, end: number): number {
  let total = 0;
  for (;;) {
    if (off >= end) return -1;
    const len = pkt[off];
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2 <= end ? off + 2 : -1;
    if (len > MAX_LABEL) return -1;
    total += len + 1;
    if (total > MAX_NAME_WIRE) return -1;
    off += len + 1;
  }
}
