// The typed configuration, as loaded and validated from YAML. Names follow the Cloudflare API (docs/decisions.md) so
// that exported Cloudflare objects port over. This module knows nothing of DNS, steering or probes: domains
// read these types and compile their own runtime structures from them.

/** A place in a config file, 1-based. */
export interface Pos {
  file: string;
  line: number;
  col: number;
}

export interface Problem {
  pos: Pos;
  message: string;
  severity: 'error' | 'warning';
}

export interface Config {
  /** Absolute path of the file this config was read from; relative paths inside it resolve against its directory. */
  file: string;
  server: ServerConfig;
  zones: ZoneConfig[];
  monitors: Map<string, MonitorConfig>;
  monitor_groups: Map<string, MonitorGroupConfig>;
  pools: Map<string, PoolConfig>;
  load_balancers: LoadBalancerConfig[];
  notifications: NotificationsConfig;
}

export interface ListenAddress {
  host: string;
  port: number;
  family: 4 | 6;
}

export interface PopConfig {
  code: string;
  country: string | null;
  subdivision: string | null;
  /** Derived from country/subdivision when omitted (see geo/regions). */
  region: string | null;
  latitude: number | null;
  longitude: number | null;
}

export interface ServerConfig {
  listen: ListenAddress[];
  /** Status/metrics HTTP listener, null when disabled. */
  http: ListenAddress | null;
  http_token: string | null;
  pop: PopConfig;
  geoip: { databases: string[] };
  nsid: string | null;
  /** Answered to CH TXT id.server / hostname.bind when set. */
  identity: string | null;
  state_file: string | null;
  /** Our EDNS(0) UDP payload size (RFC 6891), also the UDP answer ceiling. */
  edns_udp_size: number;
  tcp: { idle_timeout: number; max_connections: number; max_connections_per_client: number };
  workers: number;
  /** UDP socket I/O: the native batched module (recvmmsg/sendmmsg), node:dgram, or batched when available. */
  udp_io: 'auto' | 'batched' | 'dgram';
  /** The analytics time series (observe/analytics.ts): at most this many series; 0 keeps none. */
  analytics: { max_series: number };
  log: { level: 'debug' | 'info' | 'warn' | 'error'; queries: boolean };
  /** Vantage points share probe results through a store (null: this server decides health alone, as before). */
  shared_health: SharedHealthConfig | null;
  /** Source addresses of health probes, per family (null: the kernel picks). */
  probe_source: { v4: string | null; v6: string | null };
  /** Reload when the config file (or the directory holding it: Kubernetes ConfigMaps) changes. */
  watch_config: boolean;
  /** Where `serve` writes its process id (applies at start-up; `serve --pidfile` wins). */
  pidfile: string | null;
  /** Response rate limiting of UDP answers; null (the default) = off. */
  rrl: RrlConfig | null;
  cookies: CookiesConfig;
  /** Online signing, server-wide: the signature cache (entries, LRU) that every signed zone shares. */
  dnssec: { cache_size: number };
}

export interface SharedHealthConfig {
  /** redis://[user:password@]host[:port][/db] or rediss:// (TLS). */
  url: string;
  /** Prefix of every key this service writes, so that several services can share one Redis. */
  key_prefix: string;
  /** Seconds a vantage point's result counts; null: three probe intervals of its monitor. */
  ttl: number | null;
  /** Seconds the last shared view is kept after the store stops answering, before local results decide. */
  grace: number;
  /** Seconds between two publish/read rounds. */
  poll_interval: number;
  /** Seconds: connect and command timeout. */
  timeout: number;
  /** TLS for rediss:// (paths resolved against the config file's directory). */
  tls: { ca: string | null; cert: string | null; key: string | null; servername: string | null; insecure: boolean } | null;
}

/** Response rate limiting (BIND/Knot semantics): credits per second per client prefix, response kind and name. */
export interface RrlConfig {
  /** Answers, referrals and NODATA per second per (prefix, name[, type]); 0 = those are not limited. */
  responses_per_second: number;
  /** NXDOMAIN per second per (prefix, zone); null = responses_per_second. */
  nxdomains_per_second: number | null;
  /** Error responses (REFUSED, FORMERR, SERVFAIL, NOTIMP, …) per second per prefix; null = responses_per_second. */
  errors_per_second: number | null;
  /** Seconds of debt a flood builds up: the account never goes below -window × rate. */
  window: number;
  /** Every slip-th limited response is sent truncated (TC=1) instead of dropped; 0 = drop all, 1 = slip all. */
  slip: number;
  ipv4_prefix_length: number;
  ipv6_prefix_length: number;
  /** CIDR prefixes never limited. */
  exempt: string[];
  /** Count and report what would be limited, but answer everything. */
  log_only: boolean;
  /** Accounts kept (rounded up to a power of two); the least recently used is evicted past that. */
  max_table_size: number;
}

/** DNS Cookies (RFC 7873) with interoperable server cookies (RFC 9018). */
export interface CookiesConfig {
  enabled: boolean;
  /** 128-bit server secret as 32 hex digits; null = random at start (shared by the workers of one process). */
  secret: string | null;
  /** Seconds between secret rotations (derived from the secret and the time); 0 = never (the secret as it is). */
  rotation: number;
}

export interface SoaConfig {
  mname: string;
  rname: string;
  /** null: derived from the config file's modification time. */
  serial: number | null;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
  ttl: number;
}

export interface RecordConfig {
  /** As written: relative to the zone, "@" for the apex, or absolute with a trailing dot. */
  name: string;
  type: string;
  /** One RR per value, in presentation format (RFC 1035 master-file syntax for the RDATA). */
  values: string[];
  ttl: number | null;
}

export interface ZoneConfig {
  /** Lowercase, without trailing dot. */
  name: string;
  soa: SoaConfig;
  ns: string[];
  default_ttl: number;
  records: RecordConfig[];
  /** Online DNSSEC signing of this zone; null: unsigned. */
  dnssec: ZoneDnssecConfig | null;
}

/** DNSSEC algorithm numbers steerdns signs with: 13 ECDSA P-256/SHA-256 (RFC 6605), 15 Ed25519 (RFC 8080). */
export type DnssecAlgorithm = 13 | 15;

/** A zone's `dnssec` block. Durations are in seconds. Private keys live in files, never here. */
export interface ZoneDnssecConfig {
  /** false keeps the block but serves the zone unsigned (no DNSKEY, no RRSIG). */
  enabled: boolean;
  /** Algorithm of keys that `dnssec keygen` makes for this zone (the keys' own files say what they are). */
  algorithm: DnssecAlgorithm;
  /** csk: one combined signing key signs everything; ksk+zsk: the KSK signs the DNSKEY RRset, the ZSK the rest. */
  keys: 'csk' | 'ksk+zsk';
  /** Where the key files are, as written (relative to the config file's directory). */
  key_directory: string;
  /** RRSIG validity from the moment of signing (RFC 4034 §3.1.5). */
  signature_validity: number;
  /** RRSIG inception is backdated by this much, for validators whose clocks are behind. */
  inception_offset: number;
  /** A signature is replaced when less than this much of its validity is left; null: a quarter of the validity. */
  refresh: number | null;
  dnskey_ttl: number;
  /** RFC 7583 Dprp: how long a change takes to reach every instance and secondary (rollover timing). */
  propagation_delay: number;
  /** RFC 7583 TTLds: the TTL of the zone's DS RRset at the parent (KSK and CSK rollovers). */
  parent_ds_ttl: number;
}

export type MonitorType = 'http' | 'https' | 'tcp' | 'smtp' | 'icmp_ping' | 'udp_icmp';

export interface MonitorConfig {
  name: string;
  type: MonitorType;
  description: string;
  method: string;
  path: string;
  /** null: the type's default (80 http, 443 https, 25 smtp; required for tcp and udp_icmp unless the endpoint sets one). */
  port: number | null;
  /** Header name → values, as the Cloudflare API shapes it. */
  header: Record<string, string[]>;
  /** Seconds. */
  timeout: number;
  retries: number;
  /** Seconds. */
  interval: number;
  expected_codes: string;
  /** Case-insensitive substring of the first 10 KB of the body; null = no body check. */
  expected_body: string | null;
  follow_redirects: boolean;
  allow_insecure: boolean;
  consecutive_up: number;
  consecutive_down: number;
}

export interface MonitorGroupMember {
  monitor: string;
  enabled: boolean;
  must_be_healthy: boolean;
  monitoring_only: boolean;
}

export interface MonitorGroupConfig {
  name: string;
  description: string;
  members: MonitorGroupMember[];
}

export type OriginSteeringPolicy = 'random' | 'hash' | 'least_outstanding_requests' | 'least_connections';

export interface OriginConfig {
  name: string;
  /** IPv4, IPv6 or a hostname (resolved in the background; the MX/SRV target for MX/SRV answers). */
  address: string;
  enabled: boolean;
  weight: number;
  /** SRV port; also the probe port when the monitor has none. */
  port: number | null;
  /** MX preference / SRV priority. */
  priority: number;
  /** Host header for monitor requests (wins over the monitor's). */
  header: Record<string, string[]>;
}

export interface LoadSheddingConfig {
  default_percent: number;
  default_policy: 'random' | 'hash';
  session_percent: number;
  session_policy: 'hash';
}

export interface NotificationFilterConfig {
  origin: { disable: boolean; healthy: boolean | null };
  pool: { disable: boolean; healthy: boolean | null };
}

export interface PoolConfig {
  name: string;
  description: string;
  enabled: boolean;
  minimum_origins: number;
  monitor: string | null;
  monitor_group: string | null;
  origin_steering: { policy: OriginSteeringPolicy };
  load_shedding: LoadSheddingConfig | null;
  latitude: number | null;
  longitude: number | null;
  notification_filter: NotificationFilterConfig | null;
  /** Regions whose vantage points vote on this pool's health (server.shared_health); null: all 13. */
  check_regions: string[] | null;
  origins: OriginConfig[];
}

export type SteeringPolicy =
  | ''
  | 'off'
  | 'geo'
  | 'random'
  | 'dynamic_latency'
  | 'proximity'
  | 'least_outstanding_requests'
  | 'least_connections';

export interface RandomSteeringConfig {
  pool_weights: Record<string, number>;
  default_weight: number;
}

export interface LocationStrategyConfig {
  prefer_ecs: 'always' | 'never' | 'proximity' | 'geo';
  mode: 'pop' | 'resolver_ip';
}

export interface RuleOverrides {
  default_pools?: string[];
  fallback_pool?: string;
  region_pools?: Record<string, string[]>;
  country_pools?: Record<string, string[]>;
  pop_pools?: Record<string, string[]>;
  steering_policy?: SteeringPolicy;
  random_steering?: RandomSteeringConfig;
  location_strategy?: LocationStrategyConfig;
  ttl?: number;
}

export interface RuleConfig {
  name: string;
  condition: string;
  priority: number;
  disabled: boolean;
  terminates: boolean;
  overrides: RuleOverrides;
}

export interface LoadBalancerConfig {
  /** Lowercase FQDN without trailing dot; may start with "*." */
  name: string;
  description: string;
  enabled: boolean;
  ttl: number;
  default_pools: string[];
  /** null: the last pool of default_pools. */
  fallback_pool: string | null;
  region_pools: Record<string, string[]>;
  country_pools: Record<string, string[]>;
  pop_pools: Record<string, string[]>;
  steering_policy: SteeringPolicy;
  random_steering: RandomSteeringConfig;
  location_strategy: LocationStrategyConfig;
  rules: RuleConfig[];
}

export interface WebhookConfig {
  name: string;
  url: string;
  headers: Record<string, string>;
  /** Seconds per attempt. */
  timeout: number;
  max_attempts: number;
}

export interface NotificationsConfig {
  webhooks: WebhookConfig[];
}
