// Maps Node/OpenSSL errors to the failure reasons of https://developers.cloudflare.com/load-balancing/troubleshooting/common-error-codes/.
//
// `phase` says how far the probe got: an error during the TLS handshake is a TLS problem even when Node reports
// it as a socket error, and a timeout means something different before and after the TCP connect.
import type { FailureReason } from '../types';

export type ProbePhase = 'lookup' | 'connect' | 'tls' | 'response' | 'body';

// Certificate verification failures (OpenSSL X509_V_ERR_* names, as Node reports them in err.code).
const UNTRUSTED_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);

const NAME_MISMATCH_CODES = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH']);

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_NODATA', 'EAI_FAIL', 'ENODATA', 'ESERVFAIL', 'ENONAME']);

export interface Classified {
  reason: FailureReason;
  detail: string;
}

function errorCode(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err) {
    const c = (err as { code: unknown }).code;
    if (typeof c === 'string') return c;
  }
  return '';
}

function errorSyscall(err: unknown): string {
  if (err && typeof err === 'object' && 'syscall' in err) {
    const s = (err as { syscall: unknown }).syscall;
    if (typeof s === 'string') return s;
  }
  return '';
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** OpenSSL reports handshake problems as EPROTO/ERR_SSL_* with the reason only in the message text. */
function classifyTlsText(code: string, msg: string): FailureReason | null {
  const m = msg.toLowerCase();
  if (m.includes('unrecognized name') || code === 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME') return 'TLS unrecognized name error';
  if (
    m.includes('wrong version number') ||
    m.includes('unsupported protocol') ||
    m.includes('protocol version') ||
    m.includes('packet length too long') ||
    m.includes('http request') ||
    m.includes('record layer failure') ||
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    code === 'ERR_SSL_UNSUPPORTED_PROTOCOL' ||
    code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION'
  ) {
    return 'TLS protocol error';
  }
  if (code.startsWith('ERR_SSL_') || m.includes('ssl routines') || m.includes('alert')) return 'TLS Handshake Failure';
  return null;
}

/** Maps an error to a failure reason. `phase` is where the probe was when the error arrived. */
export function classifyError(err: unknown, phase: ProbePhase): Classified {
  const code = errorCode(err);
  const msg = errorMessage(err);
  const detail = code && !msg.includes(code) ? `${code}: ${msg}` : msg;
  const r = (reason: FailureReason): Classified => ({ reason, detail });

  if (UNTRUSTED_CODES.has(code)) return r('TLS untrusted certificate error');
  if (NAME_MISMATCH_CODES.has(code)) return r('TLS name mismatch error');
  if (DNS_CODES.has(code)) return r('DNS Unknown Host');
  switch (code) {
    case 'ECONNREFUSED':
      return r('TCP connection failed');
    case 'EHOSTUNREACH':
    case 'EHOSTDOWN':
      return r('No route to host error');
    case 'ENETUNREACH':
    case 'ENETDOWN':
      return r('Network Unreachable');
    case 'ETIMEDOUT':
      // The kernel gave up: SYN or data retransmissions were never acknowledged.
      return r('TCP Timeout');
    case 'EPIPE':
      return r('Connection Reset by Peer');
    case 'ECONNRESET':
      // A real RST carries the syscall (read/write); "socket hang up" and "Client network socket disconnected
      // before secure TLS connection was established" are orderly closes (FIN) before an answer.
      if (errorSyscall(err) !== '') return r('Connection Reset by Peer');
      if (phase === 'tls') return r('TLS Handshake Failure');
      if (phase === 'connect' || phase === 'lookup') return r('TCP connection failed');
      return { reason: 'HTTP Invalid Response', detail: `connection closed before a complete response (${msg})` };
    case 'ERR_INVALID_URL':
    case 'ERR_UNESCAPED_CHARACTERS':
    case 'ERR_INVALID_HTTP_TOKEN':
    case 'ERR_INVALID_CHAR':
    case 'ERR_HTTP_INVALID_HEADER_VALUE':
      return r('Monitor Config Error');
    case 'ERR_SOCKET_BAD_PORT':
      return r('Monitor Config Error');
  }
  if (code.startsWith('HPE_')) return r('HTTP Invalid Response');
  if (phase === 'tls' || code === 'EPROTO' || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    const tls = classifyTlsText(code, msg);
    if (tls) return r(tls);
    if (phase === 'tls') return r('TLS Handshake Failure');
  }
  return r('Other Failure');
}

/** The reason for our own deadline firing in a given phase (the probe gave up; the kernel did not). */
export function classifyTimeout(phase: ProbePhase, ms: number, what = 'HTTP'): Classified {
  const after = `${Math.round(ms)} ms`;
  switch (phase) {
    case 'lookup':
      return { reason: 'DNS Unknown Host', detail: `name lookup did not finish within ${after}` };
    case 'connect':
      return { reason: 'TCP connection failed', detail: `TCP connect did not complete within ${after}` };
    case 'tls':
      return { reason: 'TLS Handshake Failure', detail: `TLS handshake did not complete within ${after}` };
    default:
      if (what === 'HTTP') return { reason: 'HTTP timeout occurred', detail: `no complete HTTP response within ${after}` };
      return { reason: 'TCP Timeout', detail: `${what}: no reply within ${after}` };
  }
}
