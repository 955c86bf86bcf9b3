// A small declarative validator over the YAML tree (ast.ts). Each schema turns a node into a typed value or
// records a problem at the node's file:line:col; it never throws, so one pass reports every problem in the file.
import { YMap, YNode, YScalar } from './ast';
import { Source } from './source';
import type { Pos, Problem } from './types';

export const INVALID: unique symbol = Symbol('invalid');
export type Invalid = typeof INVALID;

/**
 * Where each value came from, for later cross-reference errors: offsets into the source, turned into line:col
 * only when asked (a config of 300,000 objects asks for a handful). Lists keep one offset per item; objects and
 * dicts their keys with one offset each (of the value for an object field, of the key for a dict entry).
 */
class Spots {
  private index: Map<string | number, number> | null = null;
  constructor(
    readonly src: Source,
    readonly self: number,
    /** A list: `at[i]` is the offset of item i. An object or dict: key, offset, key, offset… */
    readonly list: boolean,
    readonly at: (string | number)[],
  ) {}

  offsetOf(key: string | number): number {
    const at = this.at;
    if (this.list) return typeof key === 'number' && key >= 0 && key < at.length ? (at[key] as number) : this.self;
    // A big dict (pool_weights of thousands of pools) gets an index instead of a scan per look-up.
    if (at.length > 64) {
      if (this.index === null) {
        this.index = new Map();
        for (let i = at.length - 2; i >= 0; i -= 2) this.index.set(at[i], at[i + 1] as number);
      }
      return this.index.get(key) ?? this.self;
    }
    for (let i = 0; i < at.length; i += 2) if (at[i] === key) return at[i + 1] as number;
    return this.self;
  }
}

/** Positions given as such (setPos), for values made outside the schema. */
class FixedSpots {
  constructor(
    readonly self: Pos,
    readonly keys: Map<string | number, Pos>,
  ) {}
}

/**
 * The positions ride on the object itself, under a symbol that is not enumerable (invisible to Object.keys,
 * JSON, spread and test equality). A WeakMap of 300,000 objects cost more in garbage collection (ephemeron
 * tables are traced specially) than all the parsing; it remains for objects that cannot take a property.
 */
const POS: unique symbol = Symbol('steerdns.config.pos');
type Tracked = { [POS]?: Spots | FixedSpots };
const frozen = new WeakMap<object, Spots | FixedSpots>();
const descriptor: PropertyDescriptor = { value: undefined, writable: true, configurable: true, enumerable: false };

function getSpots(obj: object): Spots | FixedSpots | undefined {
  return Object.prototype.hasOwnProperty.call(obj, POS) ? (obj as Tracked)[POS] : frozen.get(obj);
}

function putSpots(obj: object, spots: Spots | FixedSpots): void {
  if (!Object.isExtensible(obj)) {
    frozen.set(obj, spots);
    return;
  }
  descriptor.value = spots;
  Object.defineProperty(obj, POS, descriptor);
  descriptor.value = undefined;
}

export function posOf(obj: object, key?: string | number): Pos {
  const entry = getSpots(obj);
  if (!entry) return { file: '?', line: 0, col: 0 };
  if (entry instanceof FixedSpots) return key === undefined ? entry.self : entry.keys.get(key) ?? entry.self;
  return entry.src.pos(key === undefined ? entry.self : entry.offsetOf(key));
}

/**
 * Lets go of the positions of a config and everything in it, once nothing will ask for them any more (the server
 * after building its runtime: a 10,000-LB config keeps tens of MB of them). The property stays, emptied, so the
 * objects keep their shapes (deleting it would turn them into slow dictionaries the query path reads).
 */
export function dropPositions(root: object): void {
  const stack: unknown[] = [root];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    if (Object.prototype.hasOwnProperty.call(v, POS)) (v as Tracked)[POS] = undefined;
    if (v instanceof Map) for (const x of v.values()) stack.push(x);
    else if (Array.isArray(v)) for (const x of v) stack.push(x);
    else for (const k of Object.keys(v)) stack.push((v as Record<string, unknown>)[k]);
  }
}

export function setPos(obj: object, self: Pos, keys: Map<string | number, Pos> = new Map()): void {
  putSpots(obj, new FixedSpots(self, keys));
}

function track(obj: object, src: Source, self: number, list: boolean, at: (string | number)[]): void {
  putSpots(obj, new Spots(src, self, list, at));
}

/** Where a message about `node` points: a quoted scalar at its first character inside the quotes, so that an
 *  offset into the string (a rule-expression error) can be added to the column. */
export function offsetOf(node: YNode): number {
  return node.kind === 'scalar' && node.quoted ? node.start + 1 : node.start;
}

/** Edit-distance cells `suggest` may compute per load: "did you mean" for thousands of dangling references to
 *  thousands of names must not take quadratic time. */
const SUGGEST_BUDGET = 5_000_000;

export class Ctx {
  readonly problems: Problem[] = [];
  /** The key of the named mapping entry being parsed (a pool's or monitor's name when it has no `name`). */
  key = '';
  private suggestBudget = { cells: SUGGEST_BUDGET };
  private readonly fallback: Pos;

  constructor(
    readonly file: string,
    readonly src: Source = new Source(file, ''),
  ) {
    this.fallback = { file, line: 1, col: 1 };
  }

  pos(node: YNode | null | undefined): Pos {
    return node ? this.src.pos(offsetOf(node)) : this.fallback;
  }

  error(at: YNode | Pos | null | undefined, message: string): Invalid {
    this.problems.push({ pos: isPos(at) ? at : this.pos(at), message, severity: 'error' });
    return INVALID;
  }

  warn(at: YNode | Pos | null | undefined, message: string): void {
    this.problems.push({ pos: isPos(at) ? at : this.pos(at), message, severity: 'warning' });
  }

  /** `suggest` within this load's budget. */
  suggest(word: string, candidates: readonly string[]): string {
    return suggest(word, candidates, this.suggestBudget);
  }
}

function isPos(x: unknown): x is Pos {
  return typeof x === 'object' && x !== null && 'line' in x && 'col' in x && 'file' in x;
}

export interface Schema<T> {
  /** A word or two for messages: "a string", "an integer from 1 to 65535". */
  readonly expect: string;
  parse(node: YNode, ctx: Ctx): T | Invalid;
}

function describe(node: YNode): string {
  switch (node.kind) {
    case 'map':
      return 'a mapping';
    case 'seq':
      return 'a list';
    case 'scalar': {
      const v = node.value;
      if (v === null) return 'null';
      if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
      return String(v);
    }
    default:
      return node.what;
  }
}

/** A key for a message: quoted, and cut short when it is long. */
export function keyText(key: string): string {
  return `"${key.length > 60 ? `${key.slice(0, 60)}…` : key}"`;
}

function scalar<T>(expect: string, accept: (v: unknown, node: YScalar) => T | string): Schema<T> {
  return {
    expect,
    parse(node, ctx) {
      if (node.kind !== 'scalar') return ctx.error(node, `expected ${expect}, got ${describe(node)}`);
      const r = accept(node.value, node);
      if (typeof r === 'string' && r.startsWith('\u0000')) return ctx.error(node, r.slice(1));
      return r as T;
    },
  };
}

/** Marks a rejection message inside scalar acceptors. */
const reject = (message: string): string => `\u0000${message}`;

export function str(opts: { nonEmpty?: boolean; pattern?: RegExp; patternHint?: string; max?: number } = {}): Schema<string> {
  const expect = opts.nonEmpty ? 'a non-empty string' : 'a string';
  return scalar<string>(expect, (v) => {
    if (typeof v !== 'string') return reject(`expected ${expect}, got ${v === null ? 'null' : String(v)}`);
    if (opts.nonEmpty && v.trim() === '') return reject('must not be empty');
    if (opts.max !== undefined && v.length > opts.max) return reject(`longer than ${opts.max} characters`);
    if (opts.pattern && !opts.pattern.test(v)) return reject(`"${v.length > 80 ? `${v.slice(0, 80)}…` : v}" is not ${opts.patternHint ?? 'valid'}`);
    return v;
  });
}

function rangeText(min?: number, max?: number): string {
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  if (min !== undefined) return ` ≥ ${min}`;
  if (max !== undefined) return ` ≤ ${max}`;
  return '';
}

export function num(opts: { min?: number; max?: number; integer?: boolean } = {}): Schema<number> {
  const expect = `${opts.integer ? 'an integer' : 'a number'}${rangeText(opts.min, opts.max)}`;
  return scalar<number>(expect, (v) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return reject(`expected ${expect}, got ${typeof v === 'string' ? `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"` : String(v)}`);
    if (opts.integer && !Number.isInteger(v)) return reject(`expected ${expect}, got ${v}`);
    if ((opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) {
      return reject(`${v} is out of range: expected ${expect}`);
    }
    return v;
  });
}

export const int = (opts: { min?: number; max?: number } = {}): Schema<number> => num({ ...opts, integer: true });

export function bool(): Schema<boolean> {
  return scalar<boolean>('true or false', (v) => (typeof v === 'boolean' ? v : reject(`expected true or false, got ${String(v)}`)));
}

export function oneOf<T extends string>(values: readonly T[]): Schema<T> {
  const expect = `one of ${values.map((v) => (v === '' ? '""' : v)).join(', ')}`;
  return scalar<T>(expect, (v) => {
    // The listed value itself, not the parsed copy: literals are internalized, so the query path's comparisons
    // of these values with literals are pointer compares.
    const i = typeof v === 'string' ? (values as readonly string[]).indexOf(v) : -1;
    if (i >= 0) return values[i];
    const hint = typeof v === 'string' ? suggest(v, values) : '';
    return reject(`${typeof v === 'string' ? keyText(v) : String(v)} is not ${expect}${hint}`);
  });
}

export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return {
    expect: `${inner.expect} or null`,
    parse(node, ctx) {
      if (node.kind === 'scalar' && node.value === null) return null;
      return inner.parse(node, ctx);
    },
  };
}

/** A value that may be written as one item or a list of items. */
export function oneOrMany<T>(item: Schema<T>): Schema<T[]> {
  const many = list(item);
  return {
    expect: `${item.expect} or a list of them`,
    parse(node, ctx) {
      if (node.kind === 'seq') return many.parse(node, ctx);
      const v = item.parse(node, ctx);
      if (v === INVALID) return INVALID;
      const out = [v];
      track(out, ctx.src, offsetOf(node), true, [offsetOf(node)]);
      return out;
    },
  };
}

export function list<T>(item: Schema<T>, opts: { min?: number } = {}): Schema<T[]> {
  return {
    expect: `a list of ${item.expect}`,
    parse(node, ctx) {
      if (node.kind !== 'seq') return ctx.error(node, `expected a list, got ${describe(node)}`);
      const out: T[] = [];
      const offs: number[] = [];
      let bad = false;
      for (const child of node.items) {
        const v = item.parse(child, ctx);
        if (v === INVALID) bad = true;
        else {
          offs.push(offsetOf(child));
          out.push(v);
        }
      }
      if (opts.min !== undefined && node.items.length < opts.min) {
        return ctx.error(node, `needs at least ${opts.min} item${opts.min === 1 ? '' : 's'}`);
      }
      if (bad) return INVALID;
      track(out, ctx.src, offsetOf(node), true, offs);
      return out;
    },
  };
}

/** A mapping with arbitrary keys (pool names, region codes…) and values of one schema. */
export function dict<T>(value: Schema<T>, opts: { key?: (k: string, at: Pos, ctx: Ctx) => string | Invalid } = {}): Schema<Record<string, T>> {
  return {
    expect: `a mapping of ${value.expect}`,
    parse(node, ctx) {
      if (node.kind !== 'map') return ctx.error(node, `expected a mapping, got ${describe(node)}`);
      const out: Record<string, T> = Object.create(null) as Record<string, T>;
      const at: (string | number)[] = [];
      let bad = false;
      for (const pair of node.items) {
        if (pair.duplicate) continue; // reported by the reader
        const keyNode = pair.key;
        const rawKey = keyNode.kind === 'scalar' ? keyNode.value : null;
        if (typeof rawKey !== 'string' && typeof rawKey !== 'number') {
          ctx.error(keyNode, 'expected a string key');
          bad = true;
          continue;
        }
        let key = String(rawKey);
        if (opts.key) {
          const k = opts.key(key, ctx.pos(keyNode), ctx);
          if (k === INVALID) { bad = true; continue; }
          key = k;
        }
        // Keys that differ in YAML but not as strings (1 and "1"), or after opts.key (host and Host).
        if (key in out) {
          ctx.error(keyNode, `duplicate key ${keyText(key)}`);
          bad = true;
          continue;
        }
        const v = pair.value === null ? ctx.error(keyNode, `${keyText(key)} has no value`) : value.parse(pair.value, ctx);
        if (v === INVALID) { bad = true; continue; }
        out[key] = v;
        at.push(key, offsetOf(keyNode));
      }
      if (bad) return INVALID;
      track(out, ctx.src, offsetOf(node), false, at);
      return out;
    },
  };
}

export interface FieldSpec<T> {
  schema: Schema<T>;
  /** Used when the key is absent. A function gets a fresh value per use (for lists and objects). */
  default?: T | ((ctx: Ctx) => T);
  required?: boolean;
}

type FieldsOf<T> = { [K in keyof T]-?: FieldSpec<T[K]> | Schema<T[K]> };

export interface ObjectOptions {
  /** Keys accepted for compatibility with exported Cloudflare objects but without effect here: warned about, ignored. */
  ignored?: Record<string, string>;
  /** Keys that are errors with a specific explanation. */
  rejected?: Record<string, string>;
  /** Keys checked by a function of their own and left out of the value (e.g. `proxied`, which must be false). */
  checked?: Record<string, (value: YNode, ctx: Ctx) => void>;
  /** Checks that span fields, run when every field parsed. */
  check?: (value: Record<string, unknown>, node: YMap, ctx: Ctx) => void;
  /** Absent optional keys stay absent instead of becoming null (rule overrides: "not overridden"). */
  sparse?: boolean;
}

const ownMap = <V>(r: Record<string, V> | undefined): Map<string, V> => new Map(r ? Object.entries(r) : []);

export function obj<T extends object>(fields: FieldsOf<T>, opts: ObjectOptions = {}): Schema<T> {
  const names = Object.keys(fields);
  // Field presence is a bit mask, so that parsing an object allocates nothing but the object.
  if (names.length > 30) throw new Error('obj(): at most 30 fields');
  const specs = names.map((n) => asSpec((fields as Record<string, FieldSpec<unknown> | Schema<unknown>>)[n]));
  const index = new Map(names.map((n, i) => [n, i]));
  // Every object of a schema starts as a copy of one template with all its fields (a sparse one with none), so
  // they share one shape and are allocated at their final size.
  const template: Record<string, unknown> = {};
  if (!opts.sparse) for (const n of names) template[n] = null;
  const rejected = ownMap(opts.rejected);
  const checked = ownMap(opts.checked);
  const ignored = ownMap(opts.ignored);
  return {
    expect: 'a mapping',
    parse(node, ctx) {
      if (node.kind !== 'map') return ctx.error(node, `expected a mapping, got ${describe(node)}`);
      const out: Record<string, unknown> = { ...template };
      const at: (string | number)[] = [];
      let seen = 0;
      let bad = false;
      for (const pair of node.items) {
        if (pair.duplicate) continue; // reported by the reader
        const keyNode = pair.key;
        const key = keyNode.kind === 'scalar' ? String(keyNode.value) : null;
        if (key === null) {
          ctx.error(keyNode, 'expected a string key');
          bad = true;
          continue;
        }
        const i = index.get(key);
        if (i === undefined) {
          const why = rejected.get(key);
          const check = checked.get(key);
          const ignoredWhy = ignored.get(key);
          if (why !== undefined) {
            ctx.error(keyNode, why);
            bad = true;
          } else if (check !== undefined) {
            if (pair.value) check(pair.value, ctx);
          } else if (ignoredWhy !== undefined) {
            ctx.warn(keyNode, `${keyText(key)} is ignored: ${ignoredWhy}`);
          } else {
            ctx.error(keyNode, `unknown key ${keyText(key)}${ctx.suggest(key, names)}`);
            bad = true;
          }
          continue;
        }
        seen |= 1 << i;
        // "key:" with nothing after it: like an explicit null, at the key.
        const valueNode = pair.value ?? new YScalar(null, keyNode.start, keyNode.kind === 'scalar' && keyNode.quoted);
        const v = specs[i].schema.parse(valueNode, ctx);
        if (v === INVALID) bad = true;
        else out[key] = v;
        at.push(key, offsetOf(pair.value ?? keyNode));
      }
      for (let i = 0; i < names.length; i++) {
        if (seen & (1 << i)) continue;
        const spec = specs[i];
        if (spec.required) {
          ctx.error(node, `missing required key "${names[i]}"`);
          bad = true;
        } else if (spec.default !== undefined) {
          out[names[i]] = typeof spec.default === 'function' ? (spec.default as (ctx: Ctx) => unknown)(ctx) : spec.default;
        }
      }
      if (bad) return INVALID;
      track(out, ctx.src, offsetOf(node), false, at);
      opts.check?.(out, node, ctx);
      return out as T;
    },
  };
}

function asSpec<T>(f: FieldSpec<T> | Schema<T>): FieldSpec<T> {
  return 'parse' in f ? { schema: f } : f;
}

export function req<T>(schema: Schema<T>): FieldSpec<T> {
  return { schema, required: true };
}

export function opt<T>(schema: Schema<T>, def: T | ((ctx: Ctx) => T)): FieldSpec<T> {
  return { schema, default: def };
}

/** Optional without default: absent → null. */
export function maybe<T>(schema: Schema<T>): FieldSpec<T | null> {
  return { schema: nullable(schema) };
}

/** A schema that post-processes a parsed value; `map` returns the new value or a message. */
export function refine<T, U>(inner: Schema<T>, expect: string, map: (v: T, node: YNode, ctx: Ctx) => U | Invalid): Schema<U> {
  return {
    expect,
    parse(node, ctx) {
      const v = inner.parse(node, ctx);
      if (v === INVALID) return INVALID;
      const out = map(v, node, ctx);
      // A reshaped object keeps the positions of the one it came from (for later cross-reference errors).
      if (typeof out === 'object' && out !== null && typeof v === 'object' && v !== null && (out as unknown) !== v && getSpots(out) === undefined) {
        const p = getSpots(v);
        if (p) putSpots(out, p);
      }
      return out;
    },
  };
}

/**
 * " (did you mean "x"?)" for the candidate nearest to `word`, when it is near enough; else "". Candidates whose
 * length alone puts them out of reach are not compared, and `budget` (edit-distance cells) bounds the work.
 */
export function suggest(word: string, candidates: readonly string[], budget: { cells: number } = { cells: SUGGEST_BUDGET }): string {
  if (word.length > 64 || budget.cells <= 0) return '';
  const w = word.toLowerCase();
  const reach = Math.max(2, Math.floor(word.length / 3));
  let best = '';
  let bestDist = Infinity;
  for (const c of candidates) {
    if (Math.abs(c.length - w.length) > reach) continue;
    budget.cells -= (w.length + 1) * (c.length + 1);
    if (budget.cells < 0) return '';
    const d = editDistance(w, c.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  return best && bestDist <= reach ? ` (did you mean "${best}"?)` : '';
}

function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}
