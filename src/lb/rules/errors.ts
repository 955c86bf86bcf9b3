// Lives apart from condition.ts so the lexer and parser can throw it without an import cycle.

/** A bad condition, with the span of the offending token so `check` can print file:line:col. */
export class ConditionError extends Error {
  /** 0-based character offset into the condition source. */
  readonly offset: number;
  /** Characters covered by the offending token (0 at the end of the source). */
  readonly length: number;

  constructor(message: string, offset: number, length: number) {
    super(message);
    this.name = 'ConditionError';
    this.offset = offset;
    this.length = length;
  }
}
