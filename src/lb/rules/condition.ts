// Custom-rule conditions (https://developers.cloudflare.com/load-balancing/additional-options/load-balancing-rules/, fields: https://developers.cloudflare.com/load-balancing/additional-options/load-balancing-rules/reference/): a wirefilter-style expression compiled once at
// config load into a closure that the query path calls. The grammar is in parser.ts.
import { compileNode } from './compile';
import { ConditionError } from './errors';
import type { RuleInput } from './input';
import { parse } from './parser';

export { ConditionError };
export type { RuleInput };

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
