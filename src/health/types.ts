// Shared types of the health module: probe targets, probe results, failure reasons and the logger interface.
// Nothing here knows about DNS or steering.
import type { MonitorConfig } from '../config/types';

/**
 * Probe failure reasons: the headings of https://developers.cloudflare.com/load-balancing/troubleshooting/common-error-codes/, verbatim, so the event log and the status API read like
 * Cloudflare's. Only the reasons a self-hosted prober can produce are listed ("Exceeded quota error",
 * "DNS Internal", "Load Balancing Not Enabled", "Validation failed error" and "Object referenced by other
 * objects" describe Cloudflare's API, not a probe).
 */
export const FAILURE_REASONS = [
  'No failures',
  'TCP connection failed',
  'HTTP timeout occurred',
  'Response code mismatch error',
  'Response body mismatch error',
  'TLS untrusted certificate error',
  'TLS name mismatch error',
  'TLS protocol error',
  'TLS unrecognized name error',
  'No route to host error',
  'TCP Timeout',
  'TLS Handshake Failure',
  'Network Unreachable',
  'HTTP Invalid Response',
  'DNS Unknown Host',
  'Connection Reset by Peer',
  'Monitor Config Error',
  'Other Failure',
] as const;

export type FailureReason = (typeof FAILURE_REASONS)[number];

const REASON_SET: ReadonlySet<string> = new Set(FAILURE_REASONS);

export function isFailureReason(s: unknown): s is FailureReason {
  return typeof s === 'string' && REASON_SET.has(s);
}

/** The outcome of one probe try (or of one attempt = up to 1 + retries tries). Probes never reject. */
export interface ProbeResult {
  ok: boolean;
  /** "No failures" when ok. */
  reason: FailureReason;
  /** Time to the response headers (HTTP/HTTPS), to the TCP connect (tcp, smtp), or the echo RTT (icmp). */
  rttMs: number | null;
  /** HTTP status, or the SMTP reply code that decided; null when none was received. */
  responseCode: number | null;
  /** Human-readable detail for logs and the status API (never parsed). */
  detail: string;
}

/** One (pool, endpoint) that relies on a probe target; `monitor` is the monitor name as configured. */
export interface TargetUser {
  readonly pool: string;
  readonly origin: string;
  readonly monitor: string;
}

/**
 * One thing to probe: a monitor definition applied to one endpoint address, port and Host header. Several pools
 * (or several identically defined monitors) using the same endpoint share one target and one probe.
 */
export interface ProbeTarget {
  /** Identity: monitor definition (without name/description), address, effective port, effective Host. */
  readonly key: string;
  /**
   * The key without the scheduling/hysteresis fields (interval, timeout, retries, consecutive_up/down): on a
   * reload a target whose key changed only in those fields inherits the old state instead of starting unknown.
   */
  readonly carryKey: string;
  /** The monitor definition of the first user (identical for every user apart from name and description). */
  readonly monitor: MonitorConfig;
  /** Endpoint address: IPv4, IPv6 or a hostname (resolved by the system resolver at probe time). */
  readonly address: string;
  /** Effective port; null for icmp_ping, and when nothing sets one (a "Monitor Config Error" at probe time). */
  readonly port: number | null;
  /** The configured Host header (endpoint wins over monitor), null when none: HTTP types only. */
  readonly host: string | null;
  /** The Host header actually sent: `host`, else the endpoint address (with the port when not the default). */
  readonly hostHeader: string;
  /** TLS server name (SNI): the Host name when it is a hostname, null when it is an IP address. */
  readonly sni: string | null;
  /** Request headers without Host, User-Agent included (the default names the product and the first pool). */
  readonly headers: Readonly<Record<string, string[]>>;
  readonly users: readonly TargetUser[];
  /** Regions whose vantage points vote on this target (shared health, pool `check_regions`); null: all. */
  readonly regions: readonly string[] | null;
}

/** Process-level probe settings that are not part of a monitor definition. */
export interface ProbeContext {
  /** Extra trusted CA certificates (PEM), added to Node's bundled roots for HTTPS probes. */
  ca?: readonly string[];
  /** Name sent in SMTP `HELO` (default: the host name of this machine). */
  heloName?: string;
  /** The ping binary (default "ping"). */
  pingCommand?: string;
  /**
   * Addresses of a hostname endpoint as the answers resolve it (our own zones, else the server's resolver); [] when
   * it does not resolve, null when the name is not one the answering side knows (then the system resolves it).
   */
  resolve?: (hostname: string) => readonly string[] | null;
  /** Source addresses to bind probes to, per family (`server.probe_source`). */
  source?: { v4: string | null; v6: string | null };
}

/** The structured logger the health module writes to; the server passes its own. */
export interface HealthLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: HealthLogger = {
  info() {},
  warn() {},
  error() {},
  debug() {},
};

export function passResult(rttMs: number | null, responseCode: number | null, detail = ''): ProbeResult {
  return { ok: true, reason: 'No failures', rttMs, responseCode, detail };
}

export function failResult(
  reason: FailureReason,
  detail: string,
  rttMs: number | null = null,
  responseCode: number | null = null,
): ProbeResult {
  return { ok: false, reason, rttMs, responseCode, detail };
}
