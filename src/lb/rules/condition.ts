// Custom-rule conditions (design §2.9, seed spec §6.5–6.6): a wirefilter-style expression compiled once at
// config load into a closure that the query path calls. The grammar is in parser.ts.
import type { IpAddr } from '../../util/ip';
import { compileNode } from './compile';
import { ConditionError } from './errors';
import { parse } from './parser';

export { ConditionError };

export interface RuleInput {
  /** dns.qry.name: lowercase FQDN with trailing dot, e.g. "www.example.com." */
  qname: string;
  /** dns.qry.name.len: qname.length, given apart so that a length test need not build qname. */
  qnameLength: number;
  /** dns.qry.type */
  qtype: number;
  /** ECS address from the query (already truncated to its source prefix); null if no ECS. */
  ecs: IpAddr | null;
  /** The resolver's source address. */
  resolver: IpAddr;
  /** cf.load_balancer.name, e.g. "lb.example.com" or "*.example.com" */
  lbName: string;
  /** cf.load_balancer.region: region code of this server's PoP, e.g. "WNAM" */
  region: string | null;
}

export interface CompiledCondition {
  readonly source: string;
  /** True when the result can depend on the client address (uses ip.src or dns.rr.opt.client.addr). */
  readonly readsClientAddress: boolean;
  test(input: RuleInput): boolean;
}

/**
 * Parses and type-checks `source`; throws ConditionError (with offset and length) on any problem, and nothing else
 * for any string: the config loader turns it into `file:line:col: message`, where any other exception would print
 * a stack trace from `check` or fail a reload.
 */
export function compileCondition(source: string): CompiledCondition {
  try {
    const parsed = parse(source);
    return Object.freeze({
      source,
      readsClientAddress: parsed.readsClientAddress,
      test: compileNode(parsed.node),
    });
  } catch (e) {
    if (e instanceof ConditionError) throw e;
    // Not expected (limits.ts bounds recursion and sizes); kept as a config error rather than a crash.
    const why = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    throw new ConditionError(`cannot compile this condition (internal error, please report it: ${why})`, 0, source.length);
  }
}
