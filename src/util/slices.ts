// Long computations written once, run two ways: to the end at once (check, explain, tests), or in slices of a few
// milliseconds with the event loop free between them (a reload beside a serving query path). A sliced computation
// is a generator that yields wherever it may be paused; the result is its return value.
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';

export type Sliced<T> = Generator<void, T, void>;

/** Runs a sliced computation to its end, synchronously. */
export function runToEnd<T>(work: Sliced<T>): T {
  for (;;) {
    const r = work.next();
    if (r.done) return r.value;
  }
}

/**
 * Runs a sliced computation with the event loop free every `budgetMs` of work, so that pending I/O (queries)
 * is served between slices. The clock is read every few yields only.
 */
export async function runInSlices<T>(work: Sliced<T>, budgetMs = 4): Promise<T> {
  let deadline = performance.now() + budgetMs;
  for (let n = 1; ; n++) {
    const r = work.next();
    if (r.done) return r.value;
    if ((n & 15) === 0 && performance.now() >= deadline) {
      await nextTurn();
      deadline = performance.now() + budgetMs;
    }
  }
}
