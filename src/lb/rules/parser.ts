// Recursive-descent parser and type checker: source → typed AST with every literal pre-parsed. All errors a
// condition can have are found here, at config load, each pointing at the offending token. Recursion happens only
// at "(" (at most MAX_NESTING_DEPTH deep); chains of and/or/xor become one node with a list of operands, and a
// run of "not"s is counted in a loop, so no input within MAX_CONDITION_LENGTH can overflow the stack.
//
//   condition  = [ or ] ;                       (empty → always true)
//   or         = xor { ("or" | "||") xor } ;
//   xor        = and { ("xor" | "^^") and } ;
//   and        = unary { ("and" | "&&") unary } ;
//   unary      = { "not" | "!" } primary ;
//   primary    = "(" or ")" | field [ cmp-op value | ("contains" | "matches" | "~") string | "in" set ] ;
//   cmp-op     = "==" | "eq" | "!=" | "ne" | "<" | "lt" | "<=" | "le" | ">" | "gt" | ">=" | "ge" ;
//   set        = "{" { element [","] } "}" ;
//   element    = string | int | int ".." int | ip | cidr | ip ".." ip ;
import { recordTypeNamed } from '../../dns/wire/rrtypes';
import type { Cidr, IpAddr } from '../../util/ip';
import { ConditionError } from './errors';
import {
  type BoolFieldId,
  type Field,
  type FieldType,
  type IntFieldId,
  type IpFieldId,
  type StringFieldId,
  closest,
  lookupField,
  typeName,
} from './fields';
import { type Token, tokenize } from './lexer';
import { MAX_CONDITION_LENGTH, MAX_NESTING_DEPTH } from './limits';
import { type CompiledRegex, compileRegex } from './regex';

type StringToken = Token & { readonly kind: 'string' };

export type CmpOp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';
type Operator = CmpOp | 'contains' | 'matches' | 'in';

export interface IntRange {
  readonly lo: number;
  readonly hi: number;
}

export interface IpRange {
  readonly lo: IpAddr;
  readonly hi: IpAddr;
}

export type Node =
  | { readonly kind: 'const'; readonly value: boolean }
  | { readonly kind: 'not'; readonly operand: Node }
  /** Two or more operands, evaluated left to right (and/or stop at the first that decides). */
  | { readonly kind: 'and' | 'or' | 'xor'; readonly operands: readonly Node[] }
  /** field == value (a bare field is `== true`). */
  | { readonly kind: 'bool'; readonly field: BoolFieldId; readonly value: boolean }
  | { readonly kind: 'str_cmp'; readonly field: StringFieldId; readonly op: CmpOp; readonly value: string }
  | { readonly kind: 'str_contains'; readonly field: StringFieldId; readonly value: string }
  | { readonly kind: 'str_matches'; readonly field: StringFieldId; readonly regex: CompiledRegex }
  | { readonly kind: 'str_in'; readonly field: StringFieldId; readonly values: ReadonlySet<string> }
  | { readonly kind: 'int_cmp'; readonly field: IntFieldId; readonly op: CmpOp; readonly value: number }
  | {
      readonly kind: 'int_in';
      readonly field: IntFieldId;
      readonly values: ReadonlySet<number>;
      readonly ranges: readonly IntRange[];
    }
  | { readonly kind: 'ip_cmp'; readonly field: IpFieldId; readonly op: 'eq' | 'ne'; readonly cidr: Cidr }
  | {
      readonly kind: 'ip_in';
      readonly field: IpFieldId;
      readonly cidrs: readonly Cidr[];
      readonly ranges: readonly IpRange[];
    };

export interface Parsed {
  readonly node: Node;
  readonly readsClientAddress: boolean;
}

const OPERATOR_WORDS: Readonly<Record<string, Operator>> = {
  eq: 'eq', ne: 'ne', lt: 'lt', le: 'le', gt: 'gt', ge: 'ge', contains: 'contains', matches: 'matches', in: 'in',
};
const OPERATOR_PUNCT: Readonly<Record<string, Operator>> = {
  '==': 'eq', '!=': 'ne', '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge', '~': 'matches',
};
const KEYWORDS = new Set(['and', 'or', 'xor', 'not', 'true', 'false', ...Object.keys(OPERATOR_WORDS)]);

/** Common record types, only to make `dns.qry.type == AAAA` fail with the number to write instead. */

export function parse(source: string): Parsed {
  if (source.length > MAX_CONDITION_LENGTH) {
    throw new ConditionError(
      `condition is ${source.length} characters long; the limit is ${MAX_CONDITION_LENGTH} (split it into several rules)`,
      MAX_CONDITION_LENGTH,
      source.length - MAX_CONDITION_LENGTH,
    );
  }
  const tokens = tokenize(source);
  if (tokens.length === 1) return { node: { kind: 'const', value: true }, readsClientAddress: false };
  const p = new Parser(tokens);
  const node = p.parseOr();
  const tok = p.peek();
  if (tok.kind !== 'eof') {
    const message = isPunct(tok, ')')
      ? 'unexpected ")" with no matching "("'
      : `expected "and", "or" or "xor" before ${describe(tok)}`;
    throw err(message, tok);
  }
  return { node, readsClientAddress: p.readsClientAddress };
}

class Parser {
  private pos = 0;
  /** Parentheses open around the current token. */
  private depth = 0;
  readsClientAddress = false;

  constructor(private readonly tokens: readonly Token[]) {}

  peek(): Token {
    return this.tokens[this.pos];
  }

  private next(): Token {
    const tok = this.tokens[this.pos];
    if (tok.kind !== 'eof') this.pos++;
    return tok;
  }

  private prev(): Token | null {
    return this.pos > 0 ? this.tokens[this.pos - 1] : null;
  }

  parseOr(): Node {
    return this.parseChain('or', '||', () => this.parseXor());
  }

  private parseXor(): Node {
    return this.parseChain('xor', '^^', () => this.parseAnd());
  }

  private parseAnd(): Node {
    return this.parseChain('and', '&&', () => this.parseUnary());
  }

  /** operand { op operand }: one node for the whole chain, so its length costs no stack depth. */
  private parseChain(kind: 'and' | 'or' | 'xor', punct: string, operand: () => Node): Node {
    const first = operand();
    if (!isLogical(this.peek(), kind, punct)) return first;
    const operands = [first];
    while (isLogical(this.peek(), kind, punct)) {
      this.next();
      operands.push(operand());
    }
    return { kind, operands };
  }

  /** Counted, not recursed: `not not x` is x, so only an odd number of negations leaves a "not" node. */
  private parseUnary(): Node {
    let negations = 0;
    while (isLogical(this.peek(), 'not', '!')) {
      this.next();
      negations++;
    }
    const operand = this.parsePrimary();
    return negations % 2 === 1 ? { kind: 'not', operand } : operand;
  }

  private parsePrimary(): Node {
    const tok = this.peek();
    if (isPunct(tok, '(')) {
      if (this.depth >= MAX_NESTING_DEPTH) {
        throw err(`parentheses nested more than ${MAX_NESTING_DEPTH} deep`, tok);
      }
      this.next();
      this.depth++;
      const inner = this.parseOr();
      this.depth--;
      const close = this.peek();
      if (isPunct(close, ')')) {
        this.next();
        return inner;
      }
      if (close.kind === 'eof') throw err('missing ")" to close this "("', tok);
      throw err(`expected "and", "or", "xor" or ")" before ${describe(close)}`, close);
    }
    if (tok.kind === 'ident' && !KEYWORDS.has(tok.text)) {
      this.next();
      if (isPunct(this.peek(), '(')) throw err(`function calls such as "${tok.text}(…)" are not supported`, tok);
      const found = lookupField(tok.text);
      if ('error' in found) throw err(found.error, tok);
      if (found.field.clientAddress) this.readsClientAddress = true;
      return this.parseComparison(tok, found.field);
    }
    const prev = this.prev();
    const after = prev ? ` after "${prev.text}"` : '';
    if (tok.kind === 'eof') throw err(`expected a condition${after}`, tok);
    throw err(`expected a field name${after}, found ${describe(tok)}`, tok);
  }

  private parseComparison(fieldTok: Token, field: Field): Node {
    const opTok = this.peek();
    const op = operatorOf(opTok);
    if (op === null) {
      if (field.type === 'bool') return { kind: 'bool', field: field.id, value: true };
      if (endsOperand(opTok)) {
        throw err(
          `"${field.id}" is ${typeName(field.type)} field: it needs an operator and a value (only boolean fields stand alone)`,
          fieldTok,
        );
      }
      if (opTok.kind === 'ident') {
        const hint = closest(opTok.text, Object.keys(OPERATOR_WORDS));
        throw err(`unknown operator "${opTok.text}"${hint ? `; did you mean "${hint}"?` : ''}`, opTok);
      }
      throw err(`expected an operator after "${fieldTok.text}", found ${describe(opTok)}`, opTok);
    }
    this.next();
    switch (op) {
      case 'contains':
      case 'matches': {
        if (field.type !== 'string') {
          throw err(`"${opTok.text}" needs a string field; "${field.id}" is ${typeName(field.type)}`, opTok);
        }
        const tok = this.expectValue(opTok, field);
        if (tok.kind !== 'string') throw this.wrongValue(tok, opTok, field);
        if (op === 'contains') return { kind: 'str_contains', field: field.id, value: stringValue(tok, field, false) };
        return { kind: 'str_matches', field: field.id, regex: regexValue(tok, field) };
      }
      case 'in':
        return this.parseSet(opTok, field);
      default:
        return this.parseCmp(op, opTok, field);
    }
  }

  private parseCmp(op: CmpOp, opTok: Token, field: Field): Node {
    const ordering = op !== 'eq' && op !== 'ne';
    if (ordering && field.type !== 'int' && field.type !== 'string') {
      throw err(`"${opTok.text}" needs an integer or string field; "${field.id}" is ${typeName(field.type)}`, opTok);
    }
    const tok = this.expectValue(opTok, field);
    switch (field.type) {
      case 'string':
        if (tok.kind !== 'string') throw this.wrongValue(tok, opTok, field);
        return { kind: 'str_cmp', field: field.id, op, value: stringValue(tok, field, !ordering) };
      case 'int':
        if (tok.kind !== 'int') throw this.wrongValue(tok, opTok, field);
        return { kind: 'int_cmp', field: field.id, op, value: tok.value };
      case 'ip':
        if (tok.kind !== 'ip') throw this.wrongValue(tok, opTok, field);
        return { kind: 'ip_cmp', field: field.id, op: op === 'eq' ? 'eq' : 'ne', cidr: tok.cidr };
      case 'bool': {
        if (tok.kind !== 'ident' || (tok.text !== 'true' && tok.text !== 'false')) throw this.wrongValue(tok, opTok, field);
        const literal = tok.text === 'true';
        return { kind: 'bool', field: field.id, value: op === 'eq' ? literal : !literal };
      }
    }
  }

  private parseSet(inTok: Token, field: Field): Node {
    if (field.type === 'bool') {
      throw err(`"in" needs a string, integer or IP field; "${field.id}" is ${typeName(field.type)}`, inTok);
    }
    const open = this.next();
    if (!isPunct(open, '{')) throw err(`expected "{" after "in", found ${describe(open)}`, open);
    const elements: Token[] = [];
    for (;;) {
      const tok = this.next();
      if (isPunct(tok, '}')) {
        if (elements.length === 0) {
          throw new ConditionError('empty set', open.offset, tok.offset + tok.length - open.offset);
        }
        break;
      }
      if (isPunct(tok, ',')) continue;
      if (tok.kind === 'eof') throw err('missing "}" to close this set', open);
      elements.push(tok);
    }
    switch (field.type) {
      case 'string': {
        const values = new Set<string>();
        for (const tok of elements) {
          if (tok.kind !== 'string') throw this.wrongElement(tok, field);
          values.add(stringValue(tok, field, true));
        }
        return { kind: 'str_in', field: field.id, values };
      }
      case 'int': {
        const values = new Set<number>();
        const ranges: IntRange[] = [];
        for (const tok of elements) {
          if (tok.kind === 'int') values.add(tok.value);
          else if (tok.kind === 'int_range') ranges.push({ lo: tok.lo, hi: tok.hi });
          else throw this.wrongElement(tok, field);
        }
        return { kind: 'int_in', field: field.id, values, ranges };
      }
      case 'ip': {
        const cidrs: Cidr[] = [];
        const ranges: IpRange[] = [];
        for (const tok of elements) {
          if (tok.kind === 'ip') cidrs.push(tok.cidr);
          else if (tok.kind === 'ip_range') ranges.push({ lo: tok.lo, hi: tok.hi });
          else throw this.wrongElement(tok, field);
        }
        return { kind: 'ip_in', field: field.id, cidrs, ranges };
      }
    }
  }

  private expectValue(opTok: Token, field: Field): Token {
    const tok = this.next();
    if (endsOperand(tok)) throw err(`expected a value after "${opTok.text}"`, tok);
    if (tok.kind === 'int_range' || tok.kind === 'ip_range') {
      throw err(`a range such as ${tok.text} is only allowed inside a set: "${field.id} in {${tok.text}}"`, tok);
    }
    return tok;
  }

  private wrongValue(tok: Token, opTok: Token, field: Field): ConditionError {
    let message = `expected ${literalName(field.type)} after "${opTok.text}" ("${field.id}" is ${typeName(field.type)}), found ${describe(tok)}`;
    const rr = tok.kind === 'ident' ? recordTypeNamed(tok.text.toUpperCase())?.code : undefined;
    if (field.id === 'dns.qry.type' && rr !== undefined) message += `; record types are numbers: ${tok.text} is ${rr}`;
    return err(message, tok);
  }

  private wrongElement(tok: Token, field: Field): ConditionError {
    const what = field.type === 'string' ? 'strings' : field.type === 'int' ? 'integers or ranges' : 'IP addresses, CIDRs or ranges';
    return err(`the set for "${field.id}" takes ${what}, found ${describe(tok)}`, tok);
  }
}

/** A string literal, folded to the field's canonical DNS-name form when it is a name field. */
function stringValue(tok: StringToken, field: Field, exact: boolean): string {
  let value = decodeString(tok);
  if (field.dnsName !== null) {
    value = asciiLower(value);
    if (exact && value !== '') {
      if (field.dnsName === 'fqdn' && !value.endsWith('.')) value += '.';
      else if (field.dnsName === 'bare' && value.endsWith('.') && value !== '.') value = value.slice(0, -1);
    }
  }
  return value;
}

/** RE2 syntax (regex.ts): names match case-insensitively, other fields case-sensitively unless the pattern says "(?i)". */
function regexValue(tok: StringToken, field: Field): CompiledRegex {
  const pattern = decodeRegex(tok);
  const result = compileRegex(pattern, field.dnsName !== null);
  if (result.ok) return result.regex;
  if (result.at === null) throw err(result.message, tok);
  // Back from the pattern to the source: the opening quote, plus one for every \" unescaped before the spot.
  const start = rawIndex(tok.raw, result.at);
  const end = rawIndex(tok.raw, result.at + result.length);
  throw new ConditionError(result.message, tok.offset + 1 + start, end - start);
}

/** Index in a string token's raw body of the character at `decodedIndex` of decodeRegex's output. */
function rawIndex(raw: string, decodedIndex: number): number {
  let r = 0;
  let d = 0;
  while (d < decodedIndex && r < raw.length) {
    if (raw[r] !== '\\') {
      r++;
      d++;
    } else if (raw[r + 1] === '"') {
      r += 2; // \" became one character
      d++;
    } else if (d + 1 === decodedIndex) {
      return r + 1; // inside a pair that was kept as written
    } else {
      r += 2;
      d += 2;
    }
  }
  return r;
}

/** Plain strings: only \" and \\ are escapes, so a stray backslash is an error, not a silent surprise. */
function decodeString(tok: StringToken): string {
  const raw = tok.raw;
  if (!raw.includes('\\')) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = raw[i + 1];
    if (e !== '"' && e !== '\\') {
      throw new ConditionError(
        `unknown escape "\\${e}" in string: only \\" and \\\\ are escapes`,
        tok.offset + 1 + i,
        2,
      );
    }
    out += e;
    i++;
  }
  return out;
}

/** Regexes (as in wirefilter): \" is a quote, every other backslash sequence goes to the regex untouched. */
function decodeRegex(tok: StringToken): string {
  return tok.raw.replace(/\\(.)/gs, (all: string, c: string) => (c === '"' ? '"' : all));
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

function operatorOf(tok: Token): Operator | null {
  if (tok.kind === 'punct') return OPERATOR_PUNCT[tok.punct] ?? null;
  if (tok.kind === 'ident') return Object.prototype.hasOwnProperty.call(OPERATOR_WORDS, tok.text) ? OPERATOR_WORDS[tok.text] : null;
  return null;
}

function isPunct(tok: Token, punct: string): boolean {
  return tok.kind === 'punct' && tok.punct === punct;
}

function isLogical(tok: Token, word: string, punct: string): boolean {
  return (tok.kind === 'ident' && tok.text === word) || isPunct(tok, punct);
}

/** Tokens that can follow a complete operand: where a missing value or operator is noticed. */
function endsOperand(tok: Token): boolean {
  return (
    tok.kind === 'eof' ||
    isPunct(tok, ')') ||
    isLogical(tok, 'and', '&&') ||
    isLogical(tok, 'or', '||') ||
    isLogical(tok, 'xor', '^^')
  );
}

function literalName(type: FieldType): string {
  switch (type) {
    case 'string': return 'a double-quoted string';
    case 'int': return 'an integer';
    case 'ip': return 'an IP address or CIDR';
    case 'bool': return 'true or false';
  }
}

function describe(tok: Token): string {
  switch (tok.kind) {
    case 'eof': return 'the end of the condition';
    case 'string': return `string ${tok.text}`;
    case 'int': return `integer ${tok.text}`;
    case 'ip': return `${tok.host ? 'IP address' : 'CIDR'} ${tok.text}`;
    case 'int_range':
    case 'ip_range': return `range ${tok.text}`;
    default: return `"${tok.text}"`;
  }
}

function err(message: string, tok: Token): ConditionError {
  return new ConditionError(message, tok.offset, tok.length);
}
