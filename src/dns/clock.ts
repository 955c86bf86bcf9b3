// The coarse clock of the query path: whole seconds, read from the query context (which its owner advances a few
// times a second), never from the system clock per query.
//
// It counts from 2020 rather than 1970 so that its values are V8 small integers (below 2^30 until 2054): a larger
// integer passed to a function that is not inlined is boxed into a fresh heap number, an allocation per query.

/** 2020-01-01T00:00:00Z in seconds since the Unix epoch. */
export const CLOCK_EPOCH = 1577836800;

/** The coarse clock's reading now. */
export function clockNow(): number {
  return Math.floor(Date.now() / 1000) - CLOCK_EPOCH;
}
