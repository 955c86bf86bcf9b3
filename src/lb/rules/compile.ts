// AST → closures. Everything the query path needs (strings, sets, CIDRs, regexes) was built by the parser; a
// compiled predicate only reads RuleInput, compares and branches, with no allocation per call (a `matches` test
// allocates a few small objects inside re2js). An and/or/xor chain is one closure looping over its operands, so
// closures nest only as deep as the parentheses (MAX_NESTING_DEPTH) and neither compiling nor evaluating can
// overflow the stack.
import { type Cidr, type IpAddr, cidrContains } from '../../util/ip';
import type { RuleInput } from './input';
import type { BoolFieldId, IntFieldId, IpFieldId, StringFieldId } from './fields';
import { compareBytes } from './lexer';
import type { CmpOp, IntRange, IpRange, Node } from './parser';

export type Predicate = (input: RuleInput) => boolean;

type Getter<T> = (input: RuleInput) => T;

const STRING_GETTERS: Readonly<Record<StringFieldId, Getter<string>>> = {
  'dns.qry.name': (i) => i.qname,
  'cf.load_balancer.name': (i) => i.lbName,
  'cf.load_balancer.region': (i) => i.region ?? '',
};

const INT_GETTERS: Readonly<Record<IntFieldId, Getter<number>>> = {
  'dns.qry.name.len': (i) => i.qnameLength,
  'dns.qry.type': (i) => i.qtype,
};

const BOOL_GETTERS: Readonly<Record<BoolFieldId, Getter<boolean>>> = {
  // Every message a rule sees is a question.
  'dns.qry.qu': () => true,
  'dns.rr.opt.client': (i) => i.ecs !== null,
};

/** null when the field is absent (ECS not sent): then every comparison on it is false. */
const IP_GETTERS: Readonly<Record<IpFieldId, Getter<IpAddr | null>>> = {
  'dns.rr.opt.client.addr': (i) => i.ecs,
  'ip.src': (i) => i.ecs ?? i.resolver,
};

const ALWAYS: Predicate = () => true;
const NEVER: Predicate = () => false;

export function compileNode(node: Node): Predicate {
  switch (node.kind) {
    case 'const':
      return node.value ? ALWAYS : NEVER;
    case 'not': {
      const a = compileNode(node.operand);
      return (i) => !a(i);
    }
    case 'and':
      return all(node.operands.map((n) => compileNode(n)));
    case 'or':
      return any(node.operands.map((n) => compileNode(n)));
    case 'xor':
      return odd(node.operands.map((n) => compileNode(n)));
    case 'bool': {
      const get = BOOL_GETTERS[node.field];
      return node.value ? get : (i) => !get(i);
    }
    case 'str_cmp':
      return compare(STRING_GETTERS[node.field], node.op, node.value);
    case 'str_contains': {
      const get = STRING_GETTERS[node.field];
      const value = node.value;
      return (i) => get(i).includes(value);
    }
    case 'str_matches': {
      const get = STRING_GETTERS[node.field];
      const regex = node.regex;
      return (i) => regex.test(get(i));
    }
    case 'str_in': {
      const get = STRING_GETTERS[node.field];
      const values = node.values;
      return (i) => values.has(get(i));
    }
    case 'int_cmp':
      return compare(INT_GETTERS[node.field], node.op, node.value);
    case 'int_in':
      return intIn(INT_GETTERS[node.field], node.values, node.ranges);
    case 'ip_cmp': {
      const get = IP_GETTERS[node.field];
      const cidr = node.cidr;
      if (node.op === 'eq') {
        return (i) => {
          const ip = get(i);
          return ip !== null && cidrContains(cidr, ip);
        };
      }
      return (i) => {
        const ip = get(i);
        return ip !== null && !cidrContains(cidr, ip);
      };
    }
    case 'ip_in':
      return ipIn(IP_GETTERS[node.field], node.cidrs, node.ranges);
  }
}

// Two operands (the common case) get a closure of their own: a call with no loop costs fewer instructions.
function all(ps: readonly Predicate[]): Predicate {
  if (ps.length === 2) {
    const a = ps[0];
    const b = ps[1];
    return (i) => a(i) && b(i);
  }
  return (i) => {
    for (let k = 0; k < ps.length; k++) if (!ps[k](i)) return false;
    return true;
  };
}

function any(ps: readonly Predicate[]): Predicate {
  if (ps.length === 2) {
    const a = ps[0];
    const b = ps[1];
    return (i) => a(i) || b(i);
  }
  return (i) => {
    for (let k = 0; k < ps.length; k++) if (ps[k](i)) return true;
    return false;
  };
}

/** a xor b xor c … is true when an odd number of operands are (every operand is evaluated). */
function odd(ps: readonly Predicate[]): Predicate {
  if (ps.length === 2) {
    const a = ps[0];
    const b = ps[1];
    return (i) => a(i) !== b(i);
  }
  return (i) => {
    let result = false;
    for (let k = 0; k < ps.length; k++) if (ps[k](i)) result = !result;
    return result;
  };
}

function compare<T extends string | number>(get: Getter<T>, op: CmpOp, value: T): Predicate {
  switch (op) {
    case 'eq': return (i) => get(i) === value;
    case 'ne': return (i) => get(i) !== value;
    case 'lt': return (i) => get(i) < value;
    case 'le': return (i) => get(i) <= value;
    case 'gt': return (i) => get(i) > value;
    case 'ge': return (i) => get(i) >= value;
  }
}

function intIn(get: Getter<number>, values: ReadonlySet<number>, ranges: readonly IntRange[]): Predicate {
  if (ranges.length === 0) return (i) => values.has(get(i));
  return (i) => {
    const v = get(i);
    if (values.has(v)) return true;
    for (let k = 0; k < ranges.length; k++) {
      const r = ranges[k];
      if (v >= r.lo && v <= r.hi) return true;
    }
    return false;
  };
}

function ipIn(get: Getter<IpAddr | null>, cidrs: readonly Cidr[], ranges: readonly IpRange[]): Predicate {
  // Split by family up front so a query only walks the entries that can match it.
  const v4 = cidrs.filter((c) => c.family === 4);
  const v6 = cidrs.filter((c) => c.family === 6);
  const r4 = ranges.filter((r) => r.lo.family === 4);
  const r6 = ranges.filter((r) => r.lo.family === 6);
  return (i) => {
    const ip = get(i);
    if (ip === null) return false;
    const list = ip.family === 4 ? v4 : v6;
    for (let k = 0; k < list.length; k++) if (cidrContains(list[k], ip)) return true;
    const rs = ip.family === 4 ? r4 : r6;
    for (let k = 0; k < rs.length; k++) {
      const r = rs[k];
      if (compareBytes(ip.bytes, r.lo.bytes) >= 0 && compareBytes(ip.bytes, r.hi.bytes) <= 0) return true;
    }
    return false;
  };
}
