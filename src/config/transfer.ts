// A validated Config moved between threads and processes in pieces. Structured clone copies a whole object graph
// in one synchronous step on the receiving side; a config of 10,000 load balancers and 50,000 endpoints is a few
// hundred thousand objects, a pause the query path must not see. In chunks of a few hundred items, each step costs
// a millisecond or two and the receiver's event loop runs between them.
import type { Config, LoadBalancerConfig, MonitorConfig, MonitorGroupConfig, NotificationsConfig, PoolConfig, RecordConfig, ServerConfig, ZoneConfig } from './types';

/** Items per chunk: small enough that cloning one takes ~1 ms. */
const CHUNK_ITEMS = 256;

export type ConfigChunk =
  | { kind: 'head'; file: string; server: ServerConfig; notifications: NotificationsConfig }
  | { kind: 'zone'; zone: ZoneConfig }
  /** More records of the zone sent last (large zones are split). */
  | { kind: 'records'; records: RecordConfig[] }
  | { kind: 'monitors'; entries: [string, MonitorConfig][] }
  | { kind: 'monitor_groups'; entries: [string, MonitorGroupConfig][] }
  | { kind: 'pools'; entries: [string, PoolConfig][] }
  | { kind: 'load_balancers'; items: LoadBalancerConfig[] };

const KINDS: ReadonlySet<string> = new Set(['head', 'zone', 'records', 'monitors', 'monitor_groups', 'pools', 'load_balancers']);

/** The chunks of a config, in the order an assembler takes them (head first). */
export function* configChunks(config: Config): Generator<ConfigChunk, void, void> {
  yield { kind: 'head', file: config.file, server: config.server, notifications: config.notifications };
  for (const zone of config.zones) {
    yield { kind: 'zone', zone: { ...zone, records: zone.records.slice(0, CHUNK_ITEMS) } };
    for (let i = CHUNK_ITEMS; i < zone.records.length; i += CHUNK_ITEMS) yield { kind: 'records', records: zone.records.slice(i, i + CHUNK_ITEMS) };
  }
  yield* entryChunks('monitors', config.monitors);
  yield* entryChunks('monitor_groups', config.monitor_groups);
  yield* entryChunks('pools', config.pools);
  for (let i = 0; i < config.load_balancers.length; i += CHUNK_ITEMS) yield { kind: 'load_balancers', items: config.load_balancers.slice(i, i + CHUNK_ITEMS) };
}

function* entryChunks<K extends 'monitors' | 'monitor_groups' | 'pools', V>(kind: K, map: Map<string, V>): Generator<{ kind: K; entries: [string, V][] }, void, void> {
  let entries: [string, V][] = [];
  for (const e of map) {
    entries.push(e);
    if (entries.length === CHUNK_ITEMS) {
      yield { kind, entries };
      entries = [];
    }
  }
  if (entries.length > 0) yield { kind, entries };
}

/** Whether a value received from elsewhere has the shape of a chunk (kind and item lists; contents are trusted). */
export function isConfigChunk(x: unknown): x is ConfigChunk {
  if (typeof x !== 'object' || x === null) return false;
  const c = x as Record<string, unknown>;
  if (typeof c.kind !== 'string' || !KINDS.has(c.kind)) return false;
  switch (c.kind) {
    case 'head': return typeof c.file === 'string' && isObject(c.server) && isObject(c.notifications);
    case 'zone': return isObject(c.zone) && Array.isArray((c.zone as { records?: unknown }).records);
    case 'records': return Array.isArray(c.records);
    case 'load_balancers': return Array.isArray(c.items);
    default: return Array.isArray(c.entries) && c.entries.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string');
  }
}

function isObject(x: unknown): boolean {
  return typeof x === 'object' && x !== null;
}

/** Puts a config back together from its chunks. */
export class ConfigAssembler {
  private head: Extract<ConfigChunk, { kind: 'head' }> | null = null;
  private readonly zones: ZoneConfig[] = [];
  private readonly monitors = new Map<string, MonitorConfig>();
  private readonly monitorGroups = new Map<string, MonitorGroupConfig>();
  private readonly pools = new Map<string, PoolConfig>();
  private readonly loadBalancers: LoadBalancerConfig[] = [];

  add(chunk: ConfigChunk): void {
    switch (chunk.kind) {
      case 'head':
        this.head = chunk;
        break;
      case 'zone':
        this.zones.push(chunk.zone);
        break;
      case 'records': {
        const last = this.zones[this.zones.length - 1];
        if (!last) throw new Error('config transfer: records before any zone');
        for (const r of chunk.records) last.records.push(r);
        break;
      }
      case 'monitors':
        for (const [k, v] of chunk.entries) this.monitors.set(k, v);
        break;
      case 'monitor_groups':
        for (const [k, v] of chunk.entries) this.monitorGroups.set(k, v);
        break;
      case 'pools':
        for (const [k, v] of chunk.entries) this.pools.set(k, v);
        break;
      case 'load_balancers':
        for (const lb of chunk.items) this.loadBalancers.push(lb);
        break;
    }
  }

  finish(): Config {
    if (!this.head) throw new Error('config transfer: no head chunk');
    return {
      file: this.head.file,
      server: this.head.server,
      zones: this.zones,
      monitors: this.monitors,
      monitor_groups: this.monitorGroups,
      pools: this.pools,
      load_balancers: this.loadBalancers,
      notifications: this.head.notifications,
    };
  }
}
