// The fast YAML reader against the full one (the `yaml` package): on every input the fast reader accepts, both
// must give the same tree — same kinds, values, offsets, quoting and duplicate flags — and the full reader must
// find no error. Inputs: the shipped configs, hand-picked edge cases, and a few thousand generated and mutated
// documents (seeded, so a failure replays).
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { yMap, yPair, ySeq, type YNode } from '../../src/config/ast';
import { FastReaderGaveUp, parseFast } from '../../src/config/yaml-fast';
import { parseFull } from '../../src/config/yaml-full';

const ROOT = path.resolve(__dirname, '../..');
const MAX = 64;

function same(a: YNode | null, b: YNode | null, where = '$'): string | null {
  if (a === null || b === null) return a === b ? null : `${where}: ${a === null ? 'null' : a.kind} vs ${b === null ? 'null' : b.kind}`;
  if (a.kind !== b.kind) return `${where}: kind ${a.kind} vs ${b.kind}`;
  if (a.start !== b.start) return `${where}: start ${a.start} vs ${b.start}`;
  if (a.kind === 'scalar' && b.kind === 'scalar') {
    if (!Object.is(a.value, b.value)) return `${where}: value ${JSON.stringify(a.value)} vs ${JSON.stringify(b.value)}`;
    if (a.quoted !== b.quoted) return `${where}: quoted ${a.quoted} vs ${b.quoted}`;
    return null;
  }
  if (a.kind === 'seq' && b.kind === 'seq') {
    if (a.items.length !== b.items.length) return `${where}: ${a.items.length} vs ${b.items.length} items`;
    for (let i = 0; i < a.items.length; i++) {
      const d = same(a.items[i], b.items[i], `${where}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (a.kind === 'map' && b.kind === 'map') {
    if (a.items.length !== b.items.length) return `${where}: ${a.items.length} vs ${b.items.length} pairs`;
    for (let i = 0; i < a.items.length; i++) {
      const pa = a.items[i];
      const pb = b.items[i];
      if (pa.duplicate !== pb.duplicate) return `${where}{${i}}: duplicate ${pa.duplicate} vs ${pb.duplicate}`;
      const d = same(pa.key, pb.key, `${where}{${i}}.key`) ?? same(pa.value, pb.value, `${where}{${i}}.value`);
      if (d) return d;
    }
    return null;
  }
  return `${where}: ${a.kind}`;
}

/** Lazy collections read, and lazy trees given up on only when a part was read (for the generator's coverage). */
const lazyStats = { collections: 0, gaveUpLate: 0 };

/** A tree whose lazy collections are read, as plain nodes (each collection's items read once). */
function materialize(n: YNode | null): YNode | null {
  if (n === null || n.kind === 'scalar' || n.kind === 'other') return n;
  // A lazy collection's items are a getter on its prototype.
  if (!Object.prototype.hasOwnProperty.call(n, 'items')) lazyStats.collections++;
  if (n.kind === 'seq') return ySeq(n.start, n.items.map((x) => materialize(x) as YNode));
  return yMap(n.start, n.items.map((p) => yPair(materialize(p.key) as YNode, materialize(p.value), p.duplicate)));
}

/** The lazy tree read whole, with every duplicate reported; null when the fast reader gave up on any part. */
function readLazily(text: string): { root: YNode | null; duplicates: YNode[] } | null {
  const reported: YNode[] = [];
  try {
    const r = parseFast(text, MAX, { duplicate: (k) => reported.push(k) });
    if (r === null) return null;
    const root = materialize(r.root);
    // Read again: the same items, and nothing reported twice.
    const again = materialize(r.root);
    const d = same(root, again);
    if (d) throw new Error(`a lazy collection read twice differs: ${d}`);
    r.finish();
    return { root, duplicates: [...r.duplicates, ...reported] };
  } catch (e) {
    if (!(e instanceof FastReaderGaveUp)) throw e;
    lazyStats.gaveUpLate++;
    return null;
  }
}

const startsOf = (keys: YNode[]) => keys.map((k) => k.start).sort((a, b) => a - b).join(',');

/**
 * null when the readers agree (or the fast one gave up), else what differs. The fast reader's lazy tree (read
 * whole) must be the eager one, and give up exactly when the eager reader does.
 */
function compare(text: string): string | null {
  const fast = parseFast(text, MAX);
  const lazy = readLazily(text);
  if ((fast === null) !== (lazy === null)) return `the eager fast reader ${fast === null ? 'gave up' : 'read it'}, the lazy one ${lazy === null ? 'gave up' : 'read it'}`;
  if (fast !== null && lazy !== null) {
    const d = same(fast.root, lazy.root, '$lazy');
    if (d) return d;
    if (startsOf(fast.duplicates) !== startsOf(lazy.duplicates)) return `duplicates at ${startsOf(fast.duplicates)} eager vs ${startsOf(lazy.duplicates)} lazy`;
  }
  if (fast === null) return null;
  const full = parseFull(text, MAX);
  const errors = full.problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) return `fast accepted what the full reader rejects: ${errors[0].message} at ${errors[0].offset}`;
  const d = same(fast.root, full.root);
  if (d) return d;
  const fd = fast.duplicates.map((k) => k.start).join(',');
  const ud = full.duplicates.map((k) => k.start).join(',');
  return fd === ud ? null : `duplicates at ${fd} vs ${ud}`;
}

function expectAgree(text: string): void {
  const d = compare(text);
  if (d !== null) throw new Error(`${d}\n--- input ---\n${text}`);
}

test('the shipped configs are read by the fast reader, with the same tree as the full one', () => {
  for (const f of ['config/example.yaml', 'bench/configs/bench.yaml']) {
    const text = readFileSync(path.join(ROOT, f), 'utf8');
    expect(parseFast(text, MAX)).not.toBeNull();
    expectAgree(text);
  }
});

const CASES: Array<[string, boolean]> = [
  // [text, the fast reader accepts it]
  ['a: 1\nb: [x, "y", \'z\']\nc: { d: ~, e: null, f: true, g: 0x1F, h: 0o17, i: -1.5e3, j: .inf, k: .NaN }\n', true],
  ['a:\n- 1\n- 2\nb:\n  - x: 1\n    y: 2\n  -\n    z: 3\n  - # c\n    w\n', true],
  ['a:   \nb:   # comment\nc:\n\nd: 1\n', true],
  ['key:\n  value on the next line\nk2: "x"   # c\n', true],
  ['"quoted key": 1\n\'single\': 2\n"esc \\" \\\\ \\n \\u00e9 \\x41 \\U0001F600": 3\n', true],
  ['a: 1\na: 2\nb: {x: 1, x: 2}\n1: a\n"1": b\n', true],
  ['url: http://example.com:80/a#b\nlisten: 127.0.0.1:5353\nv6: "[::1]:53"\nflow: [a:b, c]\n', true],
  ['a: b # c\n#only\n   # indented comment\nd: "e"#f\n', false],
  ['- a\n- b\n', true],
  ['  a: 1\n  b: 2\n', true],
  ['a: [1, 2,]\nb: {}\nc: []\nd: [[], [[1]], {x: [y]}]\n', true],
  ['a: &x 1\nb: *x\n', false],
  ['a: !!str 1\n', false],
  ['a: |\n  text\n', false],
  ['a: b\n  c\n', false],
  ['---\na: 1\n', false],
  ['a: 1\n---\nb: 2\n', false],
  ['a: "x\n  y"\n', false],
  ['a: [1,\n  2]\n', false],
  ['a:\tb\n', false],
  ['a: 1\r\nb: 2\r\n', false],
  ['? a\n: b\n', false],
  ['a: b: c\n', false],
  ['- - a\n', false],
  ['a: {b}\n', false],
  ['a: [b: c]\n', false],
  ['a:\n  b: 1\n c: 2\n', false],
  ['a: 1\n  b: 2\n', false],
  ['a: "unterminated\n', false],
  ['plain scalar document\n', false],
  ['', true],
  ['# only a comment\n', true],
  ['a: 1e3\nb: 1.\nc: +5\nd: 007\ne: 1_000\nf: 0b1\ng: True\nh: NULL\ni: Yes\nj: -.inf\n', true],
  ['a: "\\q"\n', false],
  ['a: \'it\'\'s\'\n', true],
  ['a: -\n', false],
  ['a: [-]\n', false],
  ['a: -1\nb: [-2, -x]\nc: ?x\nd: :x\n', true],
  ['a: {b: c, d: [e, {f: g}]}\n', true],
  [`${'k'.repeat(1100)}: 1\n`, false],
  ['a: "x" y\n', false],
  ['a: [x] y\n', false],
  ['a:\n  - b\n  c: d\n', false],
  ['a:\n- b\nc: d\n', true],
  ['a:\n    - b\n    - c\n  # comment\nd: e\n', true],
];

test.each(CASES.map(([t, ok], i) => [i, t, ok] as const))('edge case %d', (_i, text, ok) => {
  expect(parseFast(text, MAX) !== null).toBe(ok);
  expectAgree(text);
});

// ---- generated documents --------------------------------------------------------------------------------------

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SCALARS = [
  'a', 'name', 'x y', '1', '-1', '+1', '0x1F', '0o17', '1.5', '1e3', '.inf', '-.Inf', '.nan', '~', 'null', 'Null', 'true', 'False',
  'TRUE', 'yes', '127.0.0.1', '127.0.0.1:5353', 'http://a/b#c', 'a#b', 'a:b', '-x', '?x', ':x', 'é', '日本', '[::1]:53', '""', "''",
  '"q"', "'s'", '"a\\"b"', "'it''s'", '"\\t\\u00e9"', 'a,b', 'a]', 'a}', '{', '[', '#', '&a', '*a', '!t', '|', '>', '%', '@', '`', '- x',
  'a: b', '? x', 'x ', ' x', '', '1..2', '1.2.3e4', '.1.', '-1.5.', '+.5.5',
];

const PLAIN = ['a', 'name', 'pool-1', 'x y', '1', '-1', '1.5', 'true', 'null', '127.0.0.1', '"q"', "'s'", 'lb.example.com'];
let scalars = SCALARS;

function genScalar(r: () => number): string {
  return scalars[Math.floor(r() * scalars.length)];
}

function genFlow(r: () => number, depth: number): string {
  if (depth > 2 || r() < 0.5) return genScalar(r);
  const n = Math.floor(r() * 4);
  const items: string[] = [];
  if (r() < 0.5) {
    for (let i = 0; i < n; i++) items.push(genFlow(r, depth + 1));
    return `[${items.join(r() < 0.8 ? ', ' : ',')}${r() < 0.1 ? ',' : ''}]`;
  }
  for (let i = 0; i < n; i++) items.push(`${genScalar(r)}: ${genFlow(r, depth + 1)}`);
  return `{${r() < 0.7 ? ' ' : ''}${items.join(', ')}${r() < 0.7 ? ' ' : ''}}`;
}

function genBlock(r: () => number, indent: number, depth: number, out: string[]): void {
  const pad = ' '.repeat(indent);
  const n = 1 + Math.floor(r() * 4);
  const seq = r() < 0.35;
  for (let i = 0; i < n; i++) {
    if (r() < 0.1) out.push(r() < 0.5 ? '' : `${' '.repeat(Math.floor(r() * 6))}# comment ${i}`);
    const lead = seq ? `${pad}-` : `${pad}${genScalar(r)}:`;
    const roll = r();
    if (depth < 4 && roll < 0.3) {
      out.push(lead + (r() < 0.2 ? '  # c' : ''));
      const inner = indent + (seq ? 2 : r() < 0.2 ? 0 : 2 + Math.floor(r() * 3));
      genBlock(r, inner, depth + 1, out);
    } else if (seq && depth < 4 && roll < 0.45) {
      // a compact mapping inside a sequence entry
      out.push(`${lead} ${genScalar(r)}: ${genFlow(r, 0)}`);
      const k = Math.floor(r() * 3);
      for (let j = 0; j < k; j++) out.push(`${pad}  ${genScalar(r)}: ${genFlow(r, 0)}`);
    } else {
      out.push(`${lead}${r() < 0.1 ? '' : ' '}${genFlow(r, 0)}${r() < 0.15 ? ' # trailing' : ''}${r() < 0.05 ? '  ' : ''}`);
    }
  }
}

function mutate(r: () => number, text: string): string {
  const chars = [' ', '\n', ':', '-', '#', '"', "'", '[', ']', '{', '}', ',', 'a', '  ', '\t', '\\'];
  let t = text;
  const k = 1 + Math.floor(r() * 3);
  for (let i = 0; i < k; i++) {
    const at = Math.floor(r() * (t.length + 1));
    const op = r();
    if (op < 0.4) t = t.slice(0, at) + chars[Math.floor(r() * chars.length)] + t.slice(at);
    else if (op < 0.7) t = t.slice(0, at) + t.slice(at + 1);
    else t = t.slice(0, at) + chars[Math.floor(r() * chars.length)] + t.slice(at + 1);
  }
  return t;
}

test('generated and mutated documents: whenever the fast reader accepts, the trees are the same', () => {
  const r = prng(20261128);
  let accepted = 0;
  for (let i = 0; i < 4000; i++) {
    const lines: string[] = [];
    scalars = i % 4 < 2 ? PLAIN : SCALARS;
    genBlock(r, r() < 0.1 ? 2 : 0, 0, lines);
    let text = `${lines.join('\n')}\n`;
    if (i % 2 === 1) text = mutate(r, text);
    if (parseFast(text, MAX) !== null) accepted++;
    expectAgree(text);
  }
  // The generator must exercise the fast reader, not only the fall-back, and its lazy trees: parts read later,
  // and parts that turn out to be beyond the fast reader only when read.
  expect(accepted).toBeGreaterThan(1000);
  expect(lazyStats.collections).toBeGreaterThan(500);
  expect(lazyStats.gaveUpLate).toBeGreaterThan(20);
});

test('depth: the fast reader gives up past the limit; the full reader reports where', () => {
  // `levels` nested mappings: k0 → k1 → … → x.
  const deep = (levels: number) => Array.from({ length: levels - 1 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + `\n${' '.repeat(levels - 1)}x: 1\n`;
  expect(parseFast(deep(MAX), MAX)).not.toBeNull();
  expectAgree(deep(MAX));
  expect(parseFull(deep(MAX), MAX).problems).toEqual([]);
  expect(parseFast(deep(MAX + 1), MAX)).toBeNull();
  const full = parseFull(deep(MAX + 1), MAX);
  const at = deep(MAX + 1).indexOf('x: 1');
  expect(full.problems).toEqual([{ offset: at, message: `nested deeper than ${MAX} levels`, severity: 'error' }]);
  const flow = `a: ${'['.repeat(MAX)}${']'.repeat(MAX)}\n`;
  expect(parseFast(flow, MAX)).toBeNull(); // the root mapping is one level more
  expect(parseFull(flow, MAX).problems[0]).toEqual({ offset: 3 + MAX - 1, message: `nested deeper than ${MAX} levels`, severity: 'error' });
});
