// `matches` with RE2 semantics (issue 11): linear-time matching, RE2-only syntax errors at the offending column,
// and bounded pattern sizes — checked both through compileCondition and on regex.ts directly.
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { parseIp } from '../../../src/util/ip';
import { ConditionError, type RuleInput, compileCondition } from '../../../src/lb/rules/condition';
import { DFA_CACHE_BYTES, MAX_PATTERN_LENGTH, MAX_PROGRAM_SIZE } from '../../../src/lb/rules/limits';
import { compileRegex, estimateProgramSize } from '../../../src/lb/rules/regex';

function input(qname: string, over: Partial<RuleInput> = {}): RuleInput {
  return { qname, qnameLength: qname.length, qtype: 1, ecs: null, resolver: parseIp('198.51.100.7')!, lbName: 'lb.example.com', region: 'WNAM', ...over };
}

function compileError(source: string): ConditionError {
  try {
    compileCondition(source);
  } catch (e) {
    if (e instanceof ConditionError) return e;
    throw e;
  }
  throw new Error(`expected a ConditionError for ${source}`);
}

/** Where `piece` starts in `source` (the expected error offset). */
const at = (source: string, piece: string): number => {
  const i = source.indexOf(piece);
  if (i < 0) throw new Error(`${piece} not in ${source}`);
  return i;
};

describe('linear-time matching', () => {
  it('"(a+)+$" against a 63-letter label answers at once (a backtracking engine takes longer than the age of the universe)', () => {
    const c = compileCondition('dns.qry.name matches "(a+)+$"');
    const name = `${'a'.repeat(63)}.example.com.`;
    const started = process.hrtime.bigint();
    expect(c.test(input(name))).toBe(false);
    expect(c.test(input(`${'a'.repeat(63)}`))).toBe(true);
    // Generous: the point is "not exponential"; it takes well under a millisecond.
    expect(Number(process.hrtime.bigint() - started) / 1e9).toBeLessThan(2);
  });

  it.each([
    ['^(a|a)*$', `${'a'.repeat(250)}!`],
    ['(x+x+)+y', 'x'.repeat(250)],
    ['^(([a-z])+.)+[A-Z]([a-z])+$', `${'a'.repeat(250)}.`],
  ])('%s stays fast on %#', (pattern, name) => {
    const c = compileCondition(`dns.qry.name matches "${pattern}"`);
    const started = process.hrtime.bigint();
    for (let k = 0; k < 10; k++) expect(c.test(input(name))).toBe(false);
    expect(Number(process.hrtime.bigint() - started) / 1e9).toBeLessThan(2);
  });
});

describe('RE2 syntax', () => {
  const t = (pattern: string, qname: string, over: Partial<RuleInput> = {}) =>
    compileCondition(`dns.qry.name matches "${pattern}"`).test(input(qname, over));

  it('matches anywhere unless anchored, like Cloudflare (Rust regex) and RegExp#test', () => {
    expect(t('example', 'www.example.com.')).toBe(true);
    expect(t('^example', 'www.example.com.')).toBe(false);
    expect(t('com\\.$', 'www.example.com.')).toBe(true);
    expect(t('\\Awww', 'www.example.com.')).toBe(true);
    expect(t('com\\.\\z', 'www.example.com.')).toBe(true);
  });

  it('supports RE2 classes, inline flags, named groups and counted repetition', () => {
    expect(t('^[[:alpha:]]+[[:digit:]]\\.', 'eu1.example.com.')).toBe(true);
    expect(t('^\\pL+\\.', 'www.example.com.')).toBe(true);
    expect(t('^(?P<site>eu|us)[0-9]{1,3}\\.', 'us42.example.com.')).toBe(true);
    expect(t('^(?<site>eu|us)[0-9]{1,3}\\.', 'us4242.example.com.')).toBe(false);
    expect(t('^([a-z0-9-]{1,63}\\.){3}$', 'www.example.com.')).toBe(true);
    expect(t('^([a-z0-9-]{1,63}\\.){4}$', 'www.example.com.')).toBe(false);
    expect(t('(?s).', 'x.')).toBe(true);
  });

  it('names are case-insensitive; other fields only with (?i), which may appear anywhere', () => {
    expect(t('^WWW\\.', 'www.example.com.')).toBe(true);
    const region = (pattern: string) => compileCondition(`cf.load_balancer.region matches "${pattern}"`).test(input('x.'));
    expect(region('^wnam$')).toBe(false);
    expect(region('(?i)^wnam$')).toBe(true);
    expect(region('^w(?i)nam$')).toBe(false);
    expect(region('^W(?i)nam$')).toBe(true);
  });

  it('\\" in the condition string is a quote in the pattern; other escapes reach RE2 untouched', () => {
    const c = compileCondition('cf.load_balancer.region matches "^a\\"b\\\\d$"');
    expect(c.test(input('x.', { region: 'a"b\\d' }))).toBe(true);
    expect(c.test(input('x.', { region: 'a"b1' }))).toBe(false);
  });
});

describe('what RE2 rejects is an error at its column', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['dns.qry.name matches "(a)\\1"', '\\1', /^backreferences such as `\\1` are not supported \(RE2 syntax\)$/],
    ['dns.qry.name matches "^(www)\\.\\2"', '\\2', /^backreferences/],
    ['dns.qry.name ~ "foo(?=bar)"', '(?=', /^lookahead `\(\?=…` is not supported \(RE2 syntax\)$/],
    ['dns.qry.name ~ "foo(?!bar)"', '(?!', /^lookahead `\(\?!…` is not supported/],
    ['dns.qry.name ~ "(?<=www)\\."', '(?<=', /^lookbehind `\(\?<=…` is not supported/],
    ['dns.qry.name ~ "x(?<!www)\\."', '(?<!', /^lookbehind `\(\?<!…` is not supported/],
    ['dns.qry.name ~ "abc\\Z"', '\\Z', /^invalid regular expression: invalid escape sequence: `\\Z`$/],
    ['dns.qry.name ~ "a**"', '**', /^invalid regular expression: invalid nested repetition operator: `\*\*`$/],
    ['dns.qry.name ~ "[z-a]"', 'z-a', /^invalid regular expression: invalid character class range: `z-a`$/],
    ['dns.qry.name ~ "x{3,2}"', '{3,2}', /^invalid regular expression: invalid repeat count: `\{3,2\}`$/],
  ];
  it.each(cases)('%s', (src, piece, message) => {
    const e = compileError(src);
    expect(e.message).toMatch(message);
    expect({ offset: e.offset, length: e.length }).toEqual({ offset: at(src, piece), length: piece.length });
  });

  it('maps the column back through \\" escapes', () => {
    const src = 'cf.load_balancer.region ~ "\\"x\\"(?=y)"';
    const e = compileError(src);
    expect({ offset: e.offset, length: e.length }).toEqual({ offset: at(src, '(?=y'), length: 3 });
  });

  it('points at the whole pattern when the offending text is ambiguous or the whole pattern', () => {
    const src = 'dns.qry.name ~ "(www"';
    const e = compileError(src);
    expect(e.message).toBe('invalid regular expression: missing closing ): `(www`');
    expect({ offset: e.offset, length: e.length }).toEqual({ offset: at(src, '"(www'), length: 6 });
    const twice = 'dns.qry.name ~ "a*b(*)"';
    expect(compileError(twice)).toMatchObject({ offset: at(twice, '"a*b'), length: 8 });
  });
});

describe('pattern size limits', () => {
  it(`a pattern longer than ${MAX_PATTERN_LENGTH} characters`, () => {
    const src = `dns.qry.name matches "${'a'.repeat(MAX_PATTERN_LENGTH + 1)}"`;
    const e = compileError(src);
    expect(e.message).toBe(`regular expression is ${MAX_PATTERN_LENGTH + 1} characters long; the limit is ${MAX_PATTERN_LENGTH}`);
    expect({ offset: e.offset, length: e.length }).toEqual({ offset: 21, length: MAX_PATTERN_LENGTH + 3 });
  });

  it.each([
    '[a-z]{1000}',
    '(?:a{0,1000}){0,1000}',
    '(?:(?:a{0,30}){0,30}){0,30}',
    `${'(?:x{0,100})'.repeat(20)}`,
  ])('%s is too large, refused before compiling', (pattern) => {
    const started = process.hrtime.bigint();
    const e = compileError(`dns.qry.name matches "${pattern}"`);
    expect(e.message).toMatch(new RegExp(`^regular expression too large: about \\d+ instructions once repetitions are expanded; the limit is ${MAX_PROGRAM_SIZE} `));
    expect(e.offset).toBe(21);
    expect(Number(process.hrtime.bigint() - started) / 1e9).toBeLessThan(2);
  });

  it('a hostname pattern with counted labels fits', () => {
    expect(compileCondition('dns.qry.name matches "^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.){1,4}example\\.com\\.$"').test(input('a.b-c.example.com.'))).toBe(true);
  });

  it('the size estimate is never below the compiled size', () => {
    const atom = fc.constantFrom('a', 'b', '.', '\\.', '\\d', '[a-z]', '[^x]', '[]a]', '[[:alpha:]x]', '\\pL', '\\p{Greek}', '\\x{41}', '\\Qa.{2}\\E', '^', '$', '\\b');
    const pattern: fc.Memo<string> = fc.memo((n) =>
      n <= 1
        ? atom
        : fc.oneof(
            atom,
            fc.tuple(pattern(n - 1), pattern(n - 1)).map(([a, b]) => a + b),
            fc.tuple(pattern(n - 1), pattern(n - 1)).map(([a, b]) => `${a}|${b}`),
            pattern(n - 1).map((a) => `(${a})`),
            pattern(n - 1).map((a) => `(?:${a})`),
            pattern(n - 1).map((a) => `(?i)${a}`),
            fc.tuple(pattern(n - 1), fc.constantFrom('*', '+', '?', '*?', '{2}', '{0,3}', '{3,}', '{1,7}', '{0}', '{12,30}')).map(([a, q]) => `(?:${a})${q}`),
          ),
    );
    fc.assert(
      fc.property(pattern(5), (p) => {
        let size: number;
        try {
          size = RE2JS.compile(p).programSize();
        } catch {
          return; // RE2 refuses it: nothing to compare
        }
        expect(estimateProgramSize(p)).toBeGreaterThanOrEqual(size);
      }),
      { numRuns: 1000 },
    );
  });

  it('bounds the DFA state cache of every pattern', () => {
    const r = compileRegex('[ab]*a[ab]{20}$', true);
    if (!r.ok) throw new Error(r.message);
    const dfa = (r.regex as RE2JS).re2().dfa;
    expect(dfa.stateBudget).toBe(DFA_CACHE_BYTES);
    // Random names make this pattern's DFA grow without end (2^21 states); the cache stays within its budget.
    let seed = 1;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let k = 0; k < 200; k++) {
      let name = '';
      for (let j = 0; j < 60; j++) name += rnd() & 0x100 ? 'a' : 'b';
      r.regex.test(name);
      expect(dfa.memBudget).toBeGreaterThanOrEqual(0);
      expect(dfa.memBudget).toBeLessThanOrEqual(DFA_CACHE_BYTES);
    }
  });
});
