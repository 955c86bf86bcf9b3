// Tokenizer for the condition language. Literals (ints, ranges, IPs, CIDRs) are parsed here, once, at config
// load; strings keep their raw body because their escapes depend on context (plain string vs regex).
import { cidrLiteralProblem } from '../../util/cidr-literal';
import { type Cidr, type IpAddr, parseCidr, parseIp } from '../../util/ip';
import { ConditionError } from './errors';

export type Punct =
  | '(' | ')' | '{' | '}' | ','
  | '==' | '!=' | '<' | '<=' | '>' | '>=' | '~'
  | '!' | '&&' | '||' | '^^';

interface Span {
  /** The token as written in the source. */
  readonly text: string;
  readonly offset: number;
  readonly length: number;
}

export type Token = Span &
  (
    | { readonly kind: 'ident' }
    | { readonly kind: 'punct'; readonly punct: Punct }
    /** `raw` is the body between the quotes, escapes untouched. */
    | { readonly kind: 'string'; readonly raw: string }
    | { readonly kind: 'int'; readonly value: number }
    | { readonly kind: 'int_range'; readonly lo: number; readonly hi: number }
    /** A bare address is a host prefix (/32 or /128); `host` tells them apart for messages. */
    | { readonly kind: 'ip'; readonly cidr: Cidr; readonly host: boolean }
    | { readonly kind: 'ip_range'; readonly lo: IpAddr; readonly hi: IpAddr }
    | { readonly kind: 'eof' }
  );

const TWO_CHAR: readonly Punct[] = ['==', '!=', '<=', '>=', '&&', '||', '^^'];
const ONE_CHAR: readonly Punct[] = ['(', ')', '{', '}', ',', '<', '>', '~', '!'];

/** Letters, digits and the separators of dotted field names, IPv4/IPv6 addresses, CIDRs and `a..b` ranges. */
function isWordChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x5f || // _
    c === 0x2e || // .
    c === 0x3a || // :
    c === 0x2f // /
  );
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$/;
const DIGITS = /^[0-9]+$/;

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const n = source.length;
  let i = 0;
  while (i < n) {
    const ch = source[i];
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      i++;
      continue;
    }
    if (ch === '"') {
      i = lexString(source, i, tokens);
      continue;
    }
    const two = source.slice(i, i + 2) as Punct;
    if (TWO_CHAR.includes(two)) {
      tokens.push({ kind: 'punct', punct: two, text: two, offset: i, length: 2 });
      i += 2;
      continue;
    }
    if (ONE_CHAR.includes(ch as Punct)) {
      tokens.push({ kind: 'punct', punct: ch as Punct, text: ch, offset: i, length: 1 });
      i++;
      continue;
    }
    if (isWordChar(source.charCodeAt(i))) {
      let j = i + 1;
      while (j < n && isWordChar(source.charCodeAt(j))) j++;
      tokens.push(classifyWord(source.slice(i, j), i));
      i = j;
      continue;
    }
    throw new ConditionError(unexpectedCharMessage(ch), i, 1);
  }
  tokens.push({ kind: 'eof', text: '', offset: n, length: 0 });
  return tokens;
}

function unexpectedCharMessage(ch: string): string {
  switch (ch) {
    case '=': return 'unexpected "="; use "==" (or "eq") to compare';
    case '&': return 'unexpected "&"; use "&&" (or "and")';
    case '|': return 'unexpected "|"; use "||" (or "or")';
    case '^': return 'unexpected "^"; use "^^" (or "xor")';
    case "'": return 'unexpected "\'"; strings are double-quoted';
    case '-': return 'unexpected "-"; negative numbers are not supported';
    default: return `unexpected character ${JSON.stringify(ch)}`;
  }
}

/** Finds the closing quote; a backslash always protects the next character, whatever the escape means later. */
function lexString(source: string, start: number, tokens: Token[]): number {
  const n = source.length;
  let j = start + 1;
  while (j < n) {
    const c = source[j];
    if (c === '\\') {
      j += 2;
      continue;
    }
    if (c === '"') {
      tokens.push({
        kind: 'string',
        raw: source.slice(start + 1, j),
        text: source.slice(start, j + 1),
        offset: start,
        length: j + 1 - start,
      });
      return j + 1;
    }
    j++;
  }
  throw new ConditionError('unterminated string: missing closing "', start, n - start);
}

function classifyWord(text: string, offset: number): Token {
  const span = { text, offset, length: text.length };
  const dots = text.indexOf('..');
  if (dots >= 0) return classifyRange(text, dots, span);
  if (DIGITS.test(text)) return { kind: 'int', value: parseInt10(text, span), ...span };
  // Anything with a colon is IPv6; digits-first with dots or a slash is IPv4. Identifiers never start with a digit.
  if (text.includes(':') || (/^[0-9]/.test(text) && /[./]/.test(text))) {
    // Cloudflare's rules language takes a network in CIDR notation with its host bits zero, and so does steerdns:
    // https://developers.cloudflare.com/ruleset-engine/rules-language/values/ (IP address values).
    const problem = text.includes('/') ? cidrLiteralProblem(text) : null;
    if (problem !== null) throw new ConditionError(`invalid CIDR: ${problem}`, offset, text.length);
    const cidr = parseCidr(text);
    if (!cidr) throw new ConditionError(`invalid IP address or CIDR "${text}"`, offset, text.length);
    return { kind: 'ip', cidr, host: !text.includes('/'), ...span };
  }
  if (IDENT.test(text)) return { kind: 'ident', ...span };
  throw new ConditionError(`invalid token "${text}"`, offset, text.length);
}

function classifyRange(text: string, dots: number, span: Span): Token {
  const a = text.slice(0, dots);
  const b = text.slice(dots + 2);
  if (DIGITS.test(a) && DIGITS.test(b)) {
    const lo = parseInt10(a, span);
    const hi = parseInt10(b, span);
    if (lo > hi) throw new ConditionError(`range start ${lo} is greater than its end ${hi}`, span.offset, span.length);
    return { kind: 'int_range', lo, hi, ...span };
  }
  const lo = parseIp(a);
  const hi = parseIp(b);
  if (lo && hi) {
    if (lo.family !== hi.family) {
      throw new ConditionError(`range "${span.text}" mixes IPv4 and IPv6`, span.offset, span.length);
    }
    if (compareBytes(lo.bytes, hi.bytes) > 0) {
      throw new ConditionError(`range start ${a} is greater than its end ${b}`, span.offset, span.length);
    }
    return { kind: 'ip_range', lo, hi, ...span };
  }
  throw new ConditionError(
    `invalid range "${span.text}": write 80..90 or 10.0.0.1..10.0.0.9 with no spaces`,
    span.offset,
    span.length,
  );
}

function parseInt10(text: string, span: Span): number {
  const v = Number(text);
  if (!Number.isSafeInteger(v)) throw new ConditionError(`integer ${text} is out of range`, span.offset, span.length);
  return v;
}

/** Lexicographic order of equal-length address bytes (network order, so numeric order too). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return 0;
}
