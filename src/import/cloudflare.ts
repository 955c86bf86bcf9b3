// `steerdns import cloudflare`: Cloudflare Load Balancing objects, as the API returns them (list responses of
// GET /zones/:zone_id/load_balancers, /accounts/:account_id/load_balancers/pools and …/monitors), turned into a
// steerdns config. IDs become names (a pool's `name`, a monitor's description), references by ID become references
// by name, fields that only act on proxied traffic are dropped and said so, anything that cannot be mapped is
// listed. Field meanings: https://developers.cloudflare.com/api/resources/load_balancers/ (Load Balancers, Pools,
// Monitors). This module only maps data; the command reads the files and writes the YAML.

type Json = Record<string, unknown>;

export interface ImportInput {
  loadBalancers: unknown;
  pools: unknown;
  monitors: unknown;
  /** Zones to put the load balancers in (longest suffix wins); else each LB's zone_name, else its parent domain. */
  zones?: readonly string[];
}

export interface ImportReport {
  /** Fields that only act on proxied traffic (or only on Cloudflare's side): left out, no effect on DNS answers. */
  dropped: string[];
  /** Values changed on the way (with why). */
  changed: string[];
  /** What could not be mapped, and what was done instead. */
  unmapped: string[];
}

export interface ImportResult {
  config: Json;
  report: ImportReport;
  counts: { load_balancers: number; pools: number; monitors: number; zones: string[] };
}

/** The objects of a Cloudflare API response: `{result: [...]}`, `{result: {...}}`, a bare list or object. */
export function objectsOf(response: unknown, what: string): Json[] {
  if (response === undefined || response === null) return [];
  const result = isObject(response) && 'result' in response ? response.result : response;
  const list = Array.isArray(result) ? result : [result];
  return list.filter((x, i): x is Json => {
    if (isObject(x)) return true;
    throw new Error(`${what}: item ${i} is not an object`);
  });
}

function isObject(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Fields of each object that only matter behind Cloudflare's proxy, with why. */
const PROXIED_ONLY: Record<string, string> = {
  session_affinity: 'proxied only',
  session_affinity_ttl: 'proxied only',
  session_affinity_attributes: 'proxied only',
  adaptive_routing: 'proxied only',
  networks: 'Cloudflare network placement',
  notification_email: 'Cloudflare e-mail alerts; steerdns has notifications.webhooks',
  probe_zone: 'applies Cloudflare proxy settings to probes',
};

/** Fields that describe the object on Cloudflare's side (identity, status), not its configuration. */
const INFORMATIONAL = new Set(['id', 'created_on', 'modified_on', 'zone_name', 'healthy', 'disabled_at', 'zone_id']);

const LB_FIELDS = ['name', 'description', 'enabled', 'ttl', 'default_pools', 'fallback_pool', 'region_pools', 'country_pools', 'pop_pools', 'steering_policy', 'random_steering', 'location_strategy', 'rules', 'proxied'];
const POOL_FIELDS = ['name', 'description', 'enabled', 'minimum_origins', 'monitor', 'monitor_group', 'origin_steering', 'load_shedding', 'latitude', 'longitude', 'notification_filter', 'check_regions', 'origins'];
const ORIGIN_FIELDS = ['name', 'address', 'enabled', 'weight', 'port', 'header'];
const MONITOR_FIELDS = ['type', 'description', 'method', 'path', 'port', 'header', 'timeout', 'retries', 'interval', 'expected_codes', 'expected_body', 'follow_redirects', 'allow_insecure', 'consecutive_up', 'consecutive_down'];
const OVERRIDE_FIELDS = ['default_pools', 'fallback_pool', 'region_pools', 'country_pools', 'pop_pools', 'steering_policy', 'random_steering', 'location_strategy', 'ttl'];

/** A readable name: lowercase letters, digits and dashes. */
function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48);
}

function uniqueName(wanted: string, taken: Set<string>): string {
  let name = wanted;
  for (let i = 2; taken.has(name); i++) name = `${wanted}-${i}`;
  taken.add(name);
  return name;
}

/** A Cloudflare ID shortened for messages (32 hex digits say no more in 8); anything else as it is. */
const short = (id: string) => (/^[0-9a-f]{16,}$/.test(id) ? `${id.slice(0, 8)}…` : `"${id}"`);

export function importCloudflare(input: ImportInput): ImportResult {
  const report: ImportReport = { dropped: [], changed: [], unmapped: [] };
  const monitorsIn = objectsOf(input.monitors, 'monitors');
  const poolsIn = objectsOf(input.pools, 'pools');
  const lbsIn = objectsOf(input.loadBalancers, 'load balancers');

  /** Copies the known fields, reports proxied-only ones as dropped and anything else as not mapped. */
  const pick = (o: Json, known: readonly string[], what: string, skip: readonly string[] = []): Json => {
    const out: Json = {};
    const dropped: string[] = [];
    for (const [k, v] of Object.entries(o)) {
      if (v === undefined || skip.includes(k) || INFORMATIONAL.has(k)) continue;
      if (known.includes(k)) out[k] = v;
      else if (k in PROXIED_ONLY) dropped.push(k);
      else report.unmapped.push(`${what}: field "${k}" has no steerdns equivalent; left out`);
    }
    if (dropped.length) {
      // Fields grouped by why they go: "a, b (proxied only); c (Cloudflare network placement)".
      const byWhy = new Map<string, string[]>();
      for (const k of dropped) byWhy.set(PROXIED_ONLY[k], [...(byWhy.get(PROXIED_ONLY[k]) ?? []), k]);
      report.dropped.push(`${what}: ${[...byWhy].map(([why, ks]) => `${ks.join(', ')} (${why})`).join('; ')}`);
    }
    return out;
  };

  // ---- monitors: named after their description (Cloudflare monitors have no name) ----
  const monitorNames = new Map<string, string>();
  const takenMonitors = new Set<string>();
  const monitors: Json = {};
  for (const [i, m] of monitorsIn.entries()) {
    const id = String(m.id ?? '');
    const name = uniqueName(slug(String(m.description ?? '')) || `monitor-${slug(id).slice(0, 8) || i + 1}`, takenMonitors);
    if (id) monitorNames.set(id, name);
    monitors[name] = pick(m, MONITOR_FIELDS, `monitor ${name}${id ? ` (${short(id)})` : ''}`);
  }

  // ---- pools: named after their name ----
  const poolNames = new Map<string, string>();
  const takenPools = new Set<string>();
  const names = poolsIn.map((p, i) => {
    const id = String(p.id ?? '');
    const name = uniqueName(slug(String(p.name ?? '')) || `pool-${slug(id).slice(0, 8) || i + 1}`, takenPools);
    if (id) poolNames.set(id, name);
    return name;
  });
  const pools: Json = {};
  for (const [i, p] of poolsIn.entries()) {
    const id = String(p.id ?? '');
    const name = names[i];
    const what = `pool ${name}`;
    const out = pick(p, POOL_FIELDS, what);
    delete out.name; // the key names it
    if (typeof out.monitor === 'string') {
      const m = monitorNames.get(out.monitor);
      if (m) out.monitor = m;
      else {
        report.unmapped.push(`${what}: monitor ${short(out.monitor)} is not in the monitors input; the pool is left unmonitored`);
        delete out.monitor;
      }
    } else delete out.monitor;
    if (out.monitor_group !== undefined) {
      report.unmapped.push(`${what}: monitor_group ${short(String(out.monitor_group))} (monitor groups are not imported); the pool is left unmonitored`);
      delete out.monitor_group;
    }
    const origins: Json[] = [];
    for (const [i, o] of (Array.isArray(p.origins) ? p.origins : []).entries()) {
      if (!isObject(o)) continue;
      const oname = String(o.name ?? o.address ?? i + 1);
      if (o.virtual_network_id !== undefined) {
        report.unmapped.push(`${what}: origin ${oname} is on a private network (virtual_network_id); left out`);
        continue;
      }
      origins.push(pick(o, ORIGIN_FIELDS, `${what} origin ${oname}`, ['virtual_network_id']));
    }
    if (origins.length === 0) {
      report.unmapped.push(`${what}: no origin could be imported; the pool is left out`);
      poolNames.delete(id);
      continue;
    }
    out.origins = origins;
    pools[name] = out;
  }

  // ---- load balancers ----
  const poolRef = (ref: unknown, what: string): string | null => {
    const name = poolNames.get(String(ref));
    if (name === undefined) report.unmapped.push(`${what}: pool ${short(String(ref))} is not in the pools input; the reference is left out`);
    return name ?? null;
  };
  const poolList = (list: unknown, what: string): string[] => (Array.isArray(list) ? list.map((r) => poolRef(r, what)).filter((n): n is string => n !== null) : []);
  const poolMap = (m: unknown, what: string): Json | undefined => {
    if (!isObject(m)) return undefined;
    const out: Json = {};
    for (const [k, v] of Object.entries(m)) {
      const l = poolList(v, `${what}.${k}`);
      if (l.length) out[k] = l;
    }
    return out;
  };
  const steering = (o: Json, what: string): void => {
    for (const k of ['region_pools', 'country_pools', 'pop_pools']) if (o[k] !== undefined) o[k] = poolMap(o[k], `${what} ${k}`);
    if (o.fallback_pool !== undefined) {
      const f = poolRef(o.fallback_pool, `${what} fallback_pool`);
      if (f) o.fallback_pool = f;
      else delete o.fallback_pool;
    }
    if (isObject(o.random_steering) && isObject(o.random_steering.pool_weights)) {
      const weights: Json = {};
      for (const [k, v] of Object.entries(o.random_steering.pool_weights)) {
        const n = poolRef(k, `${what} random_steering.pool_weights`);
        if (n) weights[n] = v;
      }
      o.random_steering = { ...o.random_steering, pool_weights: weights };
    }
    if (o.steering_policy === 'random_steering') {
      o.steering_policy = 'random';
      report.changed.push(`${what}: steering_policy "random_steering" → "random" (the API's examples spell it so by mistake)`);
    }
  };

  const zonesGiven = (input.zones ?? []).map((z) => z.toLowerCase().replace(/\.$/, ''));
  const zoneNames = new Set<string>(zonesGiven);
  for (const lb of lbsIn) if (typeof lb.zone_name === 'string' && zonesGiven.length === 0) zoneNames.add(lb.zone_name.toLowerCase());
  const zoneFor = (name: string, zoneName: unknown): string => {
    const inZone = [...zoneNames].filter((z) => name === z || name.endsWith(`.${z}`)).sort((a, b) => b.length - a.length)[0];
    if (inZone) return inZone;
    if (typeof zoneName === 'string' && zonesGiven.length === 0) return zoneName.toLowerCase();
    const parent = name.includes('.') && name.split('.').length > 2 ? name.slice(name.indexOf('.') + 1) : name;
    zoneNames.add(parent);
    return parent;
  };

  const loadBalancers: Json[] = [];
  for (const lb of lbsIn) {
    const lbName = String(lb.name ?? '').toLowerCase().replace(/\.$/, '');
    const what = `load balancer ${lbName || '?'}`;
    if (!lbName) {
      report.unmapped.push('a load balancer without a name; left out');
      continue;
    }
    if (zonesGiven.length && !zonesGiven.some((z) => lbName === z || lbName.endsWith(`.${z}`))) {
      report.unmapped.push(`${what}: not inside the zones given (${zonesGiven.join(', ')}); left out`);
      continue;
    }
    zoneFor(lbName, lb.zone_name);
    const out = pick(lb, LB_FIELDS, what);
    out.name = lbName;
    if (out.proxied === true) report.dropped.push(`${what}: proxied: true (steerdns answers DNS-only: clients now reach the origins directly, without Cloudflare's proxy)`);
    delete out.proxied;
    out.default_pools = poolList(out.default_pools, `${what} default_pools`);
    steering(out, what);
    if (Array.isArray(out.rules)) {
      const rules: Json[] = [];
      for (const [i, r] of out.rules.entries()) {
        if (!isObject(r)) continue;
        const rw = `${what} rule "${String(r.name ?? i + 1)}"`;
        if (r.fixed_response !== undefined) {
          report.unmapped.push(`${rw}: fixed_response answers HTTP requests, which a DNS-only load balancer never sees; the rule is left out`);
          continue;
        }
        if (typeof r.condition === 'string' && /\b(http|cf\.bot_management|ssl|raw\.http)\./.test(r.condition.replace(/"(?:[^"\\]|\\.)*"/g, '""'))) {
          report.unmapped.push(`${rw}: its condition reads HTTP request fields, which a DNS-only load balancer never sees; the rule is left out`);
          continue;
        }
        const rule = pick(r, ['name', 'condition', 'priority', 'disabled', 'terminates', 'overrides'], rw);
        if (isObject(rule.overrides)) {
          const o = pick(rule.overrides, OVERRIDE_FIELDS, `${rw} overrides`);
          if (o.default_pools !== undefined) o.default_pools = poolList(o.default_pools, `${rw} overrides default_pools`);
          steering(o, `${rw} overrides`);
          rule.overrides = o;
        }
        rules.push(rule);
      }
      out.rules = rules;
    }
    if ((out.default_pools as string[]).length === 0) {
      report.unmapped.push(`${what}: none of its default pools was imported; the load balancer is left out`);
      continue;
    }
    loadBalancers.push(out);
  }

  const zones = [...zoneNames].sort().map((z) => ({ name: z, ns: [`ns1.${z}`] }));
  const config: Json = {
    server: { listen: ['127.0.0.1:5353'], http: '127.0.0.1:9153' },
    zones,
    ...(Object.keys(monitors).length ? { monitors } : {}),
    pools,
    load_balancers: loadBalancers,
  };
  return {
    config,
    report,
    counts: { load_balancers: loadBalancers.length, pools: Object.keys(pools).length, monitors: Object.keys(monitors).length, zones: zones.map((z) => z.name) },
  };
}
