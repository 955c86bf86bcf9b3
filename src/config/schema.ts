// The shape of steerdns.yaml: every key, its type, default and range. Cross-references (pool names, zones)
// are checked afterwards in references.ts; RDATA syntax, regions and rule expressions by the domains that
// compile them.
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { isMap, isScalar, LineCounter, Node, YAMLMap } from 'yaml';
import {
  bool, Ctx, dict, int, INVALID, list, maybe, num, obj, oneOf, oneOrMany, opt, posOf, refine, req, Schema, str,
} from './kit';
import type {
  Config, DnssecAlgorithm, ListenAddress, LoadBalancerConfig, LoadSheddingConfig, LocationStrategyConfig, MonitorConfig,
  MonitorGroupConfig, MonitorGroupMember, MonitorType, NotificationFilterConfig, NotificationsConfig, OriginConfig,
  PoolConfig, PopConfig, RandomSteeringConfig, RecordConfig, RuleConfig, RuleOverrides, ServerConfig, SoaConfig,
  SteeringPolicy, WebhookConfig, ZoneConfig, ZoneDnssecConfig,
} from './types';

// ---- names -------------------------------------------------------------------------------------------

const LABEL = /^(\*|[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)$/;

/** Lowercases and drops a trailing dot; returns a message when the name is not a usable host/domain name. */
export function normalizeDomain(text: string, opts: { wildcard?: boolean } = {}): string | { error: string } {
  let name = text.trim().toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name === '') return { error: 'the root zone cannot be used here' };
  if (name.length > 253) return { error: `"${text}" is longer than 253 characters` };
  const labels = name.split('.');
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (!LABEL.test(label)) return { error: `"${text}" is not a valid domain name (label "${label}")` };
    if (label === '*' && (i !== 0 || !opts.wildcard)) {
      return { error: `"${text}": a wildcard is only allowed as the first label${opts.wildcard ? '' : ' and not here'}` };
    }
  }
  return name;
}

function domain(opts: { wildcard?: boolean } = {}): Schema<string> {
  return refine(str({ nonEmpty: true }), 'a domain name', (v, node, ctx) => {
    const r = normalizeDomain(v, opts);
    return typeof r === 'string' ? r : ctx.error(node, r.error);
  });
}

// ---- server ------------------------------------------------------------------------------------------

export function parseListen(text: string): ListenAddress | string {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([0-9.]+):(\d{1,5})$/.exec(text);
  if (!m) return `"${text}" is not an address:port (write IPv6 as [::1]:53)`;
  const port = Number(m[2]);
  if (port > 65535) return `port ${port} is out of range 0-65535`;
  const host = m[1];
  const family = host.includes(':') ? 6 : 4;
  const ok = family === 4 ? isIPv4(host) : isIPv6(host);
  if (!ok) return `"${host}" is not an IP address`;
  return { host, port, family };
}

const listenAddress: Schema<ListenAddress> = refine(str({ nonEmpty: true }), 'an address:port', (v, node, ctx) => {
  const r = parseListen(v);
  return typeof r === 'string' ? ctx.error(node, r) : r;
});

const countryCode = str({ pattern: /^[A-Z]{2}$/, patternHint: 'an ISO 3166-1 alpha-2 country code (e.g. "NL")' });
const latitude = num({ min: -90, max: 90 });
const longitude = num({ min: -180, max: 180 });

const popSchema: Schema<PopConfig> = obj<PopConfig>({
  code: opt(str({ nonEmpty: true, pattern: /^[A-Za-z0-9_-]{1,32}$/, patternHint: 'a PoP code like "AMS"' }), 'LOCAL'),
  country: maybe(countryCode),
  subdivision: maybe(str({ pattern: /^[A-Z0-9]{1,3}$/, patternHint: 'an ISO 3166-2 subdivision suffix (e.g. "CA")' })),
  region: maybe(str({ pattern: /^[A-Z]{2,4}$/, patternHint: 'a region code like "WEU"' })),
  latitude: maybe(latitude),
  longitude: maybe(longitude),
}, {
  check(v, node, ctx) {
    if ((v.latitude === null) !== (v.longitude === null)) ctx.error(node, 'set both latitude and longitude, or neither');
  },
});

const defaultPop = (): PopConfig => ({ code: 'LOCAL', country: null, subdivision: null, region: null, latitude: null, longitude: null });

const geoipSchema: Schema<{ databases: string[] }> = refine(
  obj<{ database: string[] | null }>({ database: maybe(oneOrMany(str({ nonEmpty: true }))) }),
  'a geoip block',
  (v) => ({ databases: v.database ?? [] }),
);

const httpListen: Schema<ListenAddress | null> = {
  expect: 'an address:port, or null to disable',
  parse(node, ctx) {
    if (isScalar(node) && (node.value === null || node.value === false || node.value === 'off')) return null;
    return listenAddress.parse(node, ctx);
  },
};

const serverSchema: Schema<ServerConfig> = obj<ServerConfig>({
  listen: opt(oneOrMany(listenAddress), () => [{ host: '127.0.0.1', port: 5353, family: 4 as const }]),
  http: opt(httpListen, () => ({ host: '127.0.0.1', port: 9153, family: 4 as const })),
  http_token: maybe(str({ nonEmpty: true })),
  pop: opt(popSchema, defaultPop),
  geoip: opt(geoipSchema, () => ({ databases: [] })),
  nsid: maybe(str({ nonEmpty: true, max: 255 })),
  identity: maybe(str({ nonEmpty: true, max: 255 })),
  state_file: maybe(str({ nonEmpty: true })),
  edns_udp_size: opt(int({ min: 512, max: 4096 }), 1232),
  tcp: opt(obj<ServerConfig['tcp']>({
    idle_timeout: opt(num({ min: 0.1, max: 3600 }), 10),
    max_connections: opt(int({ min: 1, max: 1_000_000 }), 1024),
    max_connections_per_client: opt(int({ min: 1, max: 1_000_000 }), 64),
  }), () => ({ idle_timeout: 10, max_connections: 1024, max_connections_per_client: 64 })),
  workers: opt(int({ min: 1, max: 64 }), 1),
  udp_io: opt(oneOf(['auto', 'batched', 'dgram'] as const), 'auto'),
  log: opt(obj<ServerConfig['log']>({
    level: opt(oneOf(['debug', 'info', 'warn', 'error'] as const), 'info'),
    queries: opt(bool(), false),
  }), () => ({ level: 'info' as const, queries: false })),
  dnssec: opt(obj<ServerConfig['dnssec']>({
    cache_size: opt(int({ min: 16, max: 10_000_000 }), 50_000),
  }), () => ({ cache_size: 50_000 })),
});

// ---- zones -------------------------------------------------------------------------------------------

export const RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'SRV', 'TXT', 'CAA', 'NS', 'PTR', 'DS'] as const;

const soaFields = {
  mname: maybe(str({ nonEmpty: true })),
  rname: maybe(str({ nonEmpty: true })),
  serial: maybe(int({ min: 0, max: 4294967295 })),
  refresh: opt(int({ min: 1, max: 2147483647 }), 10800),
  retry: opt(int({ min: 1, max: 2147483647 }), 3600),
  expire: opt(int({ min: 1, max: 2147483647 }), 604800),
  minimum: opt(int({ min: 0, max: 86400 }), 60),
  ttl: opt(int({ min: 0, max: 2147483647 }), 3600),
};
type SoaInput = Omit<SoaConfig, 'mname' | 'rname'> & { mname: string | null; rname: string | null };

const recordSchema: Schema<RecordConfig> = refine(
  obj<{ name: string; type: string; value: string[] | null; values: string[] | null; ttl: number | null }>({
    name: opt(str({ nonEmpty: true }), '@'),
    type: req(refine(str({ nonEmpty: true }), 'a record type', (v, node, ctx) => {
      const t = v.toUpperCase();
      if (t === 'SOA') return ctx.error(node, 'SOA comes from the zone\'s "soa" block, not from records');
      if (!(RECORD_TYPES as readonly string[]).includes(t)) return ctx.error(node, `unsupported record type "${v}" (supported: ${RECORD_TYPES.join(', ')})`);
      return t;
    })),
    value: maybe(oneOrMany(scalarText())),
    values: maybe(list(scalarText(), { min: 1 })),
    ttl: maybe(int({ min: 0, max: 2147483647 })),
  }, {
    check(v, node, ctx) {
      if ((v.value === null) === (v.values === null)) ctx.error(node, 'give exactly one of "value" or "values"');
    },
  }),
  'a record',
  (v) => ({ name: v.name, type: v.type, values: (v.value ?? v.values) as string[], ttl: v.ttl }),
);

/** Record values are strings; plain YAML numbers (an MX written as 10 without target is caught later) are accepted as text. */
function scalarText(): Schema<string> {
  return {
    expect: 'a value',
    parse(node: Node, ctx: Ctx) {
      if (!isScalar(node) || node.value === null || typeof node.value === 'object') return ctx.error(node, 'expected a record value (a string)');
      return String(node.value);
    },
  };
}

// ---- zone dnssec -------------------------------------------------------------------------------------

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds, written as a number or as "90s", "30m", "1h", "7d", "2w". */
function duration(opts: { min: number; max: number }): Schema<number> {
  const expect = `a duration (seconds, or a number with s, m, h, d or w) from ${opts.min} s to ${opts.max} s`;
  return {
    expect,
    parse(node, ctx) {
      if (!isScalar(node)) return ctx.error(node, `expected ${expect}`);
      const v = node.value;
      let seconds: number;
      if (typeof v === 'number' && Number.isInteger(v)) seconds = v;
      else if (typeof v === 'string' && /^\s*\d+\s*[smhdw]\s*$/.test(v)) {
        const t = v.trim();
        seconds = Number(t.slice(0, -1).trim()) * DURATION_UNITS[t[t.length - 1]];
      } else return ctx.error(node, `expected ${expect}, got ${typeof v === 'string' ? `"${v}"` : String(v)}`);
      if (seconds < opts.min || seconds > opts.max) return ctx.error(node, `${seconds} s is out of range: expected ${expect}`);
      return seconds;
    },
  };
}

const DNSSEC_ALGORITHMS: Record<string, DnssecAlgorithm> = { '13': 13, ecdsap256sha256: 13, '15': 15, ed25519: 15 };

const ALGORITHM_EXPECT = '13 (ECDSAP256SHA256) or 15 (ED25519)';
const dnssecAlgorithm: Schema<DnssecAlgorithm> = {
  expect: ALGORITHM_EXPECT,
  parse(node, ctx) {
    const v = isScalar(node) ? node.value : null;
    const a = typeof v === 'number' || typeof v === 'string' ? DNSSEC_ALGORITHMS[String(v).toLowerCase()] : undefined;
    return a ?? ctx.error(node, `expected ${ALGORITHM_EXPECT}, got ${String(v)}`);
  },
};

// RRSIG times are 32-bit serial numbers (RFC 4034 §3.1.5): a validity past ~68 years would wrap; a year is plenty.
const dnssecSchema: Schema<ZoneDnssecConfig> = obj<ZoneDnssecConfig>({
  enabled: opt(bool(), true),
  algorithm: opt(dnssecAlgorithm, 13),
  keys: opt(oneOf(['csk', 'ksk+zsk'] as const), 'csk'),
  key_directory: opt(str({ nonEmpty: true }), 'keys'),
  signature_validity: opt(duration({ min: 3600, max: 366 * 86400 }), 7 * 86400),
  inception_offset: opt(duration({ min: 0, max: 7 * 86400 }), 3600),
  refresh: maybe(duration({ min: 60, max: 366 * 86400 })),
  dnskey_ttl: opt(duration({ min: 0, max: 7 * 86400 }), 3600),
  propagation_delay: opt(duration({ min: 0, max: 30 * 86400 }), 3600),
  parent_ds_ttl: opt(duration({ min: 0, max: 30 * 86400 }), 86400),
}, {
  check(v, node, ctx) {
    const d = v as unknown as ZoneDnssecConfig;
    if (d.refresh !== null && d.refresh >= d.signature_validity) ctx.error(node, `refresh (${d.refresh} s) must be shorter than signature_validity (${d.signature_validity} s)`);
  },
});

const zoneSchema: Schema<ZoneConfig> = refine(
  obj<{ name: string; soa: SoaInput | null; ns: string[]; default_ttl: number; records: RecordConfig[]; dnssec: ZoneDnssecConfig | null }>({
    name: req(domain()),
    soa: maybe(obj<SoaInput>(soaFields)),
    ns: req(list(domain(), { min: 1 })),
    default_ttl: opt(int({ min: 0, max: 2147483647 }), 300),
    records: opt(list(recordSchema), () => []),
    dnssec: maybe(dnssecSchema),
  }),
  'a zone',
  (v) => {
    const soaIn: SoaInput = v.soa ?? { mname: null, rname: null, serial: null, refresh: 10800, retry: 3600, expire: 604800, minimum: 60, ttl: 3600 };
    const soa: SoaConfig = { ...soaIn, mname: soaIn.mname ?? v.ns[0], rname: soaIn.rname ?? `hostmaster.${v.name}` };
    const zone: ZoneConfig = { name: v.name, soa, ns: v.ns, default_ttl: v.default_ttl, records: v.records, dnssec: v.dnssec };
    return zone;
  },
);

// ---- monitors ----------------------------------------------------------------------------------------

const MONITOR_TYPES: readonly MonitorType[] = ['http', 'https', 'tcp', 'smtp', 'icmp_ping', 'udp_icmp'];
const headerMap = dict(oneOrMany(str()));
const EXPECTED_CODES = /^\s*[1-5](\d\d|xx|XX)(\s*[,\s]\s*[1-5](\d\d|xx|XX))*\s*$/;

function monitorSchema(name: string): Schema<MonitorConfig> {
  return obj<MonitorConfig>({
    name: opt(str(), name),
    type: opt(oneOf(MONITOR_TYPES), 'http'),
    description: opt(str(), ''),
    method: opt(str({ pattern: /^[A-Z]{1,16}$/, patternHint: 'an HTTP method in capitals (GET, HEAD, POST…)' }), 'GET'),
    path: opt(str({ pattern: /^\//, patternHint: 'a path starting with "/"' }), '/'),
    port: maybe(int({ min: 1, max: 65535 })),
    header: opt(headerMap, () => ({})),
    timeout: opt(num({ min: 0.1, max: 60 }), 5),
    retries: opt(int({ min: 0, max: 10 }), 2),
    interval: opt(num({ min: 1, max: 3600 }), 60),
    expected_codes: opt(str({ pattern: EXPECTED_CODES, patternHint: 'status codes like "200", "2xx" or "200, 302"' }), '200'),
    expected_body: maybe(str({ nonEmpty: true })),
    follow_redirects: opt(bool(), false),
    allow_insecure: opt(bool(), false),
    consecutive_up: opt(int({ min: 1, max: 100 }), 1),
    consecutive_down: opt(int({ min: 1, max: 100 }), 1),
  }, {
    ignored: {
      probe_zone: 'Simulate Zone applies Cloudflare proxy settings to probes; steerdns probes endpoints directly',
      id: 'informational', created_on: 'informational', modified_on: 'informational',
    },
    check(v, node, ctx) {
      const m = v as unknown as MonitorConfig;
      if (m.timeout > m.interval) ctx.error(node, `timeout (${m.timeout} s) must not exceed interval (${m.interval} s)`);
      const http = m.type === 'http' || m.type === 'https';
      if (!http) {
        for (const key of ['expected_body', 'follow_redirects', 'allow_insecure', 'method', 'path', 'header', 'expected_codes'] as const) {
          const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
          if (pair) ctx.warn(pair.key as Node, `"${key}" only applies to http and https monitors; ignored for ${m.type}`);
        }
      }
      if ((m.type === 'icmp_ping') && m.port !== null) {
        const pair = node.items.find((p) => isScalar(p.key) && p.key.value === 'port');
        ctx.warn(pair?.key as Node, 'icmp_ping has no port; ignored');
      }
    },
  });
}

const monitorsSchema: Schema<Map<string, MonitorConfig>> = namedDict(monitorSchema);

const memberSchema: Schema<MonitorGroupMember> = obj<MonitorGroupMember>({
  monitor: req(str({ nonEmpty: true })),
  enabled: opt(bool(), true),
  must_be_healthy: opt(bool(), false),
  monitoring_only: opt(bool(), false),
});

const monitorGroupsSchema: Schema<Map<string, MonitorGroupConfig>> = namedDict((name) => obj<MonitorGroupConfig>({
  name: opt(str(), name),
  description: opt(str(), ''),
  members: req(list(memberSchema, { min: 1 })),
}));

/** A mapping of name → object whose schema knows its own name (monitors, pools). */
function namedDict<T>(schemaFor: (name: string) => Schema<T>): Schema<Map<string, T>> {
  return {
    expect: 'a mapping of names to definitions',
    parse(node, ctx) {
      if (isScalar(node) && node.value === null) return new Map();
      if (!isMap(node)) return ctx.error(node, 'expected a mapping of names to definitions');
      const out = new Map<string, T>();
      let bad = false;
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : null;
        if (key === null || key === '') { ctx.error(pair.key as Node, 'expected a name'); bad = true; continue; }
        if (out.has(key)) { ctx.error(pair.key as Node, `duplicate name "${key}"`); bad = true; continue; }
        if (!pair.value) { ctx.error(pair.key as Node, `"${key}" has no definition`); bad = true; continue; }
        const v = schemaFor(key).parse(pair.value as Node, ctx);
        if (v === INVALID) bad = true;
        else out.set(key, v);
      }
      return bad ? INVALID : out;
    },
  };
}

// ---- pools -------------------------------------------------------------------------------------------

const originSchema: Schema<OriginConfig> = refine(
  obj<Omit<OriginConfig, 'name'> & { name: string | null }>({
    name: maybe(str({ nonEmpty: true })),
    address: req(refine(str({ nonEmpty: true }), 'an address', (v, node, ctx) => {
      const a = v.trim();
      if (isIP(a)) return a;
      const d = normalizeDomain(a);
      return typeof d === 'string' ? d : ctx.error(node, `"${v}" is neither an IP address nor a hostname`);
    })),
    enabled: opt(bool(), true),
    weight: opt(num({ min: 0, max: 1000 }), 1),
    port: maybe(int({ min: 1, max: 65535 })),
    priority: opt(int({ min: 0, max: 65535 }), 10),
    header: opt(dict(oneOrMany(str({ nonEmpty: true })), {
      key: (k, at, ctx) => (k.toLowerCase() === 'host' ? 'Host' : ctx.error(at, `only the Host header can be set on an origin, not "${k}"`)),
    }), () => ({})),
  }, {
    rejected: { virtual_network_id: 'private network load balancing is not supported: DNS-only load balancers serve public endpoints' },
  }),
  'an origin',
  (v) => ({ ...v, name: v.name ?? v.address }),
);

const loadSheddingSchema: Schema<LoadSheddingConfig> = obj<LoadSheddingConfig>({
  default_percent: opt(num({ min: 0, max: 100 }), 0),
  default_policy: opt(oneOf(['random', 'hash'] as const), 'random'),
  session_percent: opt(num({ min: 0, max: 100 }), 0),
  session_policy: opt(oneOf(['hash'] as const), 'hash'),
}, {
  check(v, node, ctx) {
    if ((v.session_percent as number) > 0) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === 'session_percent');
      ctx.warn(pair?.key as Node, 'session_percent sheds session-affinity traffic, which DNS-only load balancers do not have; ignored');
    }
  },
});

const notificationFilterSchema: Schema<NotificationFilterConfig> = obj<NotificationFilterConfig>({
  origin: opt(obj<NotificationFilterConfig['origin']>({ disable: opt(bool(), false), healthy: maybe(bool()) }), () => ({ disable: false, healthy: null })),
  pool: opt(obj<NotificationFilterConfig['pool']>({ disable: opt(bool(), false), healthy: maybe(bool()) }), () => ({ disable: false, healthy: null })),
});

function poolSchema(name: string): Schema<PoolConfig> {
  return obj<PoolConfig>({
    name: opt(str(), name),
    description: opt(str(), ''),
    enabled: opt(bool(), true),
    minimum_origins: opt(int({ min: 1, max: 10000 }), 1),
    monitor: maybe(str({ nonEmpty: true })),
    monitor_group: maybe(str({ nonEmpty: true })),
    origin_steering: opt(obj<PoolConfig['origin_steering']>({
      policy: opt(oneOf(['random', 'hash', 'least_outstanding_requests', 'least_connections'] as const), 'random'),
    }), () => ({ policy: 'random' as const })),
    load_shedding: maybe(loadSheddingSchema),
    latitude: maybe(latitude),
    longitude: maybe(longitude),
    notification_filter: maybe(notificationFilterSchema),
    origins: req(list(originSchema, { min: 1 })),
  }, {
    ignored: {
      check_regions: 'probes are sent from this server; there are no probe regions',
      notification_email: 'use notifications.webhooks',
      networks: 'Cloudflare network placement', id: 'informational', created_on: 'informational', modified_on: 'informational',
    },
    check(v, node, ctx) {
      const p = v as unknown as PoolConfig;
      if (p.monitor !== null && p.monitor_group !== null) ctx.error(node, 'a pool takes a "monitor" or a "monitor_group", not both');
      if ((p.latitude === null) !== (p.longitude === null)) ctx.error(node, 'set both latitude and longitude, or neither');
      const names = new Set<string>();
      const addresses = new Set<string>();
      p.origins.forEach((o, i) => {
        const at = posOfItem(p.origins, i);
        if (names.has(o.name)) ctx.error(at, `duplicate origin name "${o.name}" in pool "${p.name}"`);
        if (addresses.has(`${o.address}|${o.port ?? ''}`)) ctx.error(at, `origin address ${o.address} appears twice in pool "${p.name}"`);
        names.add(o.name);
        addresses.add(`${o.address}|${o.port ?? ''}`);
      });
    },
  });
}

const posOfItem = (arr: object, i: number) => posOf(arr, i);

// ---- load balancers ----------------------------------------------------------------------------------

const STEERING: readonly SteeringPolicy[] = ['', 'off', 'geo', 'random', 'dynamic_latency', 'proximity', 'least_outstanding_requests', 'least_connections'];
const steeringPolicy: Schema<SteeringPolicy> = {
  expect: 'a steering policy',
  parse(node, ctx) {
    if (isScalar(node) && node.value === 'random_steering') {
      return ctx.error(node, '"random_steering" is not a steering policy (the Cloudflare docs\' examples use it by mistake); use "random"');
    }
    return oneOf(STEERING).parse(node, ctx);
  },
};

const poolList = list(str({ nonEmpty: true }), { min: 1 });
const poolMap = dict(poolList);

const randomSteeringSchema: Schema<RandomSteeringConfig> = obj<RandomSteeringConfig>({
  pool_weights: opt(dict(num({ min: 0, max: 1000 })), () => ({})),
  default_weight: opt(num({ min: 0, max: 1000 }), 1),
});

const locationStrategySchema: Schema<LocationStrategyConfig> = obj<LocationStrategyConfig>({
  prefer_ecs: opt(oneOf(['always', 'never', 'proximity', 'geo'] as const), 'proximity'),
  mode: opt(oneOf(['pop', 'resolver_ip'] as const), 'pop'),
});

const PROXIED_ONLY = {
  session_affinity: 'session affinity is not supported by DNS-only load balancers (see DNS persistence in the README)',
  session_affinity_ttl: 'session affinity is not supported by DNS-only load balancers',
  session_affinity_attributes: 'session affinity is not supported by DNS-only load balancers',
  adaptive_routing: 'adaptive routing retries proxied HTTP requests; DNS-only load balancers have none',
};

const ttlSchema = int({ min: 1, max: 86400 });

const overridesSchema: Schema<RuleOverrides> = obj<Required<RuleOverrides>>({
  default_pools: poolList,
  fallback_pool: str({ nonEmpty: true }),
  region_pools: poolMap,
  country_pools: poolMap,
  pop_pools: poolMap,
  steering_policy: steeringPolicy,
  random_steering: randomSteeringSchema,
  location_strategy: locationStrategySchema,
  ttl: ttlSchema,
}, { sparse: true, ignored: PROXIED_ONLY });

const ruleSchema: Schema<RuleConfig> = obj<RuleConfig>({
  name: opt(str(), ''),
  condition: opt(str(), ''),
  priority: opt(int({ min: -2147483648, max: 2147483647 }), 0),
  disabled: opt(bool(), false),
  terminates: opt(bool(), false),
  overrides: opt(overridesSchema, () => ({})),
}, {
  rejected: { fixed_response: 'fixed_response answers an HTTP request; DNS-only load balancers cannot use it' },
});

const loadBalancerSchema: Schema<LoadBalancerConfig> = obj<LoadBalancerConfig>({
  name: req(domain({ wildcard: true })),
  description: opt(str(), ''),
  enabled: opt(bool(), true),
  ttl: opt(ttlSchema, 30),
  default_pools: req(poolList),
  fallback_pool: maybe(str({ nonEmpty: true })),
  region_pools: opt(poolMap, () => ({})),
  country_pools: opt(poolMap, () => ({})),
  pop_pools: opt(poolMap, () => ({})),
  steering_policy: opt(steeringPolicy, ''),
  random_steering: opt(randomSteeringSchema, () => ({ pool_weights: {}, default_weight: 1 })),
  location_strategy: opt(locationStrategySchema, () => ({ prefer_ecs: 'proximity' as const, mode: 'pop' as const })),
  rules: opt(list(ruleSchema), () => []),
}, {
  ignored: {
    ...PROXIED_ONLY,
    networks: 'Cloudflare network placement',
    id: 'informational', zone_name: 'informational', created_on: 'informational', modified_on: 'informational',
  },
  checked: {
    proxied(value, ctx) {
      if (isScalar(value) && (value.value === false || value.value === null)) return;
      if (isScalar(value) && value.value === true) ctx.error(value, 'proxied: true is not possible: steerdns is a DNS-only (gray-cloud) load balancer');
      else ctx.error(value, 'proxied must be false (steerdns is a DNS-only load balancer)');
    },
  },
});

// ---- notifications -----------------------------------------------------------------------------------

const webhookSchema: Schema<WebhookConfig> = refine(
  obj<Omit<WebhookConfig, 'name'> & { name: string | null }>({
    name: maybe(str({ nonEmpty: true })),
    url: req(str({ pattern: /^https?:\/\/[^\s/]+/, patternHint: 'an http:// or https:// URL' })),
    headers: opt(dict(str()), () => ({})),
    timeout: opt(num({ min: 0.1, max: 60 }), 5),
    max_attempts: opt(int({ min: 1, max: 20 }), 5),
  }),
  'a webhook',
  (v) => ({ ...v, name: v.name ?? v.url }),
);

const notificationsSchema: Schema<NotificationsConfig> = obj<NotificationsConfig>({
  webhooks: opt(list(webhookSchema), () => []),
});

// ---- top level ---------------------------------------------------------------------------------------

/** The file's content; load.ts adds where it came from. */
export type ParsedConfig = Omit<Config, 'file'>;

export const configSchema: Schema<ParsedConfig> = obj<ParsedConfig>({
  server: opt(serverSchema, () => serverSchema.parse(new YAMLMap(), new Ctx('', new LineCounter())) as ServerConfig),
  zones: req(list(zoneSchema, { min: 1 })),
  monitors: opt(monitorsSchema, () => new Map()),
  monitor_groups: opt(monitorGroupsSchema, () => new Map()),
  pools: opt(namedDict(poolSchema), () => new Map()),
  load_balancers: opt(list(loadBalancerSchema), () => []),
  notifications: opt(notificationsSchema, () => ({ webhooks: [] })),
});
