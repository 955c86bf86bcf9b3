// The full reader: any YAML 1.2 text, through the `yaml` package's lexer, parser and composer, turned into the
// tree the schema reads (ast.ts). It is used when the fast reader gives up, so it is the one that meets hostile
// input. What it guards against, having read the package's source (yaml 2.9.1, dist/parse/parser.js and
// dist/compose/):
// - The CST parser pops a dedent of N open collections by recursion (blockMap → pop → step → …), outside any
//   try/catch: a block mapping a few thousand levels deep followed by a less indented line overflows the stack
//   and the RangeError escapes parseDocument. The lexer and the parser's own stack are iterative, so the parser
//   is fed one lexeme at a time here and stopped as soon as its stack holds more than `maxDepth` collections:
//   nothing recursive ever runs on a deeper document.
// - The composer recurses once per nesting level (it catches its own stack overflows, as a RESOURCE_EXHAUSTION
//   error); after the check above it never gets deeper than `maxDepth`.
// - Aliases are not resolved here (composition keeps them as Alias nodes; only toJS expands them), so a
//   "billion laughs" document costs what its text costs; the schema refuses aliases.
// - Duplicate keys: the composer's own check (`uniqueKeys`) compares each key with every earlier key of its
//   mapping, quadratic in the size of one mapping; it is off, and ast.ts MapBuilder does it in linear time.
import type * as Yaml from 'yaml';
import { MapBuilder, yMap, yOther, yScalar, ySeq, type YNode } from './ast';

let yamlPackage: typeof Yaml | null = null;

/** The `yaml` package, loaded when first needed: the fast reader reads most configs, and loading the package's
 *  seventy modules is a noticeable part of starting `check` or the server. */
function yaml(): typeof Yaml {
  return (yamlPackage ??= require('yaml') as typeof Yaml);
}

export interface FullProblem {
  offset: number;
  message: string;
  severity: 'error' | 'warning';
}

export interface FullResult {
  root: YNode | null;
  duplicates: YNode[];
  problems: FullProblem[];
}

type Token = Yaml.Parser['stack'][number];

/** Offset of the collection that is `maxDepth + 1` deep in the parser's stack, or -1 when it is not that deep. */
function tooDeep(stack: readonly Token[], maxDepth: number): number {
  let depth = 0;
  for (const t of stack) {
    if (t.type === 'block-map' || t.type === 'block-seq' || t.type === 'flow-collection') {
      depth++;
      if (depth > maxDepth) return t.offset;
    }
  }
  return -1;
}

export function parseFull(text: string, maxDepth: number): FullResult {
  // The package reports each syntax error as an Error, whose stack trace costs more than the parsing: a file of
  // a million stray quotes took 20 s. Messages need no stack; nothing here awaits, so the limit is restored
  // before any other code runs.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return parse(text, maxDepth);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function parse(text: string, maxDepth: number): FullResult {
  const { Composer, Lexer, Parser } = yaml();
  const lexer = new Lexer();
  const parser = new Parser();
  let deepAt = -1;
  // The parser's stack holds every open collection plus a few other tokens per level; counting only when it is
  // longer than maxDepth keeps the check off ordinary documents.
  function* tokens() {
    for (const lexeme of lexer.lex(text, false)) {
      yield* parser.next(lexeme);
      if (parser.stack.length > maxDepth) {
        deepAt = tooDeep(parser.stack, maxDepth);
        if (deepAt >= 0) return;
      }
    }
    yield* parser.end();
  }
  const composer = new Composer({ uniqueKeys: false, strict: true });
  let doc: Yaml.Document.Parsed | null = null;
  const problems: FullProblem[] = [];
  for (const d of composer.compose(tokens(), true, text.length)) {
    if (doc === null) doc = d;
    else {
      problems.push({ offset: d.range[0], message: 'the file holds more than one YAML document (a second "---")', severity: 'error' });
      break;
    }
  }
  if (deepAt >= 0) {
    return { root: null, duplicates: [], problems: [{ offset: deepAt, message: `nested deeper than ${maxDepth} levels`, severity: 'error' }] };
  }
  if (doc === null) return { root: null, duplicates: [], problems };
  for (const e of doc.errors) problems.push({ offset: e.pos[0], message: e.message.split('\n')[0], severity: 'error' });
  for (const w of doc.warnings) problems.push({ offset: w.pos[0], message: w.message.split('\n')[0], severity: 'warning' });
  const duplicates: YNode[] = [];
  const root = doc.contents === null ? null : convert(doc.contents as Yaml.ParsedNode, duplicates, 1, maxDepth);
  return { root, duplicates, problems };
}

/** The `yaml` node as an ast.ts node. Recursion is bounded: the parser stopped any document deeper than maxDepth. */
function convert(node: unknown, duplicates: YNode[], depth: number, maxDepth: number): YNode {
  const { isAlias, isMap, isScalar, isSeq } = yaml();
  if (isScalar(node)) {
    const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
    return yScalar(node.value, node.range?.[0] ?? 0, quoted);
  }
  const start = (node as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
  if (depth > maxDepth) return yOther('a collection nested too deep', start);
  if (isMap(node)) {
    const map = yMap(start);
    const mb = new MapBuilder(map);
    for (const pair of node.items) {
      const key = pair.key === null || pair.key === undefined ? yScalar(null, start, false) : convert(pair.key, duplicates, depth + 1, maxDepth);
      const value = pair.value === null || pair.value === undefined ? null : convert(pair.value, duplicates, depth + 1, maxDepth);
      if (mb.add(key, value)) duplicates.push(key);
    }
    return map;
  }
  if (isSeq(node)) {
    const seq = ySeq(start);
    for (const item of node.items) seq.items.push(convert(item, duplicates, depth + 1, maxDepth));
    return seq;
  }
  if (isAlias(node)) return yOther(`an alias (*${node.source})`, start);
  return yOther('something else', start);
}
