// Batches in the store are read defensively: what another process wrote is never trusted.
import { decodeBatch, encodeBatch } from '../../../src/health/shared/codec';
import type { Observation } from '../../../src/health/shared/types';

const obs: Observation[] = [
  { key: 'http 127.0.0.1:80 #abc', ok: true, reason: 'No failures', responseCode: 200, rttMs: 1.234, checkedAt: 1_700_000_000_000 },
  { key: 'tcp [::1]:25 host=a\tb\\c\nd #x', ok: false, reason: 'TCP connection failed', responseCode: null, rttMs: null, checkedAt: 1_700_000_000_001 },
];

test('round trip, keys with tabs, backslashes and newlines included', () => {
  const d = decodeBatch(encodeBatch(obs));
  expect(d.malformed).toBe(0);
  expect(d.observations).toEqual([{ ...obs[0], rttMs: 1.23 }, obs[1]]);
});

test('malformed lines are skipped and counted; the rest is kept', () => {
  const good = encodeBatch(obs).split('\n');
  const payload = [
    ...good,
    'only\tthree\tfields',
    'k\t2\t0\t\t\t1', // ok is neither 0 nor 1
    'k\t1\t99\t\t\t1', // no such reason
    'k\t1\t1\t\t\t1', // ok with a failure reason
    'k\t0\t1\t-5\t\t1', // negative code
    'k\t0\t1\t\tNaN\t1',
    'k\t0\t1\t\t\t0', // no time
    `${'x'.repeat(5000)}\t1\t0\t\t\t1`,
  ].join('\n');
  const d = decodeBatch(payload);
  expect(d.observations).toHaveLength(2);
  expect(d.malformed).toBe(8);
});

test('an unknown version is ignored whole', () => {
  expect(decodeBatch('steerdns-health-v9\nk\t1\t0\t\t\t1')).toEqual({ observations: [], malformed: 1 });
  expect(decodeBatch('').observations).toEqual([]);
});
