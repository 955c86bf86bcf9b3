// The shape of steerdns.yaml: every key, its type, default and range. Cross-references (pool names, zones)
// are checked afterwards in references.ts; RDATA syntax, regions and rule expressions by the domains that
// compile them.
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { yMap, type YMap, type YNode } from './ast';
import {
  bool, Ctx, dict, dumpWith, int, INVALID, keyText, list, maybe, num, obj, oneOf, oneOrMany, opt, posOf, refine, req, Schema, str,
} from './kit';
import { parseCidr } from '../util/ip';
import type {
  Config, CookiesConfig, DnssecAlgorithm, ListenAddress, LoadBalancerConfig, LoadSheddingConfig, LocationStrategyConfig, MonitorConfig,
  MonitorGroupConfig, MonitorGroupMember, MonitorType, NotificationFilterConfig, NotificationsConfig, OriginConfig,
  PoolConfig, PopConfig, RandomSteeringConfig, RecordConfig, RuleConfig, RuleOverrides, ServerConfig, SharedHealthConfig, SoaConfig,
  RrlConfig, SteeringPolicy, WebhookConfig, ZoneConfig, ZoneDnssecConfig,
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
  // RFC 1123 §2.1: "a valid host name can never have the dotted-decimal form #.#.#.#, since at least the
  // highest-level component label will be alphabetic" — resolvers never look such a name up. It is almost always a
  // mistyped address (192.0.2.313), which would otherwise be sent to the system resolver at run time.
  if (/^\d+$/.test(labels[labels.length - 1])) {
    return {
      error: labels.every((l) => /^\d+$/.test(l))
        ? `"${text}" is not a valid IP address, and an all-numeric name is not a hostname (RFC 1123 §2.1)`
        : `"${text}" is not a valid domain name: its last label "${labels[labels.length - 1]}" is all digits (RFC 1123 §2.1)`,
    };
  }
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

/** An address:port as it is written ("[::1]:53"). */
export function formatListen(a: ListenAddress): string {
  return a.family === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

const LISTEN_PATTERN = '^(\\[[0-9A-Fa-f:.]+\\]|[0-9.]+):[0-9]{1,5}$';

const listenAddress: Schema<ListenAddress> = refine(str({ nonEmpty: true }), 'an address:port', (v, node, ctx) => {
  const r = parseListen(v);
  return typeof r === 'string' ? ctx.error(node, r) : r;
}, { json: () => ({ type: 'string', pattern: LISTEN_PATTERN }), dump: formatListen });

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
  { dump: (v) => ({ database: v.databases.length ? v.databases : null }) },
);

const httpListen: Schema<ListenAddress | null> = {
  expect: 'an address:port, or null to disable',
  json: () => ({ anyOf: [{ type: 'string', pattern: LISTEN_PATTERN }, { enum: [null, false, 'off'] }] }),
  dump: (v) => (v === null ? null : formatListen(v)),
  parse(node, ctx) {
    if (node.kind === 'scalar' && (node.value === null || node.value === false || node.value === 'off')) return null;
    return listenAddress.parse(node, ctx);
  },
};

// ---- shared health (several vantage points, one store) ----------------------------------------------------------

/**
 * Checks a store URL: redis:// or rediss://, a host, an optional port and database number. Returns a message for an
 * unusable one. Credentials may be in the URL (they are never logged or shown).
 */
export function storeUrlProblem(text: string): string | null {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return `"${redactStoreUrl(text)}" is not a URL: write redis://[user:password@]host[:port][/db] or rediss:// for TLS`;
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') return `unsupported store "${u.protocol}//": use redis:// or rediss:// (TLS)`;
  if (u.hostname === '') return 'the store URL has no host';
  if (u.port !== '' && (Number(u.port) < 1 || Number(u.port) > 65535)) return `port ${u.port} is out of range 1-65535`;
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,2}$/.test(db)) return `"/${db}" is not a database number (redis://host:6379/0)`;
  if (u.search !== '' || u.hash !== '') return 'the store URL takes no query string or fragment';
  return null;
}

/** The URL without its password, for messages. */
export function redactStoreUrl(text: string): string {
  return text.replace(/^([a-z]+:\/\/[^:@/]*:)[^@/]*@/i, '$1[redacted]@');
}

const storeUrl: Schema<string> = refine(str({ nonEmpty: true }), 'a redis:// URL', (v, node, ctx) => {
  const problem = storeUrlProblem(v.trim());
  return problem === null ? v.trim() : ctx.error(node, problem);
});

const sharedHealthSchema: Schema<SharedHealthConfig> = obj<SharedHealthConfig>({
  url: req(storeUrl),
  key_prefix: opt(str({ max: 128, pattern: /^[\x21-\x7e]*$/, patternHint: 'printable characters without spaces' }), 'steerdns:'),
  ttl: maybe(num({ min: 1, max: 86400 })),
  grace: opt(num({ min: 0, max: 86400 }), 30),
  poll_interval: opt(num({ min: 0.1, max: 10 }), 1),
  timeout: opt(num({ min: 0.1, max: 60 }), 2),
  tls: maybe(obj<NonNullable<SharedHealthConfig['tls']>>({
    ca: maybe(str({ nonEmpty: true })),
    cert: maybe(str({ nonEmpty: true })),
    key: maybe(str({ nonEmpty: true })),
    servername: maybe(str({ nonEmpty: true })),
    insecure: opt(bool(), false),
  })),
}, {
  check(v, node, ctx) {
    const c = v as unknown as SharedHealthConfig;
    if (c.tls !== null && !c.url.toLowerCase().startsWith('rediss:')) {
      const pair = node.items.find((p) => p.key.kind === 'scalar' && p.key.value === 'tls');
      ctx.warn(pair ? pair.key : node, 'tls applies to rediss:// URLs only; ignored for redis://');
    }
  },
});

/** `probe_source`: one address, or one IPv4 and one IPv6 address. */
const probeSourceSchema: Schema<ServerConfig['probe_source']> = refine(
  oneOrMany(refine(str({ nonEmpty: true }), 'an IP address', (v, node, ctx) => (isIP(v.trim()) ? v.trim() : ctx.error(node, `"${v}" is not an IP address`)))),
  'an IP address or a list of one IPv4 and one IPv6 address',
  (list, node, ctx) => {
    const out: ServerConfig['probe_source'] = { v4: null, v6: null };
    for (const a of list) {
      const fam = isIPv4(a) ? 'v4' : 'v6';
      if (out[fam] !== null) return ctx.error(node, `probe_source has two IP${fam} addresses; give at most one per family`);
      out[fam] = a;
    }
    return out;
  },
  { dump: (v) => [v.v4, v.v6].filter((a): a is string => a !== null) },
);

const rate = int({ min: 0, max: 1_000_000 });

const rrlSchema: Schema<RrlConfig> = obj<RrlConfig>({
  responses_per_second: req(rate),
  nxdomains_per_second: maybe(rate),
  errors_per_second: maybe(rate),
  window: opt(int({ min: 1, max: 3600 }), 15),
  slip: opt(int({ min: 0, max: 10 }), 2),
  ipv4_prefix_length: opt(int({ min: 8, max: 32 }), 24),
  ipv6_prefix_length: opt(int({ min: 16, max: 64 }), 56),
  exempt: opt(list(refine(str({ nonEmpty: true }), 'a CIDR prefix', (v, node, ctx) => (parseCidr(v.trim()) ? v.trim() : ctx.error(node, `"${v}" is not an IP address or CIDR prefix`)))), () => []),
  log_only: opt(bool(), false),
  max_table_size: opt(int({ min: 64, max: 16_777_216 }), 65536),
});

const defaultCookies = (): CookiesConfig => ({ enabled: true, secret: null, rotation: 86400 });

const cookiesSchema: Schema<CookiesConfig> = obj<CookiesConfig>({
  enabled: opt(bool(), true),
  secret: maybe(str({ pattern: /^[0-9a-fA-F]{32}$/, patternHint: 'a 128-bit secret written as 32 hex digits' })),
  rotation: opt(int({ min: 0, max: 31_536_000 }), 86400),
}, {
  check(v, node, ctx) {
    const c = v as unknown as CookiesConfig;
    // A cookie lives an hour (RFC 9018 §4.3): a shorter rotation would turn valid cookies invalid early.
    if (c.rotation > 0 && c.rotation < 3600) ctx.error(node, `rotation ${c.rotation} s is shorter than a cookie's hour of life (RFC 9018 §4.3); use 0 (never) or at least 3600`);
  },
});

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
  analytics: opt(obj<ServerConfig['analytics']>({ max_series: opt(int({ min: 0, max: 1_000_000 }), 16384) }), () => ({ max_series: 16384 })),
  log: opt(obj<ServerConfig['log']>({
    level: opt(oneOf(['debug', 'info', 'warn', 'error'] as const), 'info'),
    queries: opt(bool(), false),
  }), () => ({ level: 'info' as const, queries: false })),
  shared_health: maybe(sharedHealthSchema),
  probe_source: opt(probeSourceSchema, () => ({ v4: null, v6: null })),
  watch_config: opt(bool(), false),
  pidfile: maybe(str({ nonEmpty: true })),
  rrl: maybe(rrlSchema),
  cookies: opt(cookiesSchema, defaultCookies),
  dnssec: opt(obj<ServerConfig['dnssec']>({
    cache_size: opt(int({ min: 16, max: 10_000_000 }), 50_000),
  }), () => ({ cache_size: 50_000 })),
}, { recover: true, title: 'server: listeners, PoP, GeoIP, status API and process settings' });

// ---- zones -------------------------------------------------------------------------------------------


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
      // Which types are supported is the DNS layer's record-type table; the zone compiler checks it.
      if (!/^[A-Z][A-Z0-9]*$/.test(t)) return ctx.error(node, `"${v}" is not a record type`);
      return t;
    }, {
      // The JSON Schema lists the table's types (given by the generator, which knows the DNS layer).
      json: (o) => (o.recordTypes ? { enum: [...o.recordTypes, ...o.recordTypes.map((t) => t.toLowerCase())] } : { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9]*$' }),
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
    json: () => ({ type: ['string', 'number', 'boolean'] }),
    parse(node: YNode, ctx: Ctx) {
      if (node.kind !== 'scalar' || node.value === null || typeof node.value === 'object') return ctx.error(node, 'expected a record value (a string)');
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
    json: () => ({ anyOf: [{ type: 'integer', minimum: opts.min, maximum: opts.max }, { type: 'string', pattern: '^\\s*\\d+\\s*[smhdw]\\s*$' }], description: expect }),
    parse(node, ctx) {
      if (node.kind !== 'scalar') return ctx.error(node, `expected ${expect}`);
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
  json: () => ({ enum: [13, 15, '13', '15', 'ecdsap256sha256', 'ed25519', 'ECDSAP256SHA256', 'ED25519'], description: ALGORITHM_EXPECT }),
  parse(node, ctx) {
    const v = node.kind === 'scalar' ? node.value : null;
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
  }, {
    recover: true,
    title: 'a zone steerdns is authoritative for',
    // LBs inside a zone left out for an error are not "outside every zone".
    dropped: (v, ctx) => {
      if (typeof v.name === 'string') ctx.drop('zone', v.name);
    },
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

/** The pair of `key` in a mapping node, for a message at that key. */
function keyNode(node: YMap, key: string): YNode | null {
  return node.items.find((p) => p.key.kind === 'scalar' && p.key.value === key)?.key ?? null;
}

/** Monitors and pools are named by their key in the mapping unless they say otherwise. */
const nameFromKey = (ctx: Ctx): string => ctx.key;

const monitorSchema: Schema<MonitorConfig> = obj<MonitorConfig>({
  name: opt(str(), nameFromKey),
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
  recover: true,
  title: 'a health monitor',
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
        const at = keyNode(node, key);
        if (at) ctx.warn(at, `"${key}" only applies to http and https monitors; ignored for ${m.type}`);
      }
    }
    if ((m.type === 'icmp_ping') && m.port !== null) {
      ctx.warn(keyNode(node, 'port'), 'icmp_ping has no port; ignored');
    }
  },
});

const monitorsSchema: Schema<Map<string, MonitorConfig>> = namedDict(monitorSchema, 'monitor');

const memberSchema: Schema<MonitorGroupMember> = obj<MonitorGroupMember>({
  monitor: req(str({ nonEmpty: true })),
  enabled: opt(bool(), true),
  must_be_healthy: opt(bool(), false),
  monitoring_only: opt(bool(), false),
});

const monitorGroupsSchema: Schema<Map<string, MonitorGroupConfig>> = namedDict(obj<MonitorGroupConfig>({
  name: opt(str(), nameFromKey),
  description: opt(str(), ''),
  members: req(list(memberSchema, { min: 1 })),
}), 'monitor group');

/** A mapping of name → object whose schema names it after its key unless it has a name (monitors, pools). */
function namedDict<T>(schema: Schema<T>, kind: string): Schema<Map<string, T>> {
  return {
    expect: 'a mapping of names to definitions',
    json: (o) => ({ type: ['object', 'null'], additionalProperties: schema.json(o) }),
    dump: (v) => {
      const out: Record<string, unknown> = {};
      for (const [k, x] of v) out[k] = dumpWith(schema, x);
      return out;
    },
    parse(node, ctx) {
      if (node.kind === 'scalar' && node.value === null) return new Map();
      if (node.kind !== 'map') return ctx.error(node, 'expected a mapping of names to definitions');
      const out = new Map<string, T>();
      let bad = false;
      for (const pair of node.items) {
        if (pair.duplicate) continue; // reported by the reader
        const key = pair.key.kind === 'scalar' ? String(pair.key.value) : null;
        if (key === null || key === '') { ctx.error(pair.key, 'expected a name'); bad = true; continue; }
        // Names that differ in YAML but not as strings (1 and "1").
        if (out.has(key)) { ctx.error(pair.key, `duplicate name ${keyText(key)}`); bad = true; continue; }
        if (!pair.value) { ctx.error(pair.key, `${keyText(key)} has no definition`); bad = true; continue; }
        ctx.key = key;
        const v = schema.parse(pair.value, ctx);
        // Left out, and remembered: references to it are not reported as unknown.
        if (v === INVALID) ctx.drop(kind, key);
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
      if (typeof d === 'string') return d;
      // A dotted all-numeric "name" is a mistyped address: say that rather than the generic message.
      return ctx.error(node, /^[\d.]+$/.test(a) ? d.error : `"${v}" is neither an IP address nor a hostname`);
    })),
    enabled: opt(bool(), true),
    weight: opt(num({ min: 0, max: 1000 }), 1),
    port: maybe(int({ min: 1, max: 65535 })),
    priority: opt(int({ min: 0, max: 65535 }), 10),
    header: opt(dict(oneOrMany(str({ nonEmpty: true })), {
      key: (k, at, ctx) => (k.toLowerCase() === 'host' ? 'Host' : ctx.error(at, `only the Host header can be set on an origin, not "${k}"`)),
      keyJson: { pattern: '^[Hh][Oo][Ss][Tt]$' },
    }), () => ({})),
  }, {
    recover: true,
    rejected: { virtual_network_id: 'private network load balancing is not supported: DNS-only load balancers serve public endpoints' },
  }),
  'an origin',
  (v) => {
    // In place: one object per origin, not two (a config can have hundreds of thousands).
    if (v.name === null) v.name = v.address;
    return v as OriginConfig;
  },
);

const loadSheddingSchema: Schema<LoadSheddingConfig> = obj<LoadSheddingConfig>({
  default_percent: opt(num({ min: 0, max: 100 }), 0),
  default_policy: opt(oneOf(['random', 'hash'] as const), 'random'),
  session_percent: opt(num({ min: 0, max: 100 }), 0),
  session_policy: opt(oneOf(['hash'] as const), 'hash'),
}, {
  check(v, node, ctx) {
    if ((v.session_percent as number) > 0) {
      ctx.warn(keyNode(node, 'session_percent'), 'session_percent sheds session-affinity traffic, which DNS-only load balancers do not have; ignored');
    }
  },
});

const notificationFilterSchema: Schema<NotificationFilterConfig> = obj<NotificationFilterConfig>({
  origin: opt(obj<NotificationFilterConfig['origin']>({ disable: opt(bool(), false), healthy: maybe(bool()) }), () => ({ disable: false, healthy: null })),
  pool: opt(obj<NotificationFilterConfig['pool']>({ disable: opt(bool(), false), healthy: maybe(bool()) }), () => ({ disable: false, healthy: null })),
});

const poolSchema: Schema<PoolConfig> = obj<PoolConfig>({
  name: opt(str(), nameFromKey),
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
  // Region codes are checked where regions are known (health/shared/check.ts, reported by `check`).
  check_regions: maybe(list(str({ pattern: /^[A-Z]{2,4}$/, patternHint: 'a region code like "WEU"' }), { min: 1 })),
  origins: req(list(originSchema, { min: 1 })),
}, {
  recover: true,
  title: 'a pool of endpoints (origins)',
  ignored: {
    notification_email: 'use notifications.webhooks',
    networks: 'Cloudflare network placement', id: 'informational', created_on: 'informational', modified_on: 'informational',
  },
  check(v, node, ctx) {
    const p = v as unknown as PoolConfig;
    if (p.monitor !== null && p.monitor_group !== null) ctx.error(node, 'a pool takes a "monitor" or a "monitor_group", not both');
    if ((p.latitude === null) !== (p.longitude === null)) ctx.error(node, 'set both latitude and longitude, or neither');
    // Pairwise for the usual handful of origins (no sets to allocate), with sets for a big pool.
    const origins = p.origins;
    const small = origins.length <= 16;
    const names = small ? null : new Set<string>();
    const addresses = small ? null : new Set<string>();
    for (let i = 0; i < origins.length; i++) {
      const o = origins[i];
      let sameName = false;
      let sameAddress = false;
      if (names && addresses) {
        const address = `${o.address}|${o.port ?? ''}`;
        sameName = names.has(o.name);
        sameAddress = addresses.has(address);
        names.add(o.name);
        addresses.add(address);
      } else {
        for (let j = 0; j < i; j++) {
          if (origins[j].name === o.name) sameName = true;
          if (origins[j].address === o.address && origins[j].port === o.port) sameAddress = true;
        }
      }
      if (sameName) ctx.error(posOf(origins, i), `duplicate origin name "${o.name}" in pool "${p.name}"`);
      if (sameAddress) ctx.error(posOf(origins, i), `origin address ${o.address} appears twice in pool "${p.name}"`);
    }
  },
});

// ---- load balancers ----------------------------------------------------------------------------------

const STEERING: readonly SteeringPolicy[] = ['', 'off', 'geo', 'random', 'dynamic_latency', 'proximity', 'least_outstanding_requests', 'least_connections'];
const steeringOneOf = oneOf(STEERING);
const steeringPolicy: Schema<SteeringPolicy> = {
  expect: 'a steering policy',
  json: (o) => steeringOneOf.json(o),
  parse(node, ctx) {
    if (node.kind === 'scalar' && node.value === 'random_steering') {
      return ctx.error(node, '"random_steering" is not a steering policy (the Cloudflare docs\' examples use it by mistake); use "random"');
    }
    return steeringOneOf.parse(node, ctx);
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
  recover: true,
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
  recover: true,
  title: 'a load balancer: a name answered with the endpoints steering picks',
  checkedJson: { proxied: { enum: [false, null], description: 'steerdns is a DNS-only (gray-cloud) load balancer' } },
  ignored: {
    ...PROXIED_ONLY,
    networks: 'Cloudflare network placement',
    id: 'informational', zone_name: 'informational', created_on: 'informational', modified_on: 'informational',
  },
  checked: {
    proxied(value, ctx) {
      if (value.kind === 'scalar' && (value.value === false || value.value === null)) return;
      if (value.kind === 'scalar' && value.value === true) ctx.error(value, 'proxied: true is not possible: steerdns is a DNS-only (gray-cloud) load balancer');
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
  server: opt(serverSchema, () => serverSchema.parse(yMap(0), new Ctx('')) as ServerConfig),
  zones: req(list(zoneSchema, { min: 1 })),
  monitors: opt(monitorsSchema, () => new Map()),
  monitor_groups: opt(monitorGroupsSchema, () => new Map()),
  pools: opt(namedDict(poolSchema, 'pool'), () => new Map()),
  load_balancers: opt(list(loadBalancerSchema), () => []),
  notifications: opt(notificationsSchema, () => ({ webhooks: [] })),
}, { recover: true, title: 'steerdns configuration' });
