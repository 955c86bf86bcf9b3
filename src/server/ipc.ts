// Messages between the cluster primary (control plane) and its workers (data planes), over the cluster IPC channel
// with structured-clone ("advanced") serialization. Every message is checked on arrival: a malformed one is logged
// and dropped, never acted on.
//
// A config reaches a worker as a sequence: many `config` chunks (config/transfer.ts), then `prepare` (build the
// runtime in slices, open the listeners the config adds) → `prepared`; then `commit` (swap) → `committed`, or
// `abort`. The primary commits only when every worker prepared, so a config applies everywhere or nowhere.
import { isConfigChunk, type ConfigChunk } from '../config/transfer';
import type { HealthSnapshot } from '../health/store';
import type { AnswerDelta, LbStatsSnapshot } from '../lb/stats';
import type { QueryStatsSnapshot } from '../observe/query-stats';

export interface PlaneStats {
  query: QueryStatsSnapshot;
  lbs: LbStatsSnapshot;
  tcpConnections: number;
  /** Answer cells drained since the last stats reply, per bucket (lb/stats.ts): the primary's analytics. */
  analytics: AnswerDelta[];
}

export type ToWorker =
  | { type: 'config'; seq: number; chunk: ConfigChunk }
  | { type: 'prepare'; seq: number; snapshot: HealthSnapshot }
  | { type: 'commit'; seq: number; snapshot: HealthSnapshot; targets: string[] }
  | { type: 'abort'; seq: number }
  | { type: 'health'; snapshot: HealthSnapshot }
  | { type: 'targets'; keys: string[] }
  | { type: 'stats'; seq: number }
  | { type: 'shutdown' };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'prepared'; seq: number; ok: boolean; error: string }
  | { type: 'committed'; seq: number; listening: string[]; udpIo: 'batched' | 'dgram' }
  | { type: 'stats'; seq: number; stats: PlaneStats };

type Fields = Record<string, unknown>;

function isRecord(x: unknown): x is Fields {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

const isSeq = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;
const isStringArray = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');

function isSnapshot(x: unknown): x is HealthSnapshot {
  return isRecord(x) && x.format === 'steerdns-health' && Array.isArray(x.targets);
}

const isNumberArray = (x: unknown): x is number[] => Array.isArray(x) && x.every((n) => typeof n === 'number');

/** [lb, pool, endpoints, (index, count) pairs]; the analytics store checks the numbers' ranges. */
function isDeltaBlock(x: unknown): boolean {
  return Array.isArray(x) && x.length === 4 && typeof x[0] === 'string' && typeof x[1] === 'string' && isStringArray(x[2]) && isNumberArray(x[3]);
}

function isAnswerDelta(x: unknown): x is AnswerDelta {
  return isRecord(x) && typeof x.bucket === 'number' && Array.isArray(x.blocks) && x.blocks.every(isDeltaBlock);
}

function isPlaneStats(x: unknown): x is PlaneStats {
  if (!isRecord(x) || typeof x.tcpConnections !== 'number' || !Array.isArray(x.lbs) || !isRecord(x.query)) return false;
  if (!Array.isArray(x.analytics) || !x.analytics.every(isAnswerDelta)) return false;
  const q = x.query;
  return Array.isArray(q.queries) && Array.isArray(q.truncated) && Array.isArray(q.dropped) && Array.isArray(q.tcpRejected) && Array.isArray(q.latencyBuckets) && typeof q.latencySum === 'number' && typeof q.latencyCount === 'number' && Array.isArray(q.rrl) && Array.isArray(q.cookies);
}

/** The message as a ToWorker, or null when it is not one. */
export function parseToWorker(m: unknown): ToWorker | null {
  if (!isRecord(m)) return null;
  switch (m.type) {
    case 'config': return isSeq(m.seq) && isConfigChunk(m.chunk) ? (m as ToWorker) : null;
    case 'prepare': return isSeq(m.seq) && isSnapshot(m.snapshot) ? (m as ToWorker) : null;
    case 'commit': return isSeq(m.seq) && isSnapshot(m.snapshot) && isStringArray(m.targets) ? (m as ToWorker) : null;
    case 'abort': return isSeq(m.seq) ? (m as ToWorker) : null;
    case 'health': return isSnapshot(m.snapshot) ? (m as ToWorker) : null;
    case 'targets': return isStringArray(m.keys) ? (m as ToWorker) : null;
    case 'stats': return isSeq(m.seq) ? (m as ToWorker) : null;
    case 'shutdown': return { type: 'shutdown' };
    default: return null;
  }
}

/** The message as a FromWorker, or null when it is not one. */
export function parseFromWorker(m: unknown): FromWorker | null {
  if (!isRecord(m)) return null;
  switch (m.type) {
    case 'ready': return { type: 'ready' };
    case 'prepared': return isSeq(m.seq) && typeof m.ok === 'boolean' && typeof m.error === 'string' ? (m as FromWorker) : null;
    case 'committed': return isSeq(m.seq) && isStringArray(m.listening) && (m.udpIo === 'batched' || m.udpIo === 'dgram') ? (m as FromWorker) : null;
    case 'stats': return isSeq(m.seq) && isPlaneStats(m.stats) ? (m as FromWorker) : null;
    default: return null;
  }
}
