// Probe targets: which (monitor, endpoint) pairs are probed, and their identity.
//
// A target is identified by the monitor definition (minus `name` and `description`), the endpoint address, the
// effective port and the effective Host header. Pools that share a monitor and an endpoint share one target and
// one probe; state survives a reload for every target whose key is unchanged (docs/decisions.md §1.4).
import { runToEnd, type Sliced } from '../util/slices';
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { Config, MonitorConfig, MonitorType, OriginConfig, PoolConfig } from '../config/types';
import type { ProbeTarget, TargetUser } from './types';

const DEFAULT_PORT: Partial<Record<MonitorType, number>> = { http: 80, https: 443, smtp: 25 };

export const USER_AGENT_PREFIX = 'Mozilla/5.0 (compatible; steerdns/1.0; +https://github.com/steerdns; pool: ';

export function defaultUserAgent(pool: string): string {
  return `${USER_AGENT_PREFIX}${pool})`;
}

export function isHttpType(type: MonitorType): boolean {
  return type === 'http' || type === 'https';
}

/** The values of a header, matched case-insensitively; undefined when absent. */
export function headerValues(headers: Record<string, string[]>, name: string): string[] | undefined {
  const lower = name.toLowerCase();
  for (const k of Object.keys(headers)) if (k.toLowerCase() === lower) return headers[k];
  return undefined;
}

function firstValue(headers: Record<string, string[]>, name: string): string | null {
  const v = headerValues(headers, name);
  if (!v) return null;
  for (const s of v) if (s.trim() !== '') return s.trim();
  return null;
}

/** Host header precedence (https://developers.cloudflare.com/load-balancing/additional-options/override-http-host-headers/): endpoint `header.Host` > monitor `header.Host` > none. HTTP types only. */
export function effectiveHost(monitor: MonitorConfig, origin: OriginConfig): string | null {
  if (!isHttpType(monitor.type)) return null;
  return firstValue(origin.header, 'host') ?? firstValue(monitor.header, 'host');
}

/** monitor `port` ?? endpoint `port` ?? type default (http 80, https 443, smtp 25); icmp_ping has no port. */
export function effectivePort(monitor: MonitorConfig, origin: OriginConfig): number | null {
  if (monitor.type === 'icmp_ping') return null;
  return monitor.port ?? origin.port ?? DEFAULT_PORT[monitor.type] ?? null;
}

/** Monitor headers overlaid by endpoint headers (same name, any case: the endpoint's win), without Host. */
function mergedHeaders(monitor: MonitorConfig, origin: OriginConfig): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const names = new Map<string, string>();
  const add = (h: Record<string, string[]>): void => {
    for (const [name, values] of Object.entries(h)) {
      const lower = name.toLowerCase();
      if (lower === 'host') continue;
      const prev = names.get(lower);
      if (prev !== undefined) delete out[prev];
      names.set(lower, name);
      out[name] = [...values];
    }
  };
  add(monitor.header);
  add(origin.header);
  return out;
}

/** Strips an optional port from a Host value: "a.example:8080" → "a.example", "[2001:db8::1]:80" → "2001:db8::1". */
export function hostName(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end > 0 ? host.slice(1, end) : host;
  }
  if (isIP(host) === 6) return host;
  const colon = host.lastIndexOf(':');
  return colon >= 0 && /^\d+$/.test(host.slice(colon + 1)) ? host.slice(0, colon) : host;
}

function hostForUrl(address: string): string {
  return isIP(address) === 6 ? `[${address}]` : address;
}

function canonicalHeaders(h: Record<string, string[]>): Array<[string, string[]]> {
  return Object.entries(h)
    .map(([k, v]): [string, string[]] => [k.toLowerCase(), v])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** The fields of a monitor that decide what a probe does and what counts as a pass. */
function probeDefinition(monitor: MonitorConfig, headers: Record<string, string[]>): unknown[] {
  if (isHttpType(monitor.type)) {
    return [
      monitor.type,
      monitor.method.toUpperCase(),
      monitor.path,
      canonicalHeaders(headers),
      monitor.expected_codes,
      monitor.expected_body,
      monitor.follow_redirects,
      monitor.allow_insecure,
    ];
  }
  return [monitor.type];
}

function scheduleDefinition(monitor: MonitorConfig): unknown[] {
  return [monitor.interval, monitor.timeout, monitor.retries, monitor.consecutive_up, monitor.consecutive_down];
}

function hash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

function keyPrefix(monitor: MonitorConfig, origin: OriginConfig): string {
  const port = effectivePort(monitor, origin);
  const host = effectiveHost(monitor, origin);
  const addr = hostForUrl(origin.address.toLowerCase());
  return `${monitor.type} ${port === null ? addr : `${addr}:${port}`}${host === null ? '' : ` host=${host}`}`;
}

// Keys are computed per (monitor object, origin object); config objects are immutable once loaded, so a reload
// (new objects) recomputes and the query path's evaluatePool pays one WeakMap lookup per endpoint.
const keyCache = new WeakMap<MonitorConfig, WeakMap<OriginConfig, string>>();

/**
 * Identity of one probe target, e.g. `https 192.0.2.10:443 host=www.example.com #3f2a9c1d0b7e4a66`. The hash
 * covers the whole monitor definition except `name` and `description` (renaming a monitor keeps its state).
 */
export function targetKey(monitor: MonitorConfig, origin: OriginConfig): string {
  let byOrigin = keyCache.get(monitor);
  if (!byOrigin) {
    byOrigin = new WeakMap();
    keyCache.set(monitor, byOrigin);
  }
  let key = byOrigin.get(origin);
  if (key === undefined) {
    const headers = mergedHeaders(monitor, origin);
    key = `${keyPrefix(monitor, origin)} #${hash([probeDefinition(monitor, headers), scheduleDefinition(monitor)])}`;
    byOrigin.set(origin, key);
  }
  return key;
}

/**
 * Cloudflare has 13 load-balancing regions ("There are a total of 13 regions, resulting in 39 probes":
 * https://developers.cloudflare.com/load-balancing/monitors/ §Configurations); a list naming them all is "all".
 */
const REGION_COUNT = 13;

/**
 * The regions whose vantage points vote on a pool's health, sorted; null when every region votes (the default) or
 * when health is not shared (one vantage point: `check_regions` has nothing to choose from).
 */
export function votingRegions(config: Config, pool: PoolConfig): readonly string[] | null {
  if (config.server.shared_health === null || pool.check_regions === null) return null;
  const regions = [...new Set(pool.check_regions)].sort();
  return regions.length >= REGION_COUNT ? null : regions;
}

const poolKeyCache = new WeakMap<OriginConfig, WeakMap<MonitorConfig, string>>();

/**
 * The key of a pool's (monitor, endpoint) target: targetKey, plus the voting regions when the pool limits them, so
 * that pools sharing an endpoint but not their `check_regions` keep separate global health. Origins belong to one
 * pool of one config, so (origin, monitor) identifies the pool too.
 */
export function poolTargetKey(config: Config, pool: PoolConfig, monitor: MonitorConfig, origin: OriginConfig): string {
  let byMonitor = poolKeyCache.get(origin);
  if (!byMonitor) {
    byMonitor = new WeakMap();
    poolKeyCache.set(origin, byMonitor);
  }
  let key = byMonitor.get(monitor);
  if (key === undefined) {
    const regions = votingRegions(config, pool);
    key = regions === null ? targetKey(monitor, origin) : `${targetKey(monitor, origin)} regions=${regions.join(',')}`;
    byMonitor.set(monitor, key);
  }
  return key;
}

/** The key without the scheduling/hysteresis fields: see ProbeTarget.carryKey. */
export function targetCarryKey(monitor: MonitorConfig, origin: OriginConfig): string {
  return `${keyPrefix(monitor, origin)} ~${hash(probeDefinition(monitor, mergedHeaders(monitor, origin)))}`;
}

/** Whether a pool is probed at all: it names a monitor or a monitor group (an unmonitored pool's health never
 *  changes, so the health service, its events and the analytics sampler skip it). */
export function isMonitored(pool: PoolConfig): boolean {
  return pool.monitor !== null || pool.monitor_group !== null;
}

/** One (pool, endpoint, monitor) use of a target. `member` is the group member when the pool uses a group. */
export interface TargetUse {
  pool: PoolConfig;
  origin: OriginConfig;
  monitor: MonitorConfig;
  /** Monitor name as referenced by the pool or the group. */
  monitorName: string;
  key: string;
  /** Regions that vote on it (shared health with `check_regions`); null: all. */
  regions: readonly string[] | null;
}

/**
 * Calls `fn` for every probed (pool, enabled endpoint, monitor): pools that are enabled and have a monitor or a
 * monitor group; for a group, every enabled member. References that do not resolve are skipped (they are
 * reported by targetProblems and by config validation).
 */
export function forEachTargetUse(config: Config, fn: (use: TargetUse) => void): void {
  for (const use of targetUses(config)) if (use !== null) fn(use);
}

/** Every use, and `null` after each pool (a pause point for buildTargetsSliced: most pools of a big config may
 *  have no monitor, and going through them all is a slice of its own). */
function* targetUses(config: Config): Generator<TargetUse | null, void, void> {
  for (const pool of config.pools.values()) {
    yield null;
    if (!pool.enabled || !isMonitored(pool)) continue;
    const monitors = poolMonitors(pool, config);
    if (monitors.length === 0) continue;
    for (const origin of pool.origins) {
      if (!origin.enabled) continue;
      for (const [monitorName, monitor] of monitors) {
        yield { pool, origin, monitor, monitorName, key: poolTargetKey(config, pool, monitor, origin), regions: votingRegions(config, pool) };
      }
    }
  }
}

/** The monitors a pool probes with: its monitor, or the enabled members of its group, that exist. */
function poolMonitors(pool: PoolConfig, config: Config): Array<[string, MonitorConfig]> {
  const out: Array<[string, MonitorConfig]> = [];
  if (pool.monitor !== null) {
    const m = config.monitors.get(pool.monitor);
    if (m) out.push([pool.monitor, m]);
  } else if (pool.monitor_group !== null) {
    const g = config.monitor_groups.get(pool.monitor_group);
    if (g) {
      for (const member of g.members) {
        if (!member.enabled) continue;
        const m = config.monitors.get(member.monitor);
        if (m) out.push([member.monitor, m]);
      }
    }
  }
  return out;
}

/**
 * Every probe target of a config, one per distinct key, each with the list of (pool, endpoint, monitor) using it.
 * Disabled pools, disabled endpoints and disabled group members send no probes.
 */
export function buildTargets(config: Config): ProbeTarget[] {
  return runToEnd(buildTargetsSliced(config));
}

/** buildTargets, pausable (util/slices): 50,000 monitored endpoints take a while to key. */
export function* buildTargetsSliced(config: Config): Sliced<ProbeTarget[]> {
  const byKey = new Map<string, { use: TargetUse; users: TargetUser[] }>();
  let n = 0;
  for (const use of targetUses(config)) {
    if (use === null) {
      if ((++n & 63) === 0) yield;
      continue;
    }
    const user: TargetUser = { pool: use.pool.name, origin: use.origin.name, monitor: use.monitorName };
    const found = byKey.get(use.key);
    if (found) found.users.push(user);
    else byKey.set(use.key, { use, users: [user] });
    if ((++n & 63) === 0) yield;
  }
  const out: ProbeTarget[] = [];
  for (const [key, { use, users }] of byKey) {
    out.push(makeTarget(key, use.monitor, use.origin, users, use.regions));
    if ((out.length & 63) === 0) yield;
  }
  return out;
}

/** Builds one target (exported for tests and benchmarks that probe without a whole config). */
export function makeTarget(
  key: string,
  monitor: MonitorConfig,
  origin: OriginConfig,
  users: TargetUser[],
  regions: readonly string[] | null = null,
): ProbeTarget {
  const port = effectivePort(monitor, origin);
  const host = effectiveHost(monitor, origin);
  const headers = isHttpType(monitor.type) ? mergedHeaders(monitor, origin) : {};
  if (isHttpType(monitor.type) && headerValues(headers, 'user-agent') === undefined) {
    headers['User-Agent'] = [defaultUserAgent(users.length > 0 ? users[0].pool : '')];
  }
  let hostHeader: string;
  if (host !== null) hostHeader = host;
  else {
    const defaultPort = monitor.type === 'https' ? 443 : 80;
    const a = hostForUrl(origin.address);
    hostHeader = port === null || port === defaultPort ? a : `${a}:${port}`;
  }
  const name = host !== null ? hostName(host) : origin.address;
  const sni = isIP(name) === 0 && name !== '' ? name : null;
  return {
    key,
    carryKey: regions === null ? targetCarryKey(monitor, origin) : `${targetCarryKey(monitor, origin)} regions=${regions.join(',')}`,
    monitor,
    address: origin.address,
    port,
    host,
    hostHeader,
    sni,
    headers,
    users,
    regions,
  };
}

export interface TargetProblem {
  severity: 'error' | 'warning';
  message: string;
  pool: string;
  origin: string | null;
  monitor: string | null;
}

/** Parses `expected_codes` ("200", "2xx", "200,301", "200 301"); null when malformed or empty. */
export function parseExpectedCodes(spec: string): Array<(code: number) => boolean> | null {
  const tokens = spec.split(/[\s,]+/).filter((t) => t !== '');
  if (tokens.length === 0) return null;
  const out: Array<(code: number) => boolean> = [];
  for (const t of tokens) {
    const lower = t.toLowerCase();
    if (!/^[1-5][0-9x][0-9x]$/.test(lower)) return null;
    out.push((code) => {
      const s = String(code);
      if (s.length !== 3) return false;
      for (let i = 0; i < 3; i++) if (lower[i] !== 'x' && lower[i] !== s[i]) return false;
      return true;
    });
  }
  return out;
}

/**
 * Config problems that only the health module can see (to be reported by `check` and at load): a tcp/udp_icmp
 * monitor with no port anywhere, unparsable expected_codes, dangling monitor references, and attempts that can
 * outlast the interval.
 */
export function targetProblems(config: Config): TargetProblem[] {
  const out: TargetProblem[] = [];
  const seenMonitor = new Set<string>();
  for (const pool of config.pools.values()) {
    if (pool.monitor !== null && !config.monitors.has(pool.monitor)) {
      out.push({ severity: 'error', pool: pool.name, origin: null, monitor: pool.monitor, message: `pool "${pool.name}": monitor "${pool.monitor}" is not defined` });
    }
    if (pool.monitor_group !== null) {
      const g = config.monitor_groups.get(pool.monitor_group);
      if (!g) {
        out.push({ severity: 'error', pool: pool.name, origin: null, monitor: null, message: `pool "${pool.name}": monitor group "${pool.monitor_group}" is not defined` });
      } else {
        for (const m of g.members) {
          if (!config.monitors.has(m.monitor)) {
            out.push({ severity: 'error', pool: pool.name, origin: null, monitor: m.monitor, message: `monitor group "${g.name}" (pool "${pool.name}"): monitor "${m.monitor}" is not defined` });
          }
        }
      }
    }
  }
  forEachTargetUse(config, ({ pool, origin, monitor, monitorName }) => {
    if (monitor.type !== 'icmp_ping' && effectivePort(monitor, origin) === null) {
      out.push({
        severity: 'error',
        pool: pool.name,
        origin: origin.name,
        monitor: monitorName,
        message: `pool "${pool.name}" endpoint "${origin.name}": monitor "${monitorName}" (${monitor.type}) has no port; set "port" on the monitor or on the endpoint`,
      });
    }
    if (seenMonitor.has(monitorName)) return;
    seenMonitor.add(monitorName);
    if (isHttpType(monitor.type) && parseExpectedCodes(monitor.expected_codes) === null) {
      out.push({ severity: 'error', pool: pool.name, origin: null, monitor: monitorName, message: `monitor "${monitorName}": expected_codes "${monitor.expected_codes}" is not a list of codes like "200", "2xx" or "200,301"` });
    }
    const attempt = monitor.timeout * (1 + monitor.retries);
    if (attempt > monitor.interval) {
      out.push({
        severity: 'warning',
        pool: pool.name,
        origin: null,
        monitor: monitorName,
        message: `monitor "${monitorName}": timeout × (1 + retries) = ${attempt} s exceeds the interval (${monitor.interval} s); a probe round that times out delays the next one`,
      });
    }
  });
  return out;
}
