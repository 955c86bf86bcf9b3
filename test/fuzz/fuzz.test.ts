// Coverage-guided fuzzing (engine.ts) of the three parsers that take outside input: the wire decoder and handler,
// the rule-expression compiler, the config loader. First every saved input under test/fuzz/corpus/<target>/ is
// replayed (each once found a bug); then each target is fuzzed for STEERDNS_FUZZ_SECONDS (default 15; 0 = replay
// only; e.g. 600 for a long local run) from a seed printed with the results, so that a failure can be replayed
// with STEERDNS_FUZZ_SEED.
import { corpusOf, fuzz } from './engine';
import { TARGETS } from './targets';

const SECONDS = Number(process.env.STEERDNS_FUZZ_SECONDS ?? 15);
const SEED = process.env.STEERDNS_FUZZ_SEED ? Number(process.env.STEERDNS_FUZZ_SEED) : Date.now() & 0x7fffffff;

describe.each(Object.keys(TARGETS))('fuzz target %s', (name) => {
  const target = TARGETS[name]();

  test('replays the saved corpus without a failure', () => {
    for (const { file, input } of corpusOf(name)) {
      try {
        target.run(input);
      } catch (err) {
        throw new Error(`${file}: ${(err as Error).stack ?? String(err)}`);
      }
    }
  });

  (SECONDS > 0 ? test : test.skip)(`survives ${SECONDS} s of coverage-guided fuzzing`, () => {
    const report = fuzz(target, SECONDS, SEED);
    process.stdout.write(`fuzz ${name}: seed ${SEED}, ${report.executions} executions, ${report.corpus} inputs kept, ${report.features} features\n`);
    if (report.failures.length > 0) {
      throw new Error(`${report.failures.length} failing input(s), saved (commit them as regression inputs):\n${report.failures.map((f) => `${f.file}\n${f.error}`).join('\n\n')}`);
    }
    expect(report.executions).toBeGreaterThan(0);
    expect(report.features).toBeGreaterThan(0);
  }, (SECONDS + 60) * 1000);
});
