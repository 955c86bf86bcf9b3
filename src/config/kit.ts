// A small declarative validator over YAML nodes. Each schema turns a node into a typed value or records a
// problem at the node's file:line:col; it never throws, so one pass reports every problem in the file.
import { isMap, isScalar, isSeq, LineCounter, Node, Pair, Scalar, YAMLMap } from 'yaml';
import type { Pos, Problem } from './types';

export const INVALID: unique symbol = Symbol('invalid');
export type Invalid = typeof INVALID;

/** Where each value came from: positions of objects, and of their keys/items, for later cross-reference errors. */
const positions = new WeakMap<object, { self: Pos; keys: Map<string | number, Pos> }>();

export function posOf(obj: object, key?: string | number): Pos {
  const entry = positions.get(obj);
  if (!entry) return { file: '?', line: 0, col: 0 };
  if (key === undefined) return entry.self;
  return entry.keys.get(key) ?? entry.self;
}

export function setPos(obj: object, self: Pos, keys: Map<string | number, Pos> = new Map()): void {
  positions.set(obj, { self, keys });
}

export class Ctx {
  readonly problems: Problem[] = [];
  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
    private readonly fallback: Pos = { file, line: 1, col: 1 },
  ) {}

  /** A quoted scalar's position is that of its first character inside the quotes, so that an offset into the
   *  string (a rule-expression error) can be added to the column. */
  pos(node: Node | Pair | null | undefined): Pos {
    const range = node && 'range' in node ? node.range : null;
    if (!range) return this.fallback;
    let start = range[0];
    if (isScalar(node) && (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE')) start += 1;
    const { line, col } = this.lines.linePos(start);
    return { file: this.file, line, col };
  }

  error(at: Node | Pair | Pos | null | undefined, message: string): Invalid {
    this.problems.push({ pos: isPos(at) ? at : this.pos(at), message, severity: 'error' });
    return INVALID;
  }

  warn(at: Node | Pair | Pos | null | undefined, message: string): void {
    this.problems.push({ pos: isPos(at) ? at : this.pos(at), message, severity: 'warning' });
  }
}

function isPos(x: unknown): x is Pos {
  return typeof x === 'object' && x !== null && 'line' in x && 'col' in x && 'file' in x;
}

export interface Schema<T> {
  /** A word or two for messages: "a string", "an integer from 1 to 65535". */
  readonly expect: string;
  parse(node: Node, ctx: Ctx): T | Invalid;
}

function describe(node: Node): string {
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'null';
    if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
    return String(v);
  }
  return 'something else';
}

function scalar<T>(expect: string, accept: (v: unknown, node: Scalar) => T | string): Schema<T> {
  return {
    expect,
    parse(node, ctx) {
      if (!isScalar(node)) return ctx.error(node, `expected ${expect}, got ${describe(node)}`);
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
    if (opts.pattern && !opts.pattern.test(v)) return reject(`"${v}" is not ${opts.patternHint ?? 'valid'}`);
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
    if (typeof v !== 'number' || !Number.isFinite(v)) return reject(`expected ${expect}, got ${typeof v === 'string' ? `"${v}"` : String(v)}`);
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
    return reject(`${typeof v === 'string' ? `"${v}"` : String(v)} is not ${expect}${hint}`);
  });
}

export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return {
    expect: `${inner.expect} or null`,
    parse(node, ctx) {
      if (isScalar(node) && node.value === null) return null;
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
      if (isSeq(node)) return many.parse(node, ctx);
      const v = item.parse(node, ctx);
      if (v === INVALID) return INVALID;
      const out = [v];
      setPos(out, ctx.pos(node), new Map([[0, ctx.pos(node)]]));
      return out;
    },
  };
}

export function list<T>(item: Schema<T>, opts: { min?: number } = {}): Schema<T[]> {
  return {
    expect: `a list of ${item.expect}`,
    parse(node, ctx) {
      if (!isSeq(node)) return ctx.error(node, `expected a list, got ${describe(node)}`);
      const out: T[] = [];
      const keys = new Map<number, Pos>();
      let bad = false;
      node.items.forEach((child, i) => {
        const v = item.parse(child as Node, ctx);
        if (v === INVALID) bad = true;
        else {
          keys.set(out.length, ctx.pos(child as Node));
          out.push(v);
        }
        void i;
      });
      if (opts.min !== undefined && node.items.length < opts.min) {
        return ctx.error(node, `needs at least ${opts.min} item${opts.min === 1 ? '' : 's'}`);
      }
      if (bad) return INVALID;
      setPos(out, ctx.pos(node), keys);
      return out;
    },
  };
}

/** A mapping with arbitrary keys (pool names, region codes…) and values of one schema. */
export function dict<T>(value: Schema<T>, opts: { key?: (k: string, at: Pos, ctx: Ctx) => string | Invalid } = {}): Schema<Record<string, T>> {
  return {
    expect: `a mapping of ${value.expect}`,
    parse(node, ctx) {
      if (!isMap(node)) return ctx.error(node, `expected a mapping, got ${describe(node)}`);
      const out: Record<string, T> = Object.create(null) as Record<string, T>;
      const keys = new Map<string, Pos>();
      let bad = false;
      for (const pair of node.items) {
        const keyNode = pair.key as Node;
        const keyPos = ctx.pos(keyNode);
        const rawKey = isScalar(keyNode) ? keyNode.value : null;
        if (typeof rawKey !== 'string' && typeof rawKey !== 'number') {
          ctx.error(keyNode, 'expected a string key');
          bad = true;
          continue;
        }
        let key = String(rawKey);
        if (opts.key) {
          const k = opts.key(key, keyPos, ctx);
          if (k === INVALID) { bad = true; continue; }
          key = k;
        }
        if (key in out) {
          ctx.error(keyNode, `duplicate key "${key}"`);
          bad = true;
          continue;
        }
        const v = pair.value === null ? ctx.error(keyNode, `"${key}" has no value`) : value.parse(pair.value as Node, ctx);
        if (v === INVALID) { bad = true; continue; }
        out[key] = v;
        keys.set(key, keyPos);
      }
      if (bad) return INVALID;
      setPos(out, ctx.pos(node), keys);
      return out;
    },
  };
}

export interface FieldSpec<T> {
  schema: Schema<T>;
  /** Used when the key is absent. A function gets a fresh value per use (for lists and objects). */
  default?: T | (() => T);
  required?: boolean;
}

type FieldsOf<T> = { [K in keyof T]-?: FieldSpec<T[K]> | Schema<T[K]> };

export interface ObjectOptions {
  /** Keys accepted for compatibility with exported Cloudflare objects but without effect here: warned about, ignored. */
  ignored?: Record<string, string>;
  /** Keys that are errors with a specific explanation. */
  rejected?: Record<string, string>;
  /** Keys checked by a function of their own and left out of the value (e.g. `proxied`, which must be false). */
  checked?: Record<string, (value: Node, ctx: Ctx) => void>;
  /** Checks that span fields, run when every field parsed. */
  check?: (value: Record<string, unknown>, node: YAMLMap, ctx: Ctx) => void;
  /** Absent optional keys stay absent instead of becoming null (rule overrides: "not overridden"). */
  sparse?: boolean;
}

export function obj<T extends object>(fields: FieldsOf<T>, opts: ObjectOptions = {}): Schema<T> {
  const names = Object.keys(fields);
  return {
    expect: 'a mapping',
    parse(node, ctx) {
      if (!isMap(node)) return ctx.error(node, `expected a mapping, got ${describe(node)}`);
      const out: Record<string, unknown> = {};
      const keys = new Map<string, Pos>();
      const seen = new Set<string>();
      let bad = false;
      for (const pair of node.items) {
        const keyNode = pair.key as Node;
        const key = isScalar(keyNode) ? String(keyNode.value) : null;
        if (key === null) {
          ctx.error(keyNode, 'expected a string key');
          bad = true;
          continue;
        }
        if (seen.has(key)) {
          ctx.error(keyNode, `duplicate key "${key}"`);
          bad = true;
          continue;
        }
        seen.add(key);
        if (opts.rejected && key in opts.rejected) {
          ctx.error(keyNode, opts.rejected[key]);
          bad = true;
          continue;
        }
        if (opts.checked && key in opts.checked) {
          if (pair.value) opts.checked[key](pair.value as Node, ctx);
          continue;
        }
        if (opts.ignored && key in opts.ignored) {
          ctx.warn(keyNode, `"${key}" is ignored: ${opts.ignored[key]}`);
          continue;
        }
        if (!Object.prototype.hasOwnProperty.call(fields, key)) {
          ctx.error(keyNode, `unknown key "${key}"${suggest(key, names)}`);
          bad = true;
          continue;
        }
        const spec = asSpec((fields as Record<string, FieldSpec<unknown> | Schema<unknown>>)[key]);
        const valueNode = pair.value as Node | null;
        if (valueNode === null || valueNode === undefined) {
          // "key:" with nothing after it: treat like an explicit null.
          const nullNode = new Scalar(null);
          nullNode.range = keyNode.range;
          const v = spec.schema.parse(nullNode, ctx);
          if (v === INVALID) bad = true;
          else out[key] = v;
          keys.set(key, ctx.pos(keyNode));
          continue;
        }
        const v = spec.schema.parse(valueNode, ctx);
        if (v === INVALID) bad = true;
        else out[key] = v;
        keys.set(key, ctx.pos(valueNode));
      }
      for (const name of names) {
        if (seen.has(name)) continue;
        const spec = asSpec((fields as Record<string, FieldSpec<unknown> | Schema<unknown>>)[name]);
        if (spec.required) {
          ctx.error(node, `missing required key "${name}"`);
          bad = true;
        } else if (spec.default !== undefined) {
          out[name] = typeof spec.default === 'function' ? (spec.default as () => unknown)() : spec.default;
        } else if (!opts.sparse) {
          out[name] = null;
        }
      }
      if (bad) return INVALID;
      setPos(out, ctx.pos(node), keys);
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

export function opt<T>(schema: Schema<T>, def: T | (() => T)): FieldSpec<T> {
  return { schema, default: def };
}

/** Optional without default: absent → null. */
export function maybe<T>(schema: Schema<T>): FieldSpec<T | null> {
  return { schema: nullable(schema) };
}

/** A schema that post-processes a parsed value; `map` returns the new value or a message. */
export function refine<T, U>(inner: Schema<T>, expect: string, map: (v: T, node: Node, ctx: Ctx) => U | Invalid): Schema<U> {
  return {
    expect,
    parse(node, ctx) {
      const v = inner.parse(node, ctx);
      if (v === INVALID) return INVALID;
      const out = map(v, node, ctx);
      // A reshaped object keeps the positions of the one it came from (for later cross-reference errors).
      if (typeof out === 'object' && out !== null && typeof v === 'object' && v !== null && !positions.has(out)) {
        const p = positions.get(v);
        if (p) positions.set(out, p);
      }
      return out;
    },
  };
}

export function suggest(word: string, candidates: readonly string[]): string {
  let best = '';
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  return best && bestDist <= Math.max(2, Math.floor(word.length / 3)) ? ` (did you mean "${best}"?)` : '';
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
