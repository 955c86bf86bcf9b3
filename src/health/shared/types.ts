// Shared health: what vantage points exchange, and the store interface they exchange it through. A store engine
// (Redis today: redis-store.ts) implements SharedHealthStore; nothing else in steerdns knows which engine runs.
import type { FailureReason } from '../types';

/** This instance as a vantage point: its PoP code and load-balancing region (server.pop). */
export interface VantagePoint {
  readonly pop: string;
  readonly region: string;
}

/** One probe attempt's result as a vantage point published it. */
export interface Observation {
  /** Target key (health/targets.ts): identical on every instance that runs the same config. */
  readonly key: string;
  readonly ok: boolean;
  readonly reason: FailureReason;
  readonly responseCode: number | null;
  readonly rttMs: number | null;
  /** When the attempt completed, on the publisher's clock (ms since epoch); shown, never compared across clocks. */
  readonly checkedAt: number;
}

/** A vantage point's latest result for one target, as the aggregator holds it. */
export interface Vote extends Observation {
  readonly pop: string;
  readonly region: string;
  /** When the result was stored, on this instance's clock (store time corrected by the measured clock offset). */
  readonly at: number;
}

/** A vantage point's view of a target in a status answer or a health event. */
export interface VantageVote {
  pop: string;
  region: string;
  healthy: boolean;
  failure_reason: FailureReason;
  response_code: number | null;
  rtt_ms: number | null;
  checked_at: string;
  /** Whether its region votes on this target (pool check_regions). */
  voting: boolean;
}

/** One batch as read back from the store. */
export interface StoredBatch {
  /** Store position: later batches have greater ids (opaque outside the engine). */
  readonly id: string;
  /** When the store took the batch, on the store's clock (ms since epoch). */
  readonly storedAt: number;
  readonly pop: string;
  readonly region: string;
  /** Encoded observations (codec.ts). */
  readonly payload: string;
}

export interface ReadResult {
  batches: StoredBatch[];
  /** Position to read from next time. */
  cursor: string;
  /** The store's clock when it answered (ms since epoch), to convert storedAt to this instance's clock. */
  storeNow: number;
  /** More batches are waiting (the read stopped at its limit). */
  more: boolean;
}

/**
 * A store that vantage points share. Every call is bounded in time and rejects (never hangs, never throws
 * synchronously) when the store is slow or gone; nothing is queued while it is away.
 */
export interface SharedHealthStore {
  /** A short description for logs and status (never credentials). */
  readonly description: string;
  /**
   * Appends one batch of this vantage point's results and resolves with its id; `windowMs` is how long batches must
   * stay readable.
   */
  publish(vp: VantagePoint, payload: string, windowMs: number): Promise<string>;
  /**
   * Batches stored after `cursor`, oldest first, at most `limit`. A null cursor, or one older than `windowMs`, reads
   * everything stored in the last `windowMs` (start-up, and after an outage).
   */
  read(cursor: string | null, windowMs: number, limit: number): Promise<ReadResult>;
  close(): Promise<void>;
}

/** Why a target's global status changed: the regions' tallies and every fresh vantage point's view. */
export interface GlobalCause {
  regions: { region: string; healthy: boolean; passing: number; total: number }[];
  vantage_points: VantageVote[];
}
