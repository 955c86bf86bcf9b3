// A fast reader for the YAML that configs are written in: block mappings and sequences, one-line flow
// collections, one-line plain and quoted scalars, comments. It reads a 5 MB config in tens of milliseconds where
// the `yaml` package's generator-based parser takes seconds. Anything else — anchors, aliases, tags, block
// scalars, multi-line scalars or flow collections, several documents, tabs, CR line ends, and every syntax
// error — makes it give up (null), and the full reader (yaml-full.ts, the `yaml` package) reads the file
// instead, so the result never depends on which reader ran: test/config/yaml-fast.test.ts holds the two to the
// same tree on every input the fast one accepts. YAML 1.2.2 (https://yaml.org/spec/1.2.2/) chapters 6–8;
// scalars resolve per its core schema (§10.3), as the `yaml` package resolves them.
import { repeatsKey, yMap, ySeq, yPair, yScalar, type YNode, type YPair, type YScalar, type YMap, type YSeq } from './ast';

export interface FastResult {
  root: YNode | null;
  /** Keys that repeat an earlier key of their mapping (the later occurrences); in a lazy tree, of its skeleton. */
  duplicates: YNode[];
  /**
   * A lazy tree: reads every collection not read yet (a part under an unknown or ignored key, or one the schema
   * stopped before), so that the file is checked whole as the whole-tree reader checks it: its duplicate keys are
   * reported, or FastReaderGaveUp thrown. Nothing for a tree read at once.
   */
  finish(): void;
}

/**
 * A lazy tree: the block collections at depth LAZY_DEPTH (a pool, a load balancer, a zone — the entries of the
 * top-level sections) are read only when their `items` are, and again on every read, so that the schema gets one
 * entry's tree at a time and it dies young. Reading the whole tree of a 10,000-LB config first kept ~55 MB alive
 * through the schema, copied by the scavenger and marked by the mark-compactor.
 */
export interface LazyOptions {
  /** A key that repeats an earlier key of its mapping inside a lazy collection; each once. */
  duplicate: (key: YNode) => void;
}

/** Depth (the root is 1) of the collections a lazy tree reads on demand. */
const LAZY_DEPTH = 3;

/**
 * Thrown by a lazy collection's `items` when the fast reader cannot read it: the caller reads the whole text with
 * the full reader instead, as it would have had the tree been read at once.
 */
export class FastReaderGaveUp extends Error {
  constructor() {
    super('the fast YAML reader gave up on a part read lazily');
  }
}

/** Thrown inside the reader to give up; never leaves this module. */
class GiveUp {}
const GIVE_UP = new GiveUp();

// Characters that make the fast reader give up wherever they are: tabs and CR (whitespace rules it does not
// implement), C0/C1 controls, DEL, BOM, line/paragraph separators and surrogates (non-BMP text) — rare in a
// config, and handled (or rejected with a message) by the full reader.
const UNUSUAL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff]/;

/** Entries of the plain-scalar cache (a power of two). */
const PLAIN_CACHE = 512;

const NL = 10;
const SPACE = 32;
const HASH = 35;
const COLON = 58;
const DASH = 45;
const COMMA = 44;
const LBRACKET = 91;
const RBRACKET = 93;
const LBRACE = 123;
const RBRACE = 125;
const DQUOTE = 34;
const SQUOTE = 39;

/** The tree of `text`, or null when the text is not in the subset this reader handles. */
export function parseFast(text: string, maxDepth: number, lazy: LazyOptions | null = null): FastResult | null {
  if (UNUSUAL.test(text)) return null;
  try {
    return new FastReader(text, maxDepth, lazy).document();
  } catch (e) {
    if (e === GIVE_UP) return null;
    throw e;
  }
}

/** Per indentation: a line break followed by at most that many spaces and a character that is content. */
const LINE_AT_MOST: RegExp[] = [];

function lineAtMost(indent: number): RegExp {
  return (LINE_AT_MOST[indent] ??= new RegExp(`\n {0,${indent}}[^ \n#]`, 'g'));
}

/** Where a lazy collection was in the text, and the reader's state after it (which a read must end at). */
interface Deferred {
  readonly map: boolean;
  readonly col: number;
  readonly depth: number;
  readonly p: number;
  readonly ls: number;
  readonly ind: number;
  readonly endP: number;
  readonly endInd: number;
}

/** A block mapping or sequence of a lazy tree, read on each access to `items` (see LazyOptions). */
class LazyCollection {
  readonly start: number;
  /** Read at least once, and so its duplicate keys reported. */
  reported = false;

  constructor(
    private readonly reader: FastReader,
    private readonly at: Deferred,
  ) {
    this.start = at.p;
  }

  read(): (YNode | YPair)[] {
    const r = this.reader.readDeferred(this.at, !this.reported);
    this.reported = true;
    return r;
  }
}

class LazyMap extends LazyCollection implements YMap {
  readonly kind = 'map';
  get items(): YPair[] {
    return this.read() as YPair[];
  }
}

class LazySeq extends LazyCollection implements YSeq {
  readonly kind = 'seq';
  get items(): YNode[] {
    return this.read() as YNode[];
  }
}

class FastReader {
  private readonly n: number;
  /** Position in the text; after a block node, the first character of the next content line (or n). */
  private p = 0;
  /** Start of the current line. */
  private ls = 0;
  /** Indentation of the current content line; -1 at the end of the text. */
  private ind = -1;
  private readonly duplicates: YNode[] = [];
  /**
   * The items of the collections being read, nested ones above their parent's, copied out at the final size when
   * a collection ends: an array grown by push has room for 17 items, and a config has a collection of 2 or 3 for
   * every endpoint. `top` is the end of what is in use (the array is not shrunk, so it is not regrown either).
   */
  private readonly stack: (YNode | YPair)[] = [];
  private top = 0;
  /** Plain scalars read so far, by a hash of their text (see plain()): keys and common values repeat. */
  private readonly plainText: string[] = new Array<string>(PLAIN_CACHE).fill('');
  private readonly plainValue: unknown[] = new Array<unknown>(PLAIN_CACHE).fill(null);

  /** Depth of the collections left for later (lazy trees), or 0. */
  private readonly lazyDepth: number;
  /** Every collection left for later, in file order. */
  private readonly deferred: LazyCollection[] = [];

  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
    private readonly lazy: LazyOptions | null = null,
  ) {
    this.n = s.length;
    this.lazyDepth = lazy ? LAZY_DEPTH : 0;
  }

  document(): FastResult {
    const finish = () => this.finish();
    this.toContent();
    if (this.ind < 0) return { root: null, duplicates: this.duplicates, finish };
    const root = this.blockNode(this.ind, 1);
    if (this.ind >= 0) throw GIVE_UP; // content less indented than the root: a syntax error
    // The skeleton's own duplicates are returned; the lazy reads' ones go to LazyOptions.duplicate.
    return { root, duplicates: this.duplicates.splice(0), finish };
  }

  private finish(): void {
    for (const c of this.deferred) if (!c.reported) c.read();
    this.deferred.length = 0;
  }

  // ---- lines ----------------------------------------------------------------------------------------------

  /** From a line start, skips blank and comment-only lines; sets p, ls, ind on the next content line. */
  private toContent(): void {
    const s = this.s;
    let p = this.p;
    for (;;) {
      const ls = p;
      while (p < this.n && s.charCodeAt(p) === SPACE) p++;
      if (p >= this.n) {
        this.p = this.n;
        this.ind = -1;
        return;
      }
      const c = s.charCodeAt(p);
      if (c === NL) {
        p++;
        continue;
      }
      if (c === HASH) {
        const nl = s.indexOf('\n', p);
        if (nl < 0) {
          this.p = this.n;
          this.ind = -1;
          return;
        }
        p = nl + 1;
        continue;
      }
      // Document markers and directives start a new document: not for this reader.
      if (p === ls && (c === DASH || c === 46 || c === 37) && (c === 37 || s.startsWith(c === DASH ? '---' : '...', p))) throw GIVE_UP;
      this.p = p;
      this.ls = ls;
      this.ind = p - ls;
      return;
    }
  }

  /** After a value: only spaces and a comment may follow on the line; then on to the next content line. */
  private endLine(): void {
    const s = this.s;
    let p = this.p;
    while (p < this.n && s.charCodeAt(p) === SPACE) p++;
    if (p < this.n) {
      const c = s.charCodeAt(p);
      if (c === HASH) {
        if (s.charCodeAt(p - 1) !== SPACE) throw GIVE_UP; // "x"#c: a comment needs a space before it
        const nl = s.indexOf('\n', p);
        p = nl < 0 ? this.n : nl;
      }
      if (p < this.n && s.charCodeAt(p) !== NL) throw GIVE_UP;
    }
    this.p = p < this.n ? p + 1 : this.n;
    this.toContent();
  }

  private atLineEnd(p: number): boolean {
    return p >= this.n || this.s.charCodeAt(p) === NL;
  }

  /** A "- " (or "-" at the line end) sequence entry indicator at p. */
  private isDash(p: number): boolean {
    if (this.s.charCodeAt(p) !== DASH) return false;
    const c = this.s.charCodeAt(p + 1);
    return p + 1 >= this.n || c === SPACE || c === NL;
  }

  // ---- collections ----------------------------------------------------------------------------------------

  /**
   * Puts a pair of the mapping whose items start at `base` on the stack, flagging a key that repeats an earlier
   * one as ast.ts MapBuilder does: a linear scan while the mapping is small, then `seen` (returned).
   */
  private addPair(base: number, key: YNode, value: YNode, seen: Set<unknown> | null): Set<unknown> | null {
    let duplicate = false;
    // NaN is never equal to itself, so never a duplicate (as with ===), which a Set would not agree with.
    if (key.kind === 'scalar' && key.value === key.value) {
      if (seen !== null) {
        duplicate = seen.has(key.value);
        if (!duplicate) seen.add(key.value);
      } else {
        duplicate = repeatsKey(this.stack, base, this.top, key);
        if (this.top - base >= 16) {
          seen = new Set();
          for (let i = base; i < this.top; i++) {
            const k = (this.stack[i] as YPair).key;
            if (k.kind === 'scalar' && k.value === k.value) seen.add(k.value);
          }
          seen.add(key.value);
        }
      }
    }
    if (duplicate) this.duplicates.push(key);
    this.stack[this.top++] = yPair(key, value, duplicate);
    return seen;
  }

  /** The items from `base` up, as an array of their own; the stack is back at `base`. */
  private take(base: number): (YNode | YPair)[] {
    const items = this.stack.slice(base, this.top);
    this.top = base;
    return items;
  }

  // ---- lazy collections --------------------------------------------------------------------------------------

  /**
   * In place of the block collection starting at p (a mapping when `map`, at column `col`): a lazy one, and the
   * reader moved past every line that belongs to it: the rest of this line, then every blank or comment line and
   * every line indented more than `parentCol`. A line indented between the two ends the collection early when it
   * is read, which `readDeferred` finds (a syntax error, as the whole-tree reader would find).
   */
  private defer(map: boolean, col: number, parentCol: number, depth: number): YMap | YSeq {
    const { p, ls, ind } = this;
    // The next line that starts with at most parentCol spaces and then content (not a comment), found by the
    // regular-expression engine rather than line by line; toContent() then reads it as usual.
    const next = lineAtMost(parentCol);
    next.lastIndex = p;
    // test(), not exec(): no match array; the match ends just past the line's first content character.
    this.p = next.test(this.s) ? this.s.lastIndexOf('\n', next.lastIndex - 1) + 1 : this.n;
    this.toContent();
    if (this.ind > parentCol) throw GIVE_UP; // cannot happen: the expression found a line at most that indented
    const at: Deferred = { map, col, depth, p, ls, ind, endP: this.p, endInd: this.ind };
    const c = map ? new LazyMap(this, at) : new LazySeq(this, at);
    this.deferred.push(c);
    return c;
  }

  /** The items of a deferred collection, read as the whole-tree reader reads them (its duplicates reported when `report`). */
  readDeferred(at: Deferred, report: boolean): (YNode | YPair)[] {
    const lazy = this.lazy;
    if (lazy === null) throw new Error('readDeferred on an eager reader');
    this.p = at.p;
    this.ls = at.ls;
    this.ind = at.ind;
    this.top = 0;
    const dups = this.duplicates.length;
    try {
      const node = at.map ? this.blockMap(at.col, at.depth) : this.blockSeq(at.col, at.depth);
      // Where the whole-tree reader would have gone on from: else a line in between ended it early.
      if (this.p !== at.endP || this.ind !== at.endInd) throw GIVE_UP;
      if (report) for (let i = dups; i < this.duplicates.length; i++) lazy.duplicate(this.duplicates[i]);
      return node.items;
    } catch (e) {
      if (e === GIVE_UP) throw new FastReaderGaveUp();
      throw e;
    } finally {
      this.duplicates.length = dups;
      this.top = 0;
    }
  }

  // ---- block nodes ----------------------------------------------------------------------------------------

  /** A block node on the current content line at column `col`: a sequence or a mapping. */
  private blockNode(col: number, depth: number): YNode {
    if (this.isDash(this.p)) return this.blockSeq(col, depth);
    if (this.keyEnd(this.p) >= 0) return this.blockMap(col, depth);
    throw GIVE_UP; // a scalar or flow collection as a whole document: not a config
  }

  private blockMap(col: number, depth: number): YMap {
    if (depth > this.maxDepth) throw GIVE_UP; // the full reader reports it
    const start = this.p;
    const base = this.top;
    let seen: Set<unknown> | null = null;
    for (;;) {
      const keyStart = this.p;
      const colon = this.keyEnd(keyStart);
      // An implicit key longer than 1024 characters is an error (YAML 1.2.2 §7.4.2 ns-s-implicit-yaml-key).
      if (colon < 0 || colon - keyStart > 1000) throw GIVE_UP;
      const key = this.keyScalar(keyStart, colon);
      this.p = colon + 1;
      let value: YNode;
      let q = this.p;
      while (q < this.n && this.s.charCodeAt(q) === SPACE) q++;
      if (this.atLineEnd(q) || this.s.charCodeAt(q) === HASH) {
        value = this.indentedValue(col, q, true, depth);
      } else {
        this.p = q;
        value = this.inlineValue(col, depth);
      }
      seen = this.addPair(base, key, value, seen);
      if (this.ind < col) return yMap(start, this.take(base) as YPair[]);
      if (this.ind > col || this.isDash(this.p)) throw GIVE_UP;
    }
  }

  private blockSeq(col: number, depth: number): YSeq {
    if (depth > this.maxDepth) throw GIVE_UP;
    const start = this.p;
    const base = this.top;
    for (;;) {
      let q = this.p + 1;
      while (q < this.n && this.s.charCodeAt(q) === SPACE) q++;
      let item: YNode;
      if (this.atLineEnd(q) || this.s.charCodeAt(q) === HASH) {
        item = this.indentedValue(col, q, false, depth);
      } else if (this.isDash(q)) {
        throw GIVE_UP; // "- - x": compact nested sequences
      } else if (this.keyEnd(q) >= 0) {
        this.p = q;
        item = depth + 1 === this.lazyDepth ? this.defer(true, q - this.ls, col, depth + 1) : this.blockMap(q - this.ls, depth + 1);
      } else {
        this.p = q;
        item = this.inlineValue(col, depth);
      }
      this.stack[this.top++] = item;
      if (this.ind < col) return ySeq(start, this.take(base) as YNode[]);
      if (this.ind > col) throw GIVE_UP;
      if (!this.isDash(this.p)) return ySeq(start, this.take(base) as YNode[]); // a key of the mapping this sequence is the value of
    }
  }

  /**
   * The value after "key:" or "-" with nothing else on the line (`emptyAt`: where the line's content ended): a
   * more indented block node or scalar on the following lines, a sequence at the key's own indentation
   * (`sameIndentSeq`, YAML allows it for mapping values), or an empty value (null).
   */
  private indentedValue(col: number, emptyAt: number, sameIndentSeq: boolean, depth: number): YNode {
    this.p = emptyAt;
    this.endLine();
    if (this.ind > col) {
      const lazy = depth + 1 === this.lazyDepth;
      if (this.isDash(this.p)) return lazy ? this.defer(false, this.ind, col, depth + 1) : this.blockSeq(this.ind, depth + 1);
      if (this.keyEnd(this.p) >= 0) return lazy ? this.defer(true, this.ind, col, depth + 1) : this.blockMap(this.ind, depth + 1);
      return this.inlineValue(col, depth);
    }
    if (this.ind === col && sameIndentSeq && this.isDash(this.p)) return this.blockSeq(col, depth + 1);
    return yScalar(null, emptyAt, false);
  }

  /** A flow collection or scalar that ends on this line; nothing may continue it on more indented lines. */
  private inlineValue(col: number, depth: number): YNode {
    const c = this.s.charCodeAt(this.p);
    let node: YNode;
    if (c === LBRACKET || c === LBRACE) node = this.flow(depth + 1);
    else if (c === DQUOTE) node = this.doubleQuoted();
    else if (c === SQUOTE) node = this.singleQuoted();
    else node = this.plainBlock();
    this.endLine();
    if (this.ind > col) throw GIVE_UP; // a multi-line scalar, or a syntax error
    return node;
  }

  // ---- keys ---------------------------------------------------------------------------------------------------

  /**
   * When a block mapping key starts at p (a plain or quoted scalar on this line followed by ": " or ":" at the
   * line end), the offset of that colon; else -1.
   */
  private keyEnd(p: number): number {
    const s = this.s;
    const c = s.charCodeAt(p);
    if (c === DQUOTE || c === SQUOTE) {
      const close = c === DQUOTE ? this.doubleQuotedEnd(p) : this.singleQuotedEnd(p);
      if (close < 0) return -1;
      let q = close;
      while (q < this.n && s.charCodeAt(q) === SPACE) q++;
      if (s.charCodeAt(q) !== COLON) return -1;
      const after = s.charCodeAt(q + 1);
      return q + 1 >= this.n || after === SPACE || after === NL ? q : -1;
    }
    if (!this.plainStart(p, false)) return -1;
    for (let q = p; q < this.n; q++) {
      const ch = s.charCodeAt(q);
      if (ch === NL) return -1;
      if (ch === COLON) {
        const after = s.charCodeAt(q + 1);
        if (q + 1 >= this.n || after === SPACE || after === NL) return q;
      } else if (ch === HASH && s.charCodeAt(q - 1) === SPACE) return -1;
    }
    return -1;
  }

  /** The key scalar from p to its colon. */
  private keyScalar(p: number, colon: number): YScalar {
    const c = this.s.charCodeAt(p);
    if (c === DQUOTE || c === SQUOTE) {
      this.p = p;
      return c === DQUOTE ? this.doubleQuoted() : this.singleQuoted();
    }
    return yScalar(this.plain(p, this.keyTextEnd(p, colon)), p, false);
  }

  /** End of a key's text: before the colon and the spaces in front of it (plain), after the closing quote (quoted). */
  private keyTextEnd(p: number, colon: number): number {
    let e = colon;
    while (e > p && this.s.charCodeAt(e - 1) === SPACE) e--;
    return e;
  }

  // ---- scalars ------------------------------------------------------------------------------------------------

  /** Whether a plain scalar may start at p (YAML 1.2.2 §7.3.3 ns-plain-first), in block or flow context. */
  private plainStart(p: number, flow: boolean): boolean {
    if (p >= this.n) return false;
    const c = this.s.charCodeAt(p);
    switch (c) {
      case DASH:
      case 63: // ?
      case COLON: {
        const next = this.s.charCodeAt(p + 1);
        if (p + 1 >= this.n || next === SPACE || next === NL) return false;
        return !(flow && (next === COMMA || next === LBRACKET || next === RBRACKET || next === LBRACE || next === RBRACE));
      }
      case COMMA:
      case LBRACKET:
      case RBRACKET:
      case LBRACE:
      case RBRACE:
      case HASH:
      case 38: // &
      case 42: // *
      case 33: // !
      case 124: // |
      case 62: // >
      case SQUOTE:
      case DQUOTE:
      case 37: // %
      case 64: // @
      case 96: // `
      case SPACE:
      case NL:
        return false;
      default:
        return true;
    }
  }

  /** A plain scalar value in block context, to the end of the line or a comment. */
  private plainBlock(): YScalar {
    const s = this.s;
    const start = this.p;
    if (!this.plainStart(start, false)) throw GIVE_UP;
    let q = start;
    let end = start;
    for (; q < this.n; q++) {
      const ch = s.charCodeAt(q);
      if (ch === NL) break;
      if (ch === SPACE) continue;
      if (ch === HASH && s.charCodeAt(q - 1) === SPACE) break;
      if (ch === COLON) {
        const after = s.charCodeAt(q + 1);
        if (q + 1 >= this.n || after === SPACE || after === NL) throw GIVE_UP; // "a: b: c"
      }
      end = q + 1;
    }
    this.p = end;
    return yScalar(this.plain(start, end), start, false);
  }

  /** A plain scalar inside a flow collection: ends before ", [ ] { }", ": " and " #". */
  private plainFlow(): YScalar {
    const s = this.s;
    const start = this.p;
    if (!this.plainStart(start, true)) throw GIVE_UP;
    let q = start;
    let end = start;
    for (; q < this.n; q++) {
      const ch = s.charCodeAt(q);
      if (ch === NL || ch === COMMA || ch === LBRACKET || ch === RBRACKET || ch === LBRACE || ch === RBRACE) break;
      if (ch === SPACE) continue;
      if (ch === HASH && s.charCodeAt(q - 1) === SPACE) break;
      if (ch === COLON) {
        const after = s.charCodeAt(q + 1);
        if (q + 1 >= this.n || after === SPACE || after === NL || after === COMMA || after === LBRACKET || after === RBRACKET || after === LBRACE || after === RBRACE) break;
      }
      end = q + 1;
    }
    this.p = end;
    return yScalar(this.plain(start, end), start, false);
  }

  /**
   * The value of the plain scalar from `start` to `end`. Keys and many values repeat (every endpoint has a
   * "name" and an "address"): one string and one resolution each, instead of a copy per occurrence. The cache
   * is indexed by a hash of the length and a few characters; a collision only costs a copy.
   */
  private plain(start: number, end: number): unknown {
    const s = this.s;
    const len = end - start;
    if (len === 0 || len > 40) return resolvePlain(s.slice(start, end));
    const h = (len * 31 + s.charCodeAt(start) * 7 + s.charCodeAt(end - 1) * 3 + s.charCodeAt(start + (len >> 1))) & (PLAIN_CACHE - 1);
    const text = this.plainText[h];
    if (text.length === len && s.startsWith(text, start)) return this.plainValue[h];
    const t = s.slice(start, end);
    const v = resolvePlain(t);
    this.plainText[h] = t;
    this.plainValue[h] = v;
    return v;
  }

  /** Offset just after the closing quote of a one-line single-quoted scalar at p, or -1. */
  private singleQuotedEnd(p: number): number {
    const s = this.s;
    for (let q = p + 1; q < this.n; q++) {
      const ch = s.charCodeAt(q);
      if (ch === NL) return -1;
      if (ch === SQUOTE) {
        if (s.charCodeAt(q + 1) === SQUOTE) q++;
        else return q + 1;
      }
    }
    return -1;
  }

  private singleQuoted(): YScalar {
    const start = this.p;
    const end = this.singleQuotedEnd(start);
    if (end < 0) throw GIVE_UP;
    const raw = this.s.slice(start + 1, end - 1);
    this.p = end;
    return yScalar(raw.indexOf("'") >= 0 ? raw.replace(/''/g, "'") : raw, start, true);
  }

  /** Offset just after the closing quote of a one-line double-quoted scalar at p, or -1. */
  private doubleQuotedEnd(p: number): number {
    const s = this.s;
    for (let q = p + 1; q < this.n; q++) {
      const ch = s.charCodeAt(q);
      if (ch === NL) return -1;
      if (ch === 92) {
        if (s.charCodeAt(q + 1) === NL) return -1; // an escaped line break: a multi-line scalar
        q++; // skip the escaped character
      }
      else if (ch === DQUOTE) return q + 1;
    }
    return -1;
  }

  private doubleQuoted(): YScalar {
    const s = this.s;
    const start = this.p;
    const end = this.doubleQuotedEnd(start);
    if (end < 0) throw GIVE_UP;
    this.p = end;
    const raw = s.slice(start + 1, end - 1);
    if (raw.indexOf('\\') < 0) return yScalar(raw, start, true);
    let out = '';
    for (let i = 0; i < raw.length; i++) {
      const ch = raw[i];
      if (ch !== '\\') {
        out += ch;
        continue;
      }
      const e = raw[++i];
      const simple = ESCAPES[e];
      if (simple !== undefined) {
        out += simple;
        continue;
      }
      const len = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
      const hex = raw.substr(i + 1, len);
      if (len === 0 || hex.length !== len || !/^[0-9a-fA-F]+$/.test(hex)) throw GIVE_UP;
      const code = parseInt(hex, 16);
      if (code > 0x10ffff) throw GIVE_UP;
      out += String.fromCodePoint(code);
      i += len;
    }
    return yScalar(out, start, true);
  }

  // ---- flow collections -------------------------------------------------------------------------------------

  /** A flow sequence or mapping at p that closes on this line. */
  private flow(depth: number): YNode {
    if (depth > this.maxDepth) throw GIVE_UP;
    const s = this.s;
    const isMap = s.charCodeAt(this.p) === LBRACE;
    const close = isMap ? RBRACE : RBRACKET;
    const start = this.p;
    const base = this.top;
    let seen: Set<unknown> | null = null;
    this.p++;
    for (;;) {
      this.spaces();
      const c = s.charCodeAt(this.p);
      if (this.p >= this.n || c === NL) throw GIVE_UP;
      if (c === close) {
        this.p++;
        return isMap ? yMap(start, this.take(base) as YPair[]) : ySeq(start, this.take(base) as YNode[]);
      }
      if (isMap) {
        if (c === LBRACKET || c === LBRACE) throw GIVE_UP;
        const key = this.flowScalar();
        this.spaces();
        // "key: value" only: no "key" alone, no "key:" with an empty value, no JSON-style "key":value.
        if (s.charCodeAt(this.p) !== COLON || s.charCodeAt(this.p + 1) !== SPACE) throw GIVE_UP;
        this.p += 2;
        this.spaces();
        const v = s.charCodeAt(this.p);
        if (v === COMMA || v === close || v === NL || this.p >= this.n) throw GIVE_UP;
        const value = this.flowValue(depth);
        seen = this.addPair(base, key, value, seen);
      } else {
        const item = this.flowValue(depth);
        this.spaces();
        if (s.charCodeAt(this.p) === COLON) throw GIVE_UP; // "[a: b]": a one-pair mapping
        this.stack[this.top++] = item;
      }
      this.spaces();
      const after = s.charCodeAt(this.p);
      if (after === COMMA) {
        this.p++;
        this.spaces();
        if (s.charCodeAt(this.p) === COMMA) throw GIVE_UP;
      } else if (after !== close) throw GIVE_UP;
    }
  }

  private flowValue(depth: number): YNode {
    const c = this.s.charCodeAt(this.p);
    if (c === LBRACKET || c === LBRACE) return this.flow(depth + 1);
    return this.flowScalar();
  }

  private flowScalar(): YScalar {
    const c = this.s.charCodeAt(this.p);
    if (c === DQUOTE) return this.doubleQuoted();
    if (c === SQUOTE) return this.singleQuoted();
    return this.plainFlow();
  }

  private spaces(): void {
    while (this.p < this.n && this.s.charCodeAt(this.p) === SPACE) this.p++;
  }
}

/** Double-quoted escapes with a fixed meaning (YAML 1.2.2 §5.7); \x, \u, \U are read as hex. */
const ESCAPES: Record<string, string | undefined> = Object.assign(Object.create(null) as Record<string, string>, {
  '0': '\0', a: '\x07', b: '\b', e: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v',
  N: '\u0085', _: '\u00a0', L: '\u2028', P: '\u2029', ' ': ' ', '"': '"', '/': '/', '\\': '\\',
});

const NULL_RE = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL_RE = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const OCT_RE = /^0o[0-7]+$/;
const INT_RE = /^[-+]?[0-9]+$/;
const HEX_RE = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN_RE = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP_RE = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT_RE = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

/**
 * A plain scalar's value per the YAML 1.2 core schema (§10.3.2), in the `yaml` package's order: null, bool,
 * int (octal 0o, decimal, hex 0x), float (.inf/.nan, exponent, decimal); else the string itself. The first
 * character decides which tests can apply, so most strings are not matched against any pattern.
 */
export function resolvePlain(v: string): unknown {
  if (v.length === 0) return null;
  const c = v.charCodeAt(0);
  if (c === 126 || c === 110 || c === 78) return NULL_RE.test(v) ? null : v; // ~ n N
  if (c === 116 || c === 84 || c === 102 || c === 70) return BOOL_RE.test(v) ? v.charCodeAt(0) === 116 || v.charCodeAt(0) === 84 : v; // t T f F
  if ((c >= 48 && c <= 57) || c === 45 || c === 43 || c === 46) {
    // No number has two dots; an IPv4 address (tens of thousands in a big config) needs no pattern tried.
    const dot = v.indexOf('.');
    if (dot >= 0 && v.indexOf('.', dot + 1) >= 0) return v;
    if (OCT_RE.test(v)) return parseInt(v.substring(2), 8);
    if (INT_RE.test(v)) return parseInt(v, 10);
    if (HEX_RE.test(v)) return parseInt(v.substring(2), 16);
    if (FLOAT_NAN_RE.test(v)) return v.slice(-3).toLowerCase() === 'nan' ? NaN : c === 45 ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    if (FLOAT_EXP_RE.test(v) || FLOAT_RE.test(v)) return parseFloat(v);
  }
  return v;
}
