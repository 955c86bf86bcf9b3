// `steerdns check`: every problem of a config file in one pass, sorted by position, and a summary. The schema, the
// cross-references and the runtime build (record values, rule expressions, regions, GeoIP, monitors) all run,
// even when an earlier stage found errors: the later ones run on what could be read, with the parts that had an
// error left out (so they are not reported twice, nor as the cause of other errors).
import { readFileSync } from 'node:fs';
import { dumpWith, posOf } from '../config/kit';
import { loadConfigFile } from '../config/load';
import { configSchema, type ParsedConfig } from '../config/schema';
import type { Config, Pos, Problem } from '../config/types';
import { checkRuntime } from '.';

/** The config as it is written, defaults filled in (what `check --print` shows). */
export function effectiveConfig(config: Config): unknown {
  const { file: _file, ...parsed } = config;
  return dumpWith(configSchema, parsed as ParsedConfig);
}

export interface CheckSummary {
  zones: number;
  records: number;
  load_balancers: number;
  pools: number;
  endpoints: number;
  monitors: number;
  warnings: number;
}

export interface CheckReport {
  file: string;
  /** Sorted by file, line and column; each once. */
  problems: Problem[];
  errors: number;
  warnings: number;
  /** The config when it has no error. */
  config: Config | null;
  summary: CheckSummary | null;
}

export async function checkConfigFile(file: string): Promise<CheckReport> {
  const loaded = loadConfigFile(file);
  const problems = [...loaded.problems];
  const whole = loaded.config;
  const subject = whole ?? (loaded.partial ? forCrossChecks(loaded.partial) : null);
  if (subject) {
    try {
      problems.push(...(await checkRuntime(subject)));
    } catch (e) {
      // A config that passed every earlier stage must build: that is a bug. What is left of a broken one may not.
      if (whole) throw e;
    }
    problems.push(...privilegedPorts(subject));
  }
  const sorted = sortProblems(problems);
  const errors = sorted.filter((p) => p.severity === 'error').length;
  const warnings = sorted.length - errors;
  const config = errors === 0 ? whole : null;
  return { file, problems: sorted, errors, warnings, config, summary: config ? summarize(config, warnings) : null };
}

/** By file, line, column (problems found at the same place keep their order), each problem once. */
export function sortProblems(problems: readonly Problem[]): Problem[] {
  const seen = new Set<string>();
  const unique: Problem[] = [];
  for (const p of problems) {
    const key = `${p.pos.file}\u0000${p.pos.line}\u0000${p.pos.col}\u0000${p.severity}\u0000${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    unique.push(p);
  }
  return unique
    .map((p, i) => ({ p, i }))
    .sort((a, b) => (a.p.pos.file < b.p.pos.file ? -1 : a.p.pos.file > b.p.pos.file ? 1 : 0) || a.p.pos.line - b.p.pos.line || a.p.pos.col - b.p.pos.col || a.i - b.i)
    .map((x) => x.p);
}

export function summarize(config: Config, warnings: number): CheckSummary {
  let records = 0;
  for (const z of config.zones) for (const r of z.records) records += r.values.length;
  let endpoints = 0;
  for (const p of config.pools.values()) endpoints += p.origins.length;
  return {
    zones: config.zones.length,
    records,
    load_balancers: config.load_balancers.length,
    pools: config.pools.size,
    endpoints,
    monitors: config.monitors.size,
    warnings,
  };
}

export function summaryText(s: CheckSummary): string {
  const n = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;
  return [
    n(s.zones, 'zone'), n(s.records, 'record'), n(s.load_balancers, 'load balancer'), n(s.pools, 'pool'),
    n(s.endpoints, 'endpoint'), n(s.monitors, 'monitor'), n(s.warnings, 'warning'),
  ].join(', ');
}

/**
 * What is left of a config with errors, made consistent for the cross-checks: a pool without endpoints is left
 * out, references to monitors that are not there are dropped, and a load balancer outside every zone is disabled
 * (its rules are still compiled; it is bound to no name). References to pools that are not there need nothing:
 * steering compiles without them. All of these were reported already. Changes the partial config, never served.
 */
function forCrossChecks(c: Config): Config {
  for (const [name, p] of c.pools) if (p.origins.length === 0) c.pools.delete(name);
  for (const g of c.monitor_groups.values()) g.members = g.members.filter((m) => c.monitors.has(m.monitor));
  for (const [name, g] of c.monitor_groups) if (g.members.length === 0) c.monitor_groups.delete(name);
  for (const p of c.pools.values()) {
    if (p.monitor !== null && !c.monitors.has(p.monitor)) p.monitor = null;
    if (p.monitor_group !== null && !c.monitor_groups.has(p.monitor_group)) p.monitor_group = null;
  }
  const zones = c.zones.map((z) => z.name);
  for (const lb of c.load_balancers) {
    const bare = lb.name.startsWith('*.') ? lb.name.slice(2) : lb.name;
    if (!zones.some((z) => bare === z || bare.endsWith(`.${z}`))) lb.enabled = false;
  }
  return c;
}

/**
 * Ports below net.ipv4.ip_unprivileged_port_start (1024 by default) need root or CAP_NET_BIND_SERVICE: said here,
 * at the listen address, rather than as EACCES at start-up. Only when this process could not bind them itself.
 */
export function privilegedPorts(c: Config): Problem[] {
  const uid = process.getuid?.() ?? 0;
  if (uid === 0 || process.platform !== 'linux' || hasCapability(10 /* CAP_NET_BIND_SERVICE */)) return [];
  let first = 1024;
  try {
    first = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
  } catch {
    // Not readable: the kernel's default.
  }
  const out: Problem[] = [];
  const hint = (port: number, pos: Pos, what: string) => {
    out.push({
      pos,
      severity: 'warning',
      message: `${what} port ${port} is privileged (below ${first}) and this user (uid ${uid}) cannot bind it: run serve as root or give node the CAP_NET_BIND_SERVICE capability (systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE, as in deploy/steerdns.service; otherwise setcap cap_net_bind_service=+ep on the node binary)`,
    });
  };
  c.server.listen.forEach((l, i) => {
    if (l.port > 0 && l.port < first) hint(l.port, posOf(c.server.listen, i), 'listen');
  });
  const http = c.server.http;
  if (http && http.port > 0 && http.port < first) hint(http.port, posOf(c.server, 'http'), 'http');
  return out;
}

/** Whether this process has a capability in its effective set (Linux, /proc/self/status CapEff). */
function hasCapability(bit: number): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m !== null && (BigInt(`0x${m[1]}`) & (1n << BigInt(bit))) !== 0n;
  } catch {
    return false;
  }
}
