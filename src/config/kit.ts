// A small declarative validator over the YAML tree (ast.ts). Each schema turns a node into a typed value or
// records a problem at the node's file:line:col; it never throws, so one pass reports every problem in the file.
import { yScalar, type YMap, type YNode, type YScalar } from './ast';
import { Source } from './source';
import type { Pos, Problem } from './types';

export const INVALID: unique symbol = Symbol('invalid');
export type Invalid = typeof INVALID;

/**
 * Where each value came from, for later cross-reference errors: offsets into the source, turned into line:col
 * only when asked (a config of 300,000 objects asks for a handful). One array per value, allocated at its size:
 * a list's item offsets, an object's or dict's keys with one offset each (of the value for an object field, of
 * the key for a dict entry), then the value's own offset and its Source (and LIST for a list). An object
 * holding these apart cost 200,000 more objects for the 10,000-LB config, every one copied by the scavenger.
 */
type Spots = readonly unknown[];

// A list's spots end with this marker after the source (a mapping's end with the source).
const LIST = true;

/** The trailer that makes `at` (on `scratch`) a Spots: where the value itself starts, its source, and LIST for a list. */
function putTrailer(ctx: Ctx, self: number, list: boolean): void {
  put(self);
  put(ctx.src);
  if (list) put(LIST);
}

/** Indexes of big dicts (pool_weights of thousands of pools), built on their first look-up. */
const bigIndexes = new WeakMap<Spots, Map<unknown, number>>();

function spotOffset(s: Spots, key: string | number | undefined): number {
  const list = s[s.length - 1] === LIST;
  const end = s.length - (list ? 3 : 2);
  const self = s[end] as number;
  if (key === undefined) return self;
  if (list) return typeof key === 'number' && key >= 0 && key < end ? (s[key] as number) : self;
  // A big dict gets an index instead of a scan per look-up.
  if (end > 64) {
    let index = bigIndexes.get(s);
    if (index === undefined) {
      index = new Map();
      for (let i = end - 2; i >= 0; i -= 2) index.set(s[i], s[i + 1] as number);
      bigIndexes.set(s, index);
    }
    return index.get(key) ?? self;
  }
  for (let i = 0; i < end; i += 2) if (s[i] === key) return s[i + 1] as number;
  return self;
}

function spotSource(s: Spots): Source {
  return s[s.length - (s[s.length - 1] === LIST ? 2 : 1)] as Source;
}

/** Positions given as such (setPos), for values made outside the schema. */
class FixedSpots {
  constructor(
    readonly self: Pos,
    readonly keys: Map<string | number, Pos>,
  ) {}
}

/** A base class whose constructor returns the object it is given, so that a subclass adds its fields to it. */
class OnObject {
  constructor(obj: object) {
    return obj;
  }
}

/**
 * The positions ride on the object itself, in a private field (invisible to Object.keys, JSON, spread, structured
 * clone and test equality) added by constructing this class over it. A WeakMap of 300,000 objects cost more in
 * garbage collection (ephemeron tables are traced specially) than all the parsing; it remains for objects that
 * cannot take a field. A private field, not a non-enumerable symbol property: Object.defineProperty costs
 * several times as much per object.
 */
class Positioned extends OnObject {
  #spots: Spots | FixedSpots | undefined;

  private constructor(obj: object, spots: Spots | FixedSpots) {
    super(obj);
    this.#spots = spots;
  }

  static get(obj: object): Spots | FixedSpots | undefined {
    return #spots in obj ? (obj as Positioned).#spots : frozen.get(obj);
  }

  static put(obj: object, spots: Spots | FixedSpots): void {
    if (#spots in obj) (obj as Positioned).#spots = spots;
    else if (Object.isExtensible(obj)) new Positioned(obj, spots);
    else frozen.set(obj, spots);
  }

  /** Empties the field of an object that has one (it stays: the object keeps its shape). */
  static clear(obj: object): void {
    if (#spots in obj) (obj as Positioned).#spots = undefined;
  }
}

const frozen = new WeakMap<object, Spots | FixedSpots>();

function getSpots(obj: object): Spots | FixedSpots | undefined {
  return Positioned.get(obj);
}

function putSpots(obj: object, spots: Spots | FixedSpots): void {
  Positioned.put(obj, spots);
}

export function posOf(obj: object, key?: string | number): Pos {
  const entry = getSpots(obj);
  if (!entry) return { file: '?', line: 0, col: 0 };
  if (entry instanceof FixedSpots) return key === undefined ? entry.self : entry.keys.get(key) ?? entry.self;
  return spotSource(entry).pos(spotOffset(entry, key));
}

/**
 * The objects of one load that carry positions, so that they can be let go of without walking the config (the
 * server after building its runtime: a 10,000-LB config keeps tens of MB of them).
 */
export class TrackedObjects {
  private objects: object[] = [];

  add(obj: object): void {
    this.objects.push(obj);
  }

  /** The property stays, emptied, so the objects keep their shapes (deleting it would turn them into slow
   *  dictionaries the query path reads). */
  dropPositions(): void {
    for (const obj of this.objects) Positioned.clear(obj);
    this.objects = [];
  }
}

export function setPos(obj: object, self: Pos, keys: Map<string | number, Pos> = new Map()): void {
  putSpots(obj, new FixedSpots(self, keys));
}

function track(ctx: Ctx, obj: object, at: Spots): void {
  putSpots(obj, at);
  ctx.tracked.add(obj);
}

/**
 * One growing array shared by every parse under way (they nest: each takes the part above where it began), so
 * that the arrays a config keeps are allocated once at their final size: an array grown by push from empty has
 * room for 17 items, ~150 bytes for what is mostly 2 to 10 (hundreds of thousands of them in a big config).
 */
const scratch: unknown[] = [];
/** The end of what is in use on `scratch` (its length stays, so that it is not shrunk and regrown). */
let top = 0;

function put(v: unknown): void {
  scratch[top++] = v;
}

/** The items put on `scratch` from `base` to `end`, as an array of their own. */
function taken<T>(base: number, end: number): T[] {
  return scratch.slice(base, end) as T[];
}

/** Empties `scratch` after a parse that did not return (an exception went through it). */
export function abandonParse(): void {
  top = 0;
  scratch.length = 0;
}

/** Gives `scratch` back down to `base`; at the outermost parse, lets go of what it still refers to. */
function release(base: number): void {
  top = base;
  if (base === 0) scratch.length = 0;
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
  /** Every object given positions by this load. */
  readonly tracked = new TrackedObjects();
  /** The key of the named mapping entry being parsed (a pool's or monitor's name when it has no `name`). */
  key = '';
  /**
   * Named things (zones, pools, monitors, monitor groups) whose definition had an error and was left out of the
   * value: references to them are not reported again, and cross-checks skip what uses them.
   */
  readonly dropped = new Map<string, Set<string>>();
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

  drop(kind: string, name: string): void {
    let set = this.dropped.get(kind);
    if (!set) this.dropped.set(kind, (set = new Set()));
    set.add(name);
  }

  isDropped(kind: string, name: string): boolean {
    return this.dropped.get(kind)?.has(name) ?? false;
  }

  /** `suggest` within this load's budget. */
  suggest(word: string, candidates: readonly string[]): string {
    return suggest(word, candidates, this.suggestBudget);
  }
}

function isPos(x: unknown): x is Pos {
  return typeof x === 'object' && x !== null && 'line' in x && 'col' in x && 'file' in x;
}

/** A JSON Schema (draft-07) fragment. */
export type JsonSchema = { [key: string]: unknown } | boolean;

/** What a JSON Schema description needs from outside the config module (the DNS layer's record types). */
export interface JsonOptions {
  /** Record types a static record may have; without them any uppercase token is described. */
  recordTypes?: readonly string[];
}

export interface Schema<T> {
  /** A word or two for messages: "a string", "an integer from 1 to 65535". */
  readonly expect: string;
  parse(node: YNode, ctx: Ctx): T | Invalid;
  /** This schema as JSON Schema, for editors and other validators (generated from the same definitions). */
  json(o: JsonOptions): JsonSchema;
  /** A parsed value back in the form the file is written in (`check --print`); absent: the value as it is. */
  dump?(value: T): unknown;
}

/** A value in its written form, by its schema. */
export function dumpWith<T>(schema: Schema<T>, value: T): unknown {
  return schema.dump ? schema.dump(value) : value;
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

function scalar<T>(expect: string, accept: (v: unknown, node: YScalar) => T | string, json: JsonSchema): Schema<T> {
  return {
    expect,
    json: () => json,
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
  }, {
    type: 'string',
    ...(opts.nonEmpty ? { minLength: 1, pattern: opts.pattern ? opts.pattern.source : '\\S' } : opts.pattern ? { pattern: opts.pattern.source } : {}),
    ...(opts.max !== undefined ? { maxLength: opts.max } : {}),
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
  }, { type: opts.integer ? 'integer' : 'number', ...(opts.min !== undefined ? { minimum: opts.min } : {}), ...(opts.max !== undefined ? { maximum: opts.max } : {}) });
}

export const int = (opts: { min?: number; max?: number } = {}): Schema<number> => num({ ...opts, integer: true });

export function bool(): Schema<boolean> {
  return scalar<boolean>('true or false', (v) => (typeof v === 'boolean' ? v : reject(`expected true or false, got ${String(v)}`)), { type: 'boolean' });
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
  }, { enum: [...values] });
}

export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return {
    expect: `${inner.expect} or null`,
    json: (o) => ({ anyOf: [inner.json(o), { type: 'null' }] }),
    dump: (v) => (v === null ? null : dumpWith(inner, v)),
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
    json: (o) => ({ anyOf: [item.json(o), { type: 'array', items: item.json(o) }] }),
    dump: (v) => v.map((x) => dumpWith(item, x)),
    parse(node, ctx) {
      if (node.kind === 'seq') return many.parse(node, ctx);
      const v = item.parse(node, ctx);
      if (v === INVALID) return INVALID;
      const out = [v];
      track(ctx, out, [offsetOf(node), offsetOf(node), ctx.src, LIST]);
      return out;
    },
  };
}

/** Lists and mappings that had entries left out for an error (so counts over them are not the file's). */
const partial = new WeakSet<object>();

/** Whether a list or mapping lost entries to errors (checks that count entries skip it: the count is not the file's). */
export function isPartial(value: object): boolean {
  return partial.has(value);
}

/**
 * A list. An item with an error is reported and left out, and the list goes on with the others, so that the rest of
 * the file is still checked (the config as a whole is refused all the same: it has an error).
 */
export function list<T>(item: Schema<T>, opts: { min?: number } = {}): Schema<T[]> {
  return {
    expect: `a list of ${item.expect}`,
    json: (o) => ({ type: 'array', items: item.json(o), ...(opts.min ? { minItems: opts.min } : {}) }),
    dump: (v) => v.map((x) => dumpWith(item, x)),
    parse(node, ctx) {
      if (node.kind !== 'seq') return ctx.error(node, `expected a list, got ${describe(node)}`);
      // Each item that parsed and its offset on `scratch`; then the items, then the offsets, copied out.
      const base = top;
      // Read once: a lazy collection (yaml-fast.ts) reads its text again on every access.
      const items = node.items;
      for (const child of items) {
        const v = item.parse(child, ctx);
        if (v !== INVALID) {
          put(v);
          put(offsetOf(child));
        }
      }
      const end = top;
      const n = (end - base) >> 1;
      for (let i = base; i < end; i += 2) put(scratch[i]);
      for (let i = base + 1; i < end; i += 2) put(scratch[i]);
      putTrailer(ctx, offsetOf(node), true);
      const out = taken<T>(end, end + n);
      const offs = taken<unknown>(end + n, top);
      release(base);
      if (out.length < items.length) partial.add(out);
      if (opts.min !== undefined && items.length < opts.min) {
        return ctx.error(node, `needs at least ${opts.min} item${opts.min === 1 ? '' : 's'}`);
      }
      track(ctx, out, offs);
      return out;
    },
  };
}

/** A mapping with arbitrary keys (pool names, region codes…) and values of one schema. */
export function dict<T>(value: Schema<T>, opts: { key?: (k: string, at: Pos, ctx: Ctx) => string | Invalid; keyJson?: JsonSchema } = {}): Schema<Record<string, T>> {
  return {
    expect: `a mapping of ${value.expect}`,
    json: (o) => ({ type: 'object', additionalProperties: value.json(o), ...(opts.keyJson ? { propertyNames: opts.keyJson } : {}) }),
    dump: (v) => {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v)) out[k] = dumpWith(value, v[k]);
      return out;
    },
    parse(node, ctx) {
      if (node.kind !== 'map') return ctx.error(node, `expected a mapping, got ${describe(node)}`);
      const out: Record<string, T> = Object.create(null) as Record<string, T>;
      const base = top;
      for (const pair of node.items) {
        if (pair.duplicate) continue; // reported by the reader
        const keyNode = pair.key;
        const rawKey = keyNode.kind === 'scalar' ? keyNode.value : null;
        if (typeof rawKey !== 'string' && typeof rawKey !== 'number') {
          ctx.error(keyNode, 'expected a string key');
          continue;
        }
        let key = String(rawKey);
        if (opts.key) {
          const k = opts.key(key, ctx.pos(keyNode), ctx);
          if (k === INVALID) continue;
          key = k;
        }
        // Keys that differ in YAML but not as strings (1 and "1"), or after opts.key (host and Host).
        if (key in out) {
          ctx.error(keyNode, `duplicate key ${keyText(key)}`);
          continue;
        }
        const v = pair.value === null ? ctx.error(keyNode, `${keyText(key)} has no value`) : value.parse(pair.value, ctx);
        // An entry with an error is reported and left out; the mapping goes on (see list()).
        if (v === INVALID) continue;
        out[key] = v;
        put(key);
        put(offsetOf(keyNode));
      }
      putTrailer(ctx, offsetOf(node), false);
      const at = taken<unknown>(base, top);
      release(base);
      track(ctx, out, at);
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
  /**
   * An optional field with an error takes its default and the object stays (without its `check`), so that one
   * mistake in a block does not hide the rest of the file from the cross-checks. For blocks whose fields are
   * independent of each other (the server block, the top level).
   */
  recover?: boolean;
  /** Called when the object is left out for an error (`fields`: what did parse), to remember its name. */
  dropped?: (fields: Record<string, unknown>, ctx: Ctx) => void;
  /** JSON Schema of the `checked` keys (by default anything). */
  checkedJson?: Record<string, JsonSchema>;
  /** A title for the JSON Schema (shown by editors). */
  title?: string;
}

const ownMap = <V>(r: Record<string, V> | undefined): Map<string, V> => new Map(r ? Object.entries(r) : []);

export function obj<T extends object>(fields: FieldsOf<T>, opts: ObjectOptions = {}): Schema<T> {
  const names = Object.keys(fields);
  // Field presence is a bit mask, so that parsing an object allocates nothing but the object.
  if (names.length > 30) throw new Error('obj(): at most 30 fields');
  const specs = names.map((n) => asSpec((fields as Record<string, FieldSpec<unknown> | Schema<unknown>>)[n]));
  const index = new Map(names.map((n, i) => [n, i]));
  // Every object of a schema starts as a copy of one template with all its fields (a sparse one with none), so
  // they share one shape. Object.assign, not a spread: V8 gives a spread copy a map of its own once a property
  // is added to it (the positions, below), a map and descriptor array per object (~500 bytes each).
  const template: Record<string, unknown> = {};
  if (!opts.sparse) for (const n of names) template[n] = null;
  const rejected = ownMap(opts.rejected);
  const checked = ownMap(opts.checked);
  const ignored = ownMap(opts.ignored);
  return {
    expect: 'a mapping',
    json(o) {
      const properties: Record<string, JsonSchema> = {};
      names.forEach((n, i) => {
        const spec = specs[i];
        const js = spec.schema.json(o);
        const def = jsonDefault(spec);
        properties[n] = def === undefined || typeof js === 'boolean' ? js : { ...js, default: def };
      });
      for (const [k, why] of ignored) properties[k] = { description: `accepted for compatibility with exported Cloudflare objects and ignored: ${why}` };
      for (const [k, why] of rejected) properties[k] = { not: {}, description: why };
      for (const k of checked.keys()) properties[k] = opts.checkedJson?.[k] ?? {};
      const required = names.filter((_, i) => specs[i].required);
      return {
        ...(opts.title ? { title: opts.title } : {}),
        type: 'object',
        properties,
        ...(required.length ? { required } : {}),
        additionalProperties: false,
      };
    },
    dump(v) {
      const value = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      names.forEach((n, i) => {
        if (!(n in value)) return;
        out[n] = value[n] === null ? null : dumpWith(specs[i].schema, value[n]);
      });
      return out;
    },
    parse(node, ctx) {
      if (node.kind !== 'map') return ctx.error(node, `expected a mapping, got ${describe(node)}`);
      const out: Record<string, unknown> = Object.assign({}, template);
      const base = top;
      let seen = 0;
      let bad = false;
      let recovered = false;
      for (const pair of node.items) {
        if (pair.duplicate) continue; // reported by the reader
        const keyNode = pair.key;
        const key = keyNode.kind === 'scalar' ? String(keyNode.value) : null;
        // A wrong key is reported; the object goes on without it.
        if (key === null) {
          ctx.error(keyNode, 'expected a string key');
          continue;
        }
        const i = index.get(key);
        if (i === undefined) {
          const why = rejected.get(key);
          const check = checked.get(key);
          const ignoredWhy = ignored.get(key);
          if (why !== undefined) {
            ctx.error(keyNode, why);
          } else if (check !== undefined) {
            if (pair.value) check(pair.value, ctx);
          } else if (ignoredWhy !== undefined) {
            ctx.warn(keyNode, `${keyText(key)} is ignored: ${ignoredWhy}`);
          } else {
            ctx.error(keyNode, `unknown key ${keyText(key)}${ctx.suggest(key, names)}`);
          }
          continue;
        }
        seen |= 1 << i;
        // The schema's own string for the key, not the file's copy: one string for every object, and a store
        // under a constant name.
        const name = names[i];
        // "key:" with nothing after it: like an explicit null, at the key.
        const valueNode = pair.value ?? yScalar(null, keyNode.start, keyNode.kind === 'scalar' && keyNode.quoted);
        const v = specs[i].schema.parse(valueNode, ctx);
        if (v !== INVALID) out[name] = v;
        else if (opts.recover && !specs[i].required) {
          recovered = true;
          seen &= ~(1 << i); // takes its default below
          continue;
        } else bad = true;
        put(name);
        put(offsetOf(pair.value ?? keyNode));
      }
      putTrailer(ctx, offsetOf(node), false);
      const at = taken<unknown>(base, top);
      release(base);
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
      if (bad) {
        opts.dropped?.(out, ctx);
        return INVALID;
      }
      track(ctx, out, at);
      if (!recovered) opts.check?.(out, node, ctx);
      return out as T;
    },
  };
}

/** The default of a field as written in a file, for JSON Schema; undefined when it depends on the file. */
function jsonDefault(spec: FieldSpec<unknown>): unknown {
  const d = spec.default;
  if (d === undefined) return undefined;
  // A default computed from the context (a name from its key) is not a constant.
  if (typeof d === 'function' && d.length > 0) return undefined;
  const v = dumpWith(spec.schema, typeof d === 'function' ? (d as () => unknown)() : d);
  // Scalars and lists of scalars only: a whole default block would drown the schema.
  const plain = (x: unknown) => x === null || typeof x !== 'object';
  return v === null ? undefined : plain(v) || (Array.isArray(v) && v.every(plain)) ? v : undefined;
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

/**
 * A schema that post-processes a parsed value; `map` returns the new value or a message. When the value changes
 * shape, `how.dump` writes it back in the form of the file, and `how.json` may describe it better than `inner`.
 */
export function refine<T, U>(
  inner: Schema<T>,
  expect: string,
  map: (v: T, node: YNode, ctx: Ctx) => U | Invalid,
  how: { json?: (o: JsonOptions) => JsonSchema; dump?: (v: U) => unknown } = {},
): Schema<U> {
  return {
    expect,
    json: how.json ?? ((o) => inner.json(o)),
    dump: how.dump ?? ((v) => dumpWith(inner, v as unknown as T)),
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
