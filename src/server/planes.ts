// How the control plane reaches the data planes: one in this process (single-process mode), or one per cluster
// worker (cluster-planes.ts). The supervisor drives both through this interface and knows nothing of workers.
import type { Config } from '../config/types';
import { LbStatsRegistry, type AnswerDelta, type LbCounters } from '../lb/stats';
import type { Logger } from '../observe/log';
import { QueryStats } from '../observe/query-stats';
import type { Runtime } from '../runtime';
import { DataPlane } from './data-plane';
import type { PlaneStats } from './ipc';

/** A config and the runtime the control plane built from it. */
export interface Generation {
  config: Config;
  runtime: Runtime;
}

export interface PlanesStats {
  query: QueryStats;
  /** Read it before the next await: in single-process mode it is the data plane's live table, not a copy. */
  lbs: ReadonlyMap<string, LbCounters>;
  tcpConnections: number;
  /** Answer cells drained since the last call (every call drains: the caller must keep them). */
  analytics: AnswerDelta[];
}

export interface DataPlanes {
  /** Where the runtimes the supervisor builds count their steering decisions. */
  readonly lbStats: LbStatsRegistry;
  /**
   * Makes `next` ready to serve on every data plane (runtimes built, new listen addresses bound) without changing
   * what is served. Throws, with everything undone, when any data plane cannot.
   */
  prepare(next: Generation): Promise<void>;
  /** Switches every data plane to what prepare() readied. */
  commit(): Promise<void>;
  /** Drops what prepare() readied. */
  abort(): Promise<void>;
  /** Counters summed over the data planes. */
  stats(): Promise<PlanesStats>;
  readiness(): { ready: boolean; reason: string };
  /** For /api/status: `listen` (the bound addresses, "host:port"), and workers in a cluster. */
  describe(): { listen: string[] } & Record<string, unknown>;
  /** Open TCP connections (in a cluster: as of the last stats()). */
  tcpConnections(): number;
  /** A probe attempt finished (RTT moved) or a target's health changed: data planes elsewhere need to hear. */
  healthChanged(key: string, urgent: boolean): void;
  stop(): Promise<void>;
}

/** The data plane in this process, answering from the runtimes the supervisor builds (single-process mode). */
export class LocalPlanes implements DataPlanes {
  readonly plane: DataPlane;

  constructor(log: Logger) {
    this.plane = new DataPlane({ log, shared: false });
  }

  get lbStats(): LbStatsRegistry {
    return this.plane.lbStats;
  }

  prepare(next: Generation): Promise<void> {
    return this.plane.prepare(next.runtime, next.config.server);
  }

  commit(): Promise<void> {
    return this.plane.commit();
  }

  abort(): Promise<void> {
    return this.plane.abort();
  }

  stats(): Promise<PlanesStats> {
    const analytics = this.plane.lbStats.takeDeltas();
    return Promise.resolve({ query: this.plane.queryStats, lbs: this.plane.lbStats.byLb, tcpConnections: this.plane.tcpConnections, analytics });
  }

  readiness(): { ready: boolean; reason: string } {
    return this.plane.runtime === null ? { ready: false, reason: 'not serving yet' } : { ready: true, reason: '' };
  }

  describe(): { listen: string[]; udp_io: string | null } {
    return { listen: this.plane.listening, udp_io: this.plane.udpPath };
  }

  tcpConnections(): number {
    return this.plane.tcpConnections;
  }

  healthChanged(): void {
    // The runtime reads the supervisor's health store directly.
  }

  stop(): Promise<void> {
    return this.plane.stop();
  }
}

/** Sums counters from several data planes. */
export function sumStats(parts: readonly PlaneStats[]): PlanesStats {
  const query = new QueryStats();
  const lbs = new LbStatsRegistry();
  let tcpConnections = 0;
  const analytics: AnswerDelta[] = [];
  for (const p of parts) {
    query.add(p.query);
    lbs.add(p.lbs);
    tcpConnections += p.tcpConnections;
    analytics.push(...p.analytics);
  }
  return { query, lbs: lbs.byLb, tcpConnections, analytics };
}
