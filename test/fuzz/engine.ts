// A small coverage-guided fuzzer for jest (Jazzer.js 4 needs glibc 2.38 and older releases download binaries, so
// neither runs here). It keeps the inputs that reach code no earlier input reached, and mutates them:
//   - coverage: V8's precise block coverage through the inspector (Profiler.takePreciseCoverage), restricted to
//     src/; a feature is a block that ran, with its run count bucketed (1, 2–3, 4–7, 8 or more), as AFL does.
//     Taking coverage costs milliseconds (V8 walks the heap for it), so inputs run in batches and coverage is taken
//     per batch; a batch with new features is split in halves, run again, and so on down to the inputs that bring
//     them. Batches grow while nothing new turns up (up to 512 inputs) and shrink when something does.
//   - inputs: structure-aware ones from the target's fast-check generator (valid-looking packets, expressions,
//     configs), and byte-level mutations of the corpus (bit flips, interesting values, insertions, deletions,
//     duplications, dictionary tokens, splices of two inputs), up to 8 at a time.
// An input whose run throws is a bug: it is written to test/fuzz/corpus/<target>/ (to be committed, so that every
// run replays it) and reported.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import * as path from 'node:path';

export interface FuzzTarget {
  name: string;
  /** Runs one input; throws only when it found a bug. */
  run(input: Uint8Array): void;
  /** A batch of fresh structure-aware inputs (the engine asks again when it has used them up). */
  generate(seed: number, count: number): Uint8Array[];
  /** Byte strings worth inserting (keywords, field codes). */
  dictionary: Uint8Array[];
  /** Inputs longer than this are cut. */
  maxLength: number;
}

export interface FuzzReport {
  executions: number;
  corpus: number;
  features: number;
  failures: { file: string; error: string }[];
}

export const CORPUS_ROOT = path.join(__dirname, 'corpus');

/** The saved inputs of a target (each once found a bug). */
export function corpusOf(target: string): { file: string; input: Uint8Array }[] {
  const dir = path.join(CORPUS_ROOT, target);
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((f) => !f.startsWith('.')).sort();
  } catch {
    return [];
  }
  return names.map((f) => ({ file: path.join(dir, f), input: new Uint8Array(readFileSync(path.join(dir, f))) }));
}

function saveFailure(target: string, input: Uint8Array): string {
  const dir = path.join(CORPUS_ROOT, target);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `crash-${createHash('sha1').update(input).digest('hex').slice(0, 16)}`);
  writeFileSync(file, input);
  return file;
}

interface ScriptCoverage {
  url: string;
  functions: { ranges: { startOffset: number; endOffset: number; count: number }[] }[];
}

/** Coverage of src/ since the last take, as feature strings. */
class Coverage {
  private readonly session = new Session();

  constructor() {
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }

  // The in-process inspector session answers synchronously: the callback has run when post() returns.
  private post(method: string, params?: object): unknown {
    let out: unknown = null;
    let error: Error | null = null;
    this.session.post(method, params ?? {}, (err: Error | null, res: unknown) => {
      error = err;
      out = res;
    });
    if (error) throw error;
    return out;
  }

  take(into: Set<string>): void {
    const res = this.post('Profiler.takePreciseCoverage') as { result: ScriptCoverage[] };
    for (const sc of res.result) {
      if (!sc.url.includes(`${path.sep}src${path.sep}`)) continue;
      for (const f of sc.functions) {
        for (const r of f.ranges) {
          if (r.count === 0) continue;
          into.add(`${sc.url}:${r.startOffset}:${r.endOffset}:${Math.min(31 - Math.clz32(r.count), 3)}`);
        }
      }
    }
  }

  close(): void {
    this.post('Profiler.stopPreciseCoverage');
    this.post('Profiler.disable');
    this.session.disconnect();
  }
}

/** mulberry32: the engine is deterministic for a given seed. */
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

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x3f, 0x40, 0xc0, 0x20, 0x0a, 0x29];

function mutate(input: Uint8Array, corpus: Uint8Array[], dict: Uint8Array[], rnd: () => number, max: number): Uint8Array {
  let b = Array.from(input);
  const pick = (n: number): number => Math.floor(rnd() * n);
  const rounds = 1 + pick(8);
  for (let r = 0; r < rounds; r++) {
    const at = b.length === 0 ? 0 : pick(b.length);
    switch (pick(10)) {
      case 0:
        if (b.length) b[at] ^= 1 << pick(8);
        break;
      case 1:
        if (b.length) b[at] = INTERESTING[pick(INTERESTING.length)];
        break;
      case 2:
        if (b.length) b[at] = pick(256);
        break;
      case 3:
        b.splice(at, 0, ...Array.from({ length: 1 + pick(4) }, () => pick(256)));
        break;
      case 4:
        b.splice(at, 1 + pick(Math.max(1, Math.min(16, b.length - at))));
        break;
      case 5: {
        const len = 1 + pick(Math.max(1, Math.min(32, b.length - at)));
        b.splice(pick(b.length + 1), 0, ...b.slice(at, at + len));
        break;
      }
      case 6:
      case 7:
        if (dict.length) {
          const tok = Array.from(dict[pick(dict.length)]);
          if (rnd() < 0.5) b.splice(at, 0, ...tok);
          else b.splice(at, tok.length, ...tok);
        }
        break;
      case 8:
        if (b.length >= 2) {
          // A 16-bit field (DNS counts, lengths) set to a small or extreme value.
          const v = [0, 1, 2, 0xffff, 0x8000, b.length, pick(64)][pick(7)];
          b[at] = v >> 8;
          if (at + 1 < b.length) b[at + 1] = v & 0xff;
        }
        break;
      default: {
        const other = corpus[pick(corpus.length)];
        if (other && other.length) {
          const from = pick(other.length);
          b = b.slice(0, at).concat(Array.from(other.subarray(from, from + pick(other.length - from + 1))));
        }
      }
    }
  }
  if (b.length > max) b.length = max;
  return Uint8Array.from(b);
}

/**
 * Fuzzes `target` for `seconds`. Returns what it did and the inputs that threw (saved under the corpus dir).
 */
export function fuzz(target: FuzzTarget, seconds: number, seed = Date.now() & 0x7fffffff): FuzzReport {
  const rnd = prng(seed);
  const features = new Set<string>();
  const corpus: Uint8Array[] = [];
  const failures: FuzzReport['failures'] = [];
  const coverage = new Coverage();
  let executions = 0;
  let fresh: Uint8Array[] = [];
  let generation = seed;
  const deadline = Date.now() + seconds * 1000;

  const runOne = (input: Uint8Array): boolean => {
    executions++;
    try {
      target.run(input);
      return true;
    } catch (err) {
      const file = saveFailure(target.name, input);
      if (!failures.some((f) => f.file === file)) failures.push({ file, error: err instanceof Error ? err.stack ?? err.message : String(err) });
      return false;
    }
  };

  /** Runs `batch`; when it reached anything new, narrows down which inputs did and keeps them. Returns whether. */
  const explore = (batch: Uint8Array[]): boolean => {
    for (const input of batch) runOne(input);
    const seen = new Set<string>();
    coverage.take(seen);
    let novel = false;
    for (const f of seen) {
      if (!features.has(f)) {
        novel = true;
        break;
      }
    }
    if (!novel) return false;
    // Down to a handful of inputs, keeping them all is cheaper than the coverage takes of finding the one.
    if (batch.length <= 4) {
      for (const f of seen) features.add(f);
      corpus.push(...batch);
      return true;
    }
    const half = batch.length >> 1;
    explore(batch.slice(0, half));
    explore(batch.slice(half));
    return true;
  };

  try {
    coverage.take(new Set()); // forget what set-up ran
    let size = 16;
    while (Date.now() < deadline && failures.length < 5) {
      const batch: Uint8Array[] = [];
      for (let i = 0; i < size; i++) {
        if (corpus.length === 0 || rnd() < 0.2) {
          if (fresh.length === 0) fresh = target.generate(generation++, 256);
          batch.push(fresh.pop() as Uint8Array);
        } else {
          batch.push(mutate(corpus[Math.floor(rnd() * corpus.length)], corpus, target.dictionary, rnd, target.maxLength));
        }
      }
      size = explore(batch) ? Math.max(16, size >> 1) : Math.min(512, size << 1);
    }
  } finally {
    coverage.close();
  }
  return { executions, corpus: corpus.length, features: features.size, failures };
}
