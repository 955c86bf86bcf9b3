// `steerdns explain`: runs one query through the real answer path with a decision trace and prints it. Hostname
// endpoints are resolved as the server resolves them (names in our zones from the config's own zones, others by
// the system resolver, with a short timeout), so the pools judge them as the server does.
import { existsSync } from 'node:fs';
import { formatProblem, hasErrors, loadConfigFile } from './config/load';
import { QueryContext } from './dns/context';
import { handleQuery } from './dns/handler';
import { parseTypeName, typeName } from './dns/wire/rrtypes';
import { presentMessage } from './dns/wire/present';
import type { Config } from './config/types';
import { SharedHealth } from './health/shared/coordinator';
import { HealthStore } from './health/store';
import { silentLogger as silentHealthLogger } from './health/types';
import { buildTargets } from './health/targets';
import { restoreStateFile } from './health/state-file';
import { HostnameResolver } from './lb/hostnames';
import type { Trace } from './lb/trace';
import { silentLogger } from './observe/log';
import { buildRuntime, internalLookup, type Runtime } from './runtime';
import { cidrLiteralProblem } from './util/cidr-literal';
import { parseCidr, parseIp } from './util/ip';
import { UsageError } from './commands/spec';

export interface ExplainOptions {
  config: string;
  name: string;
  type: string;
  resolver: string;
  ecs: string | null;
  health: 'live' | 'assume-up';
  /** --health live: read this state file instead of server.state_file. */
  stateFile?: string | null;
}

/** How long explain waits for hostname endpoints to resolve (the server keeps resolving in the background). */
const RESOLVE_DEADLINE_MS = 3000;

/** Builds a query packet: one question, EDNS(0) with an optional ECS option. */
export function buildQueryPacket(name: string, qtype: number, ecs: string | null): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter((l) => l !== '');
  const parts: Buffer[] = [Buffer.from([0x12, 0x34, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 1])];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l, 'latin1'));
  parts.push(Buffer.from([0, qtype >> 8, qtype & 0xff, 0, 1]));
  let opt = Buffer.alloc(0);
  if (ecs) {
    const c = parseCidr(ecs);
    if (!c) throw new Error(`--ecs "${ecs}" is not a CIDR prefix`);
    const octets = (c.prefix + 7) >> 3;
    opt = Buffer.alloc(8 + octets);
    opt.writeUInt16BE(8, 0);
    opt.writeUInt16BE(4 + octets, 2);
    opt.writeUInt16BE(c.family === 4 ? 1 : 2, 4);
    opt[6] = c.prefix;
    opt[7] = 0;
    Buffer.from(c.bytes.subarray(0, octets)).copy(opt, 8);
  }
  const optRr = Buffer.alloc(11);
  optRr.writeUInt16BE(41, 1);
  optRr.writeUInt16BE(1232, 3);
  optRr.writeUInt16BE(opt.length, 9);
  parts.push(optRr, opt);
  return Buffer.concat(parts);
}

export function renderTrace(t: Trace): string {
  const out: string[] = [`load balancer ${t.loadBalancer}`];
  if (t.rules.length) {
    out.push('  rules (in evaluation order):');
    for (const r of t.rules) {
      out.push(`    ${r.matched ? 'MATCH' : 'no   '} ${r.name} (priority ${r.priority})${r.matched && r.overrides.length ? ` overrides ${r.overrides.join(', ')}` : ''}${r.matched && r.terminates ? ' — terminates' : ''}`);
    }
  } else {
    out.push('  rules: none');
  }
  out.push(`  steering policy: ${t.policy}${t.policyNote ? ` (${t.policyNote})` : ''}`);
  if (t.location) {
    const l = t.location;
    out.push(`  location: from ${l.source === 'ecs' ? 'the ECS address' : l.source === 'resolver' ? 'the resolver address (GeoIP)' : 'this PoP'}: country ${l.country ?? '-'}${l.subdivision ? `-${l.subdivision}` : ''}, region ${l.region ?? '-'}, coordinates ${l.latitude ?? '-'},${l.longitude ?? '-'}${l.note ? ` [${l.note}]` : ''}`);
  } else {
    out.push('  location: not used by this policy');
  }
  out.push(`  candidates from ${t.candidateSource || '-'}:`);
  if (t.candidates.length === 0) out.push('    (none)');
  for (const c of t.candidates) out.push(`    ${c.pool}: ${c.verdict}${c.detail ? ` (${c.detail})` : ''}`);
  if (t.fallback) out.push(`  fallback pool ${t.fallback.pool}: ${t.fallback.used ? 'used' : 'not usable'} — ${t.fallback.detail}`);
  if (t.chosenPool) out.push(`  chosen pool: ${t.chosenPool}`);
  if (t.endpoints.length) out.push(`  endpoints: ${t.endpoints.join(', ')}`);
  if (t.clientKey) out.push(`  client key: ${t.clientKey}`);
  out.push(`  TTL ${t.ttl}, ECS scope /${t.ecsScope}`);
  out.push(`  outcome: ${t.outcome}`);
  return out.join('\n');
}

/**
 * The global view as the servers see it: every vantage point's fresh results read from the shared store and put
 * through the same quorum (no hysteresis: each target gets the verdict its fresh results give now).
 */
async function readSharedView(config: Config): Promise<{ store: HealthStore | null; note: string }> {
  const sc = config.server.shared_health;
  if (!sc) return { store: null, note: '' };
  const { RedisHealthStore } = await import('./health/shared/redis-store');
  const engine = new RedisHealthStore(sc, silentHealthLogger);
  const store = new HealthStore();
  // A vantage point name of its own: the server at this PoP publishes under server.pop.code, and its results count.
  const shared = new SharedHealth({ store, engine, vantage: { pop: `explain-${process.pid}`, region: 'NONE' }, config: sc, logger: silentHealthLogger, timer: false });
  try {
    shared.setTargets(buildTargets(config));
    const deadline = Date.now() + Math.max(2000, sc.timeout * 2000);
    const joined = (): boolean => shared.mode === 'shared';
    while (!joined() && Date.now() < deadline) {
      await shared.round();
      if (!joined()) await new Promise((r) => setTimeout(r, 200));
    }
    if (!joined()) return { store: null, note: `shared health store ${engine.description} did not answer` };
    const vps = shared.stats().vantage_points.filter((v) => !v.pop.startsWith('explain-'));
    const known = [...store.keys()].filter((k) => store.peek(k)?.status !== 'unknown').length;
    return {
      store,
      note: `health: shared view from ${engine.description}: ${vps.length} vantage point(s) (${vps.map((v) => `${v.pop}/${v.region}`).join(', ') || 'none'}), ${known} target(s) with fresh results; targets without count as down`,
    };
  } finally {
    await shared.stop();
  }
}

/** What a name without a load-balancer trace has, in words: an LB that does not serve the type, a disabled one, or none. */
export function noTraceReason(rt: Runtime, name: string, qtype: number): string {
  const key = name.toLowerCase().replace(/\.$/, '');
  const type = typeName(qtype);
  const candidates = [key];
  for (let k = key; k.includes('.'); ) {
    k = k.slice(k.indexOf('.') + 1);
    candidates.push(`*.${k}`);
  }
  for (const c of candidates) {
    const off = rt.config.load_balancers.find((l) => l.name === c && !l.enabled);
    if (off) return `load balancer ${c} is disabled (enabled: false): the name answers from its static records, as if there were no load balancer`;
    const lb = rt.balancers.get(c);
    if (lb) {
      const served = lb.servesMxSrv ? 'A, AAAA, MX and SRV' : 'A and AAAA (MX and SRV only when a pool has hostname endpoints)';
      return `load balancer ${c} is at this name but does not serve ${type} queries (it answers ${served}): the answer comes from the static ${type} records at the name, else NODATA`;
    }
  }
  return 'no load balancer answers this name: static zone data or a negative answer';
}

/** Resolves the hostname endpoints of a runtime as the server does, within a deadline; returns the resolver. */
async function resolveHostnames(rt: Runtime, resolver: HostnameResolver): Promise<boolean> {
  resolver.setInternalLookup(internalLookup(rt));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), RESOLVE_DEADLINE_MS);
  });
  const done = await Promise.race([resolver.setNames(rt.hostnames).then(() => true), deadline]);
  clearTimeout(timer);
  return done;
}

/** The hostname endpoints of the pools a trace looked at, with what they resolved to. */
function hostnameLines(rt: Runtime, traces: readonly Trace[], resolver: HostnameResolver): string[] {
  const pools = new Set<string>();
  for (const t of traces) {
    for (const c of t.candidates) pools.add(c.pool);
    if (t.fallback) pools.add(t.fallback.pool);
    if (t.chosenPool) pools.add(t.chosenPool);
  }
  const ours = internalLookup(rt);
  const out: string[] = [];
  const seen = new Set<string>();
  for (const p of pools) {
    for (const o of rt.config.pools.get(p)?.origins ?? []) {
      if (!rt.hostnames.has(o.address) || seen.has(o.address)) continue;
      seen.add(o.address);
      const d = resolver.describe(o.address);
      const source = ours(o.address, 4) !== undefined || ours(o.address, 6) !== undefined ? 'from our zones' : 'from the system resolver';
      const what = !d || d.resolvedAt === null ? 'not resolved in time: counts as down' : d.addresses.length ? `${d.addresses.join(', ')} (${source})` : `does not resolve${d.error ? ` (${d.error})` : ''}: counts as down`;
      out.push(`hostname ${o.address}: ${what}`);
    }
  }
  return out;
}

export async function explain(o: ExplainOptions): Promise<number> {
  const { config, problems } = loadConfigFile(o.config);
  if (!config || hasErrors(problems)) {
    for (const p of problems) process.stderr.write(`${formatProblem(p)}\n`);
    return 1;
  }
  const qtype = parseTypeName(o.type);
  if (qtype === null) throw new UsageError(`unknown query type "${o.type}"`, 'explain');
  if (!parseIp(o.resolver)) throw new UsageError(`--resolver "${o.resolver}" is not an IP address`, 'explain');
  if (o.ecs !== null) {
    const problem = o.ecs.includes('/') ? cidrLiteralProblem(o.ecs) : `"${o.ecs}" is not a CIDR prefix (address/length)`;
    if (problem !== null || !parseCidr(o.ecs)) throw new UsageError(`--ecs: ${problem ?? `"${o.ecs}" is not a CIDR prefix`}`, 'explain');
  }
  let store: HealthStore | null = null;
  let healthNote = 'health: every monitored endpoint assumed up (--health assume-up)';
  if (o.health === 'live') {
    const file = o.stateFile ?? config.server.state_file;
    let sharedNote = '';
    if (config.server.shared_health && !o.stateFile) {
      const shared = await readSharedView(config);
      if (shared.store) {
        store = shared.store;
        healthNote = shared.note;
      } else sharedNote = shared.note;
    }
    if (store === null) {
      if (!file || !existsSync(file)) {
        process.stderr.write(`steerdns: ${sharedNote ? `${sharedNote}; ` : ''}--health live reads the shared view (server.shared_health) or the server's state_file${file ? ` (${file} does not exist)` : ''}; set one and run the server\n`);
        return 1;
      }
      store = new HealthStore();
      const keys = new Set(buildTargets(config).map((t) => t.key));
      const n = restoreStateFile(file, store, keys);
      healthNote = `${sharedNote ? `${sharedNote}; ` : ''}health: ${n} target state(s) from ${file}; targets without a saved state count as down`;
    }
  }
  const hostnames = new HostnameResolver(() => undefined, silentLogger, { timeoutMs: 1000, tries: 1 });
  try {
    const built = buildRuntime(config, { store, hostnames });
    if (!built.runtime) {
      for (const p of built.problems) process.stderr.write(`${formatProblem(p)}\n`);
      return 1;
    }
    const rt = built.runtime;
    const resolvedInTime = rt.hostnames.size === 0 || (await resolveHostnames(rt, hostnames));
    const pkt = buildQueryPacket(o.name, qtype, o.ecs);
    const traces: Trace[] = [];
    const answer = handleQuery(new QueryContext(), rt, pkt, o.resolver, 'udp', traces as unknown[]);
    const lines: string[] = [
      `query: ${o.name} ${typeName(qtype)} from resolver ${o.resolver}${o.ecs ? ` with ECS ${o.ecs}` : ''}`,
      healthNote,
      `PoP: ${rt.pop.code} (country ${rt.pop.country ?? '-'}, region ${rt.pop.region ?? '-'})`,
      ...hostnameLines(rt, traces, hostnames),
      ...(resolvedInTime ? [] : [`hostname endpoints not resolved within ${RESOLVE_DEADLINE_MS / 1000} s count as down here`]),
      '',
    ];
    if (traces.length === 0) lines.push(noTraceReason(rt, o.name, qtype), '');
    for (const t of traces) lines.push(renderTrace(t), '');
    lines.push('answer:', answer ? presentMessage(Buffer.from(answer.buffer, answer.byteOffset, answer.byteLength)) : '(no response)');
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    hostnames.stop();
  }
}

