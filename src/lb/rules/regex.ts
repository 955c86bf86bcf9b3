// `matches` patterns, compiled with re2js (a JavaScript port of RE2): matching time is linear in the length of the
// name, so no pattern can make one query cost seconds the way `(a+)+$` does in a backtracking engine. Cloudflare
// matches with the Rust regex engine, which has the same guarantee and nearly the same syntax (no backreferences,
// no lookaround): https://developers.cloudflare.com/ruleset-engine/rules-language/values/ ("String values and
// regular expressions").
import type * as Re2js from 're2js';
import { DFA_CACHE_BYTES, MAX_PATTERN_LENGTH, MAX_PROGRAM_SIZE } from './limits';

let re2jsPackage: typeof Re2js | null = null;

/** re2js, loaded by the first pattern rather than at every start (15 ms; most configs have no `matches`). */
function re2js(): typeof Re2js {
  return (re2jsPackage ??= require('re2js') as typeof Re2js);
}

/** What the query path calls: does the pattern match anywhere in the input (like RegExp#test)? */
export interface CompiledRegex {
  test(input: string): boolean;
}

export type RegexResult =
  | { readonly ok: true; readonly regex: CompiledRegex }
  /** `at`/`length` locate the problem inside the pattern; `at` is null when it concerns the whole pattern. */
  | { readonly ok: false; readonly message: string; readonly at: number | null; readonly length: number };

export function compileRegex(pattern: string, caseInsensitive: boolean): RegexResult {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    return fail(`regular expression is ${pattern.length} characters long; the limit is ${MAX_PATTERN_LENGTH}`);
  }
  // Checked before compiling: RE2 expands counted repetitions, and compiling a short pattern such as
  // "(?:a{0,1000}){0,500}" takes seconds and hundreds of MB before its size could be read.
  const estimate = estimateProgramSize(pattern);
  if (estimate > MAX_PROGRAM_SIZE) return fail(tooLarge(`about ${estimate}`));
  const { RE2JS } = re2js();
  let re: Re2js.RE2JS;
  try {
    re = RE2JS.compile(pattern, caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (e) {
    return syntaxError(pattern, e, caseInsensitive);
  }
  const size = re.programSize();
  if (size > MAX_PROGRAM_SIZE) return fail(tooLarge(String(size)));
  // Bounds the memory that hostile names can make the lazy DFA allocate for this pattern.
  const dfa = re.re2().dfa;
  dfa.stateBudget = DFA_CACHE_BYTES;
  dfa.memBudget = DFA_CACHE_BYTES;
  return { ok: true, regex: re };
}

function fail(message: string, at: number | null = null, length = 0): RegexResult {
  return { ok: false, message, at, length };
}

function tooLarge(size: string): string {
  return (
    `regular expression too large: ${size} instructions once repetitions are expanded; the limit is ${MAX_PROGRAM_SIZE}` +
    ' (use smaller repetition counts, or "in {…}" for a list of names)'
  );
}

/** RE2's complaint, worded for this language, at the offending piece of the pattern when it can be found. */
function syntaxError(pattern: string, e: unknown, caseInsensitive: boolean): RegexResult {
  if (!(e instanceof re2js().RE2JSSyntaxException)) {
    return fail(`invalid regular expression: ${e instanceof Error ? e.message : String(e)}`);
  }
  let piece = e.input ?? '';
  // RE2JS.CASE_INSENSITIVE compiles "(?i)" + pattern, and errors quote that text.
  if (caseInsensitive && piece.startsWith('(?i)') && !pattern.includes(piece)) piece = piece.slice(4);
  let message = `invalid regular expression: ${e.error}${piece ? `: \`${piece}\`` : ''}`;
  if (/^\\[1-9]/.test(piece)) message = `backreferences such as \`${piece}\` are not supported (RE2 syntax)`;
  else if (piece.startsWith('(?=') || piece.startsWith('(?!')) message = `lookahead \`${piece}…\` is not supported (RE2 syntax)`;
  else if (piece.startsWith('(?<=') || piece.startsWith('(?<!')) {
    message = `lookbehind \`${piece.slice(0, 4)}…\` is not supported (RE2 syntax)`;
    return locate(pattern, piece.slice(0, 4), message);
  }
  return locate(pattern, piece, message);
}

/** Points at `piece` when it occurs exactly once in the pattern (RE2 reports text, not offsets). */
function locate(pattern: string, piece: string, message: string): RegexResult {
  if (piece === '' || piece === pattern) return fail(message);
  const at = pattern.indexOf(piece);
  if (at < 0 || pattern.indexOf(piece, at + 1) >= 0) return fail(message);
  return fail(message, at, piece.length);
}

/**
 * An upper bound on the RE2 program size of `pattern`, read from its text: one instruction per literal character,
 * class, escape or operator, two per group, and counted repetitions multiplying what they repeat. It only has to
 * stay above the real size (a test compares the two) and be cheap; RE2 itself rejects what is malformed.
 */
export function estimateProgramSize(pattern: string): number {
  /** Per open group: instructions so far, and the size of the last item (what a repetition would copy). */
  interface Frame {
    total: number;
    last: number;
  }
  const stack: Frame[] = [];
  // The program's own start, match and fail instructions.
  let cur: Frame = { total: 3, last: 0 };
  const item = (size: number): void => {
    cur.total += size;
    cur.last = size;
  };
  const n = pattern.length;
  let i = 0;
  while (i < n) {
    const c = pattern[i];
    if (c === '\\') {
      const e = pattern[i + 1];
      if (e === 'Q') {
        // \Q…\E: literal text, one instruction per character.
        const end = pattern.indexOf('\\E', i + 2);
        const stop = end < 0 ? n : end;
        cur.total += stop - (i + 2);
        cur.last = 1;
        i = end < 0 ? n : end + 2;
      } else if ((e === 'p' || e === 'P' || e === 'x') && pattern[i + 2] === '{') {
        const close = pattern.indexOf('}', i + 3);
        item(1);
        i = close < 0 ? n : close + 1;
      } else {
        item(1);
        i += 2;
      }
    } else if (c === '[') {
      item(1);
      i = skipClass(pattern, i);
    } else if (c === '(') {
      stack.push(cur);
      cur = { total: 2, last: 0 };
      i++;
    } else if (c === ')') {
      const inner = cur.total;
      cur = stack.pop() ?? { total: 2, last: 0 };
      item(inner);
      i++;
    } else if (c === '|' || c === '*' || c === '+' || c === '?') {
      cur.total += 1;
      if (c === '|') cur.last = 0;
      i++;
    } else if (c === '{') {
      const rep = parseRepeat(pattern, i);
      if (rep === null) {
        item(1);
        i++;
        continue;
      }
      // x{n,m} becomes m copies of x plus one instruction per optional copy; x{n,} becomes n+1 copies and a loop.
      const copies = Math.max(1, rep.max);
      cur.total += cur.last * (copies - 1) + copies;
      cur.last = cur.last * copies + copies;
      i = rep.end;
    } else {
      item(1);
      i++;
    }
  }
  while (stack.length > 0) {
    const inner = cur.total;
    cur = stack.pop() ?? cur;
    cur.total += inner;
  }
  return cur.total;
}

/** Index just past the class that opens at `start` (RE2 rules: a leading `]` is literal, `[:name:]` nests). */
function skipClass(pattern: string, start: number): number {
  const n = pattern.length;
  let i = start + 1;
  if (pattern[i] === '^') i++;
  if (pattern[i] === ']') i++;
  while (i < n) {
    const c = pattern[i];
    if (c === ']') return i + 1;
    if (c === '\\') {
      i += 2;
    } else if (c === '[' && pattern[i + 1] === ':') {
      const close = pattern.indexOf(':]', i + 2);
      i = close < 0 ? i + 1 : close + 2;
    } else {
      i++;
    }
  }
  return n;
}

/** `{n}`, `{n,}` or `{n,m}` at `start` (otherwise RE2 reads the brace as a literal): copies made, and where it ends. */
function parseRepeat(pattern: string, start: number): { max: number; end: number } | null {
  const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(start, start + 24));
  if (!m) return null;
  // Counts above 1000 are rejected by RE2; capping them here keeps the arithmetic small.
  const lo = Math.min(Number(m[1]), 100000);
  const hi = m[2] === undefined ? lo : m[3] === '' ? lo + 1 : Math.min(Number(m[3]), 100000);
  return { max: Math.max(lo, hi), end: start + m[0].length };
}
