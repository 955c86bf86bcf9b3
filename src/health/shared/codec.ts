// The wire form of a batch of observations in the store: one line per result, tab-separated, behind a version
// line. Compact (a target key and a few numbers), cheap to build and to split, and read defensively: whatever is in
// the store was written by another process, possibly another version, possibly by hand; a malformed line is
// skipped and counted, never trusted.
import { FAILURE_REASONS } from '../types';
import type { FailureReason } from '../types';
import type { Observation } from './types';

const VERSION = 'steerdns-health-v1';
const REASON_INDEX = new Map<string, number>(FAILURE_REASONS.map((r, i) => [r, i]));
/** Longest key accepted from the store (keys are a monitor type, an address, a port, a Host header and a hash). */
const MAX_KEY = 2048;

function escapeKey(key: string): string {
  if (key.indexOf('\\') < 0 && key.indexOf('\t') < 0 && key.indexOf('\n') < 0) return key;
  return key.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');
}

function unescapeKey(text: string): string {
  if (text.indexOf('\\') < 0) return text;
  return text.replace(/\\(.)/g, (_m, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c));
}

export function encodeBatch(obs: readonly Observation[]): string {
  const lines: string[] = [VERSION];
  for (const o of obs) {
    const rtt = o.rttMs === null || !Number.isFinite(o.rttMs) ? '' : String(Math.round(o.rttMs * 100) / 100);
    lines.push(`${escapeKey(o.key)}\t${o.ok ? 1 : 0}\t${REASON_INDEX.get(o.reason) ?? FAILURE_REASONS.indexOf('Other Failure')}\t${o.responseCode ?? ''}\t${rtt}\t${Math.round(o.checkedAt)}`);
  }
  return lines.join('\n');
}

export interface Decoded {
  observations: Observation[];
  /** Lines that were not a valid observation (or a whole batch of an unknown version). */
  malformed: number;
}

function optionalNumber(text: string, max: number): number | null | undefined {
  if (text === '') return null;
  const n = Number(text);
  return Number.isFinite(n) && n >= 0 && n <= max ? n : undefined;
}

export function decodeBatch(payload: string): Decoded {
  const lines = payload.split('\n');
  if (lines[0] !== VERSION) return { observations: [], malformed: Math.max(1, lines.length - 1) };
  const observations: Observation[] = [];
  let malformed = 0;
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i].split('\t');
    if (f.length !== 6 || f[0] === '' || f[0].length > MAX_KEY || (f[1] !== '0' && f[1] !== '1')) {
      malformed++;
      continue;
    }
    const reasonIndex = Number(f[2]);
    const reason: FailureReason | undefined = Number.isInteger(reasonIndex) ? FAILURE_REASONS[reasonIndex] : undefined;
    const code = optionalNumber(f[3], 999);
    const rtt = optionalNumber(f[4], 3_600_000);
    const checkedAt = Number(f[5]);
    const ok = f[1] === '1';
    if (reason === undefined || code === undefined || rtt === undefined || !Number.isSafeInteger(checkedAt) || checkedAt <= 0 || ok !== (reason === 'No failures')) {
      malformed++;
      continue;
    }
    observations.push({ key: unescapeKey(f[0]), ok, reason, responseCode: code === null ? null : Math.floor(code), rttMs: rtt, checkedAt });
  }
  return { observations, malformed };
}
