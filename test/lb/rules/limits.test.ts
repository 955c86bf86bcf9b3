// Hostile conditions (issue 11): deep nesting, long chains and oversized input are ConditionErrors with a position,
// never a RangeError out of the parser or compiler; whatever fits in the limits compiles and evaluates correctly.
import fc from 'fast-check';
import { parseIp } from '../../../src/util/ip';
import { ConditionError, type RuleInput, compileCondition } from '../../../src/lb/rules/condition';
import { MAX_CONDITION_LENGTH, MAX_NESTING_DEPTH } from '../../../src/lb/rules/limits';

const INPUT: RuleInput = {
  qname: 'www.example.com.',
  qnameLength: 16,
  qtype: 1,
  ecs: null,
  resolver: parseIp('198.51.100.7')!,
  lbName: 'lb.example.com',
  region: 'WNAM',
};

function compileError(source: string): ConditionError {
  try {
    compileCondition(source);
  } catch (e) {
    if (e instanceof ConditionError) return e;
    throw e;
  }
  throw new Error(`expected a ConditionError for a condition of ${source.length} characters`);
}

const T = 'dns.qry.type == 1';
const F = 'dns.qry.type == 2';

describe('the issue 11 conditions', () => {
  it('2,000 nested parentheses: an error at the first one past the depth limit', () => {
    const src = `${'('.repeat(2000)}dns.qry.qu${')'.repeat(2000)}`;
    expect(src.length).toBeLessThanOrEqual(MAX_CONDITION_LENGTH);
    const e = compileError(src);
    expect(e.message).toBe(`parentheses nested more than ${MAX_NESTING_DEPTH} deep`);
    expect({ offset: e.offset, length: e.length }).toEqual({ offset: MAX_NESTING_DEPTH, length: 1 });
  });

  it.each([
    ['10,000 "not"s', `${'not '.repeat(10000)}dns.qry.qu`],
    ['a 10,000-term "and"', Array.from({ length: 10000 }, () => 'dns.qry.qu').join(' and ')],
  ])('%s: an error at the first character past the length limit', (_name, src) => {
    const e = compileError(src);
    expect(e.message).toBe(`condition is ${src.length} characters long; the limit is ${MAX_CONDITION_LENGTH} (split it into several rules)`);
    expect({ offset: e.offset, length: e.length }).toEqual({ offset: MAX_CONDITION_LENGTH, length: src.length - MAX_CONDITION_LENGTH });
  });
});

describe('limits', () => {
  it('accepts exactly the maximum length and rejects one character more', () => {
    const body = 'dns.qry.qu';
    const pad = ' '.repeat(MAX_CONDITION_LENGTH - body.length);
    expect(compileCondition(body + pad).test(INPUT)).toBe(true);
    expect(compileError(`${body}${pad} `).offset).toBe(MAX_CONDITION_LENGTH);
  });

  it(`accepts ${MAX_NESTING_DEPTH} levels of parentheses and rejects one more`, () => {
    const nest = (depth: number, inner: string) => `${'('.repeat(depth)}${inner}${')'.repeat(depth)}`;
    expect(compileCondition(nest(MAX_NESTING_DEPTH, T)).test(INPUT)).toBe(true);
    expect(compileCondition(`not ${nest(MAX_NESTING_DEPTH, F)}`).test(INPUT)).toBe(true);
    expect(compileError(nest(MAX_NESTING_DEPTH + 1, T)).offset).toBe(MAX_NESTING_DEPTH);
    // Depth counts parentheses open at once, not how many there are.
    const side = Array.from({ length: 100 }, () => `(${T})`).join(' and ');
    expect(compileCondition(side).test(INPUT)).toBe(true);
  });

  it('the depth limit points at the parenthesis, inside a longer expression too', () => {
    const src = `dns.qry.qu and ${'( '.repeat(MAX_NESTING_DEPTH + 1)}dns.qry.qu${' )'.repeat(MAX_NESTING_DEPTH + 1)}`;
    expect(compileError(src).offset).toBe('dns.qry.qu and '.length + 2 * MAX_NESTING_DEPTH);
  });
});

describe('long chains within the limits compile to loops and evaluate correctly', () => {
  const fill = (term: string, sep: string) => {
    const n = Math.floor((MAX_CONDITION_LENGTH + sep.length) / (term.length + sep.length));
    return { n, terms: (last: string) => [...Array.from({ length: n - 1 }, () => term), last].join(sep) };
  };

  it('and: true only when every term is', () => {
    const { n, terms } = fill(T, ' and ');
    expect(n).toBeGreaterThan(150);
    expect(compileCondition(terms(T)).test(INPUT)).toBe(true);
    expect(compileCondition(terms(F)).test(INPUT)).toBe(false);
  });

  it('or: true when any term is', () => {
    const { terms } = fill(F, ' || ');
    expect(compileCondition(terms(F)).test(INPUT)).toBe(false);
    expect(compileCondition(terms(T)).test(INPUT)).toBe(true);
  });

  it('xor: true when an odd number of terms are', () => {
    const { n, terms } = fill(T, ' ^^ ');
    expect(compileCondition(terms(T)).test(INPUT)).toBe(n % 2 === 1);
    expect(compileCondition(terms(F)).test(INPUT)).toBe((n - 1) % 2 === 1);
  });

  it('a run of 4,000 "!"s negates by parity', () => {
    expect(compileCondition(`${'!'.repeat(4000)}${T}`).test(INPUT)).toBe(true);
    expect(compileCondition(`${'!'.repeat(4001)}${T}`).test(INPUT)).toBe(false);
    expect(compileCondition(`${'not '.repeat(1000)}${F}`).test(INPUT)).toBe(false);
    expect(compileCondition(`${'not '.repeat(1001)}${F}`).test(INPUT)).toBe(true);
  });

  it('mixed operators keep their precedence in long chains', () => {
    // F and T or T xor T … : and binds tightest, then xor, then or.
    const src = [`${F} and ${T}`, ...Array.from({ length: 40 }, () => `${T} xor ${T} xor ${T}`)].join(' or ');
    expect(compileCondition(src).test(INPUT)).toBe(true);
    const none = [`${F} and ${T}`, ...Array.from({ length: 40 }, () => `${T} xor ${T}`)].join(' or ');
    expect(compileCondition(none).test(INPUT)).toBe(false);
  });
});

describe('nothing but ConditionError escapes compileCondition', () => {
  // Tokens of the language and of regexes, so that random sequences reach the parser and RE2, not just the lexer.
  const PIECES = [
    '(', ')', '((', '))', 'not ', '!', ' and ', ' && ', ' or ', ' || ', ' xor ', ' ^^ ', 'dns.qry.name', 'dns.qry.type',
    'ip.src', 'dns.qry.qu', 'cf.load_balancer.region', ' == ', ' != ', ' < ', ' >= ', ' in ', ' contains ', ' matches ',
    ' ~ ', '{', '}', ',', '"', '\\', '\\"', '"(a+)+$"', '"(?i)x"', '"\\\\1"', '"(?=a)"', '"a{1000}"', '"[a-z]{0,9}"',
    '1', '28', '1..3', '10.0.0.0/8', '::1', '2001:db8::/32', '1.2.3.4..1.2.3.9', 'true', 'false', 'eq', ' ', '\n',
    '=', '&', '|', '^', '-', "'", '$', '\u00e9', '\ud800',
  ];
  const check = (src: string): void => {
    let c;
    try {
      c = compileCondition(src);
    } catch (e) {
      expect(e).toBeInstanceOf(ConditionError);
      const ce = e as ConditionError;
      expect(ce.message).not.toMatch(/internal error/);
      expect(ce.offset).toBeGreaterThanOrEqual(0);
      expect(ce.length).toBeGreaterThanOrEqual(0);
      expect(ce.offset + ce.length).toBeLessThanOrEqual(src.length);
      return;
    }
    expect(typeof c.test(INPUT)).toBe('boolean');
  };

  it('for arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), check), { numRuns: 1000 });
  });

  it('for sequences of language and regex tokens', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom(...PIECES), { maxLength: 60 }).map((a) => a.join('')), check), { numRuns: 2000 });
  });

  it('for long sequences of nesting tokens', () => {
    const deep = fc.array(fc.constantFrom('(', ')', 'not ', '!', 'dns.qry.qu', ' and ', ' or ', ' xor '), { minLength: 500, maxLength: 2000 });
    fc.assert(fc.property(deep.map((a) => a.join('')), check), { numRuns: 200 });
  });
});
