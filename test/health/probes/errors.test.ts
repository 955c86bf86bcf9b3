// Error → reason mapping for the errors that loopback tests cannot produce.
import { classifyError, classifyTimeout } from '../../../src/health/probes/errors';

const err = (code: string, message = code, syscall?: string): Error => Object.assign(new Error(message), { code, syscall });

describe('classifyError', () => {
  it.each([
    ['ECONNREFUSED', 'connect', 'TCP connection failed'],
    ['EHOSTUNREACH', 'connect', 'No route to host error'],
    ['ENETUNREACH', 'connect', 'Network Unreachable'],
    ['ETIMEDOUT', 'connect', 'TCP Timeout'],
    ['ENOTFOUND', 'lookup', 'DNS Unknown Host'],
    ['EAI_AGAIN', 'lookup', 'DNS Unknown Host'],
    ['CERT_HAS_EXPIRED', 'tls', 'TLS untrusted certificate error'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls', 'TLS untrusted certificate error'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'tls', 'TLS untrusted certificate error'],
    ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'tls', 'TLS untrusted certificate error'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls', 'TLS name mismatch error'],
    ['HPE_INVALID_CONSTANT', 'response', 'HTTP Invalid Response'],
    ['EPIPE', 'response', 'Connection Reset by Peer'],
    ['EWHATEVER', 'response', 'Other Failure'],
  ] as const)('%s in %s → %s', (code, phase, reason) => {
    expect(classifyError(err(code), phase).reason).toBe(reason);
  });

  it('tells a TCP RST from an orderly close', () => {
    expect(classifyError(err('ECONNRESET', 'read ECONNRESET', 'read'), 'response').reason).toBe('Connection Reset by Peer');
    expect(classifyError(err('ECONNRESET', 'socket hang up'), 'response').reason).toBe('HTTP Invalid Response');
    expect(classifyError(err('ECONNRESET', 'Client network socket disconnected before secure TLS connection was established'), 'tls').reason).toBe(
      'TLS Handshake Failure',
    );
  });

  it('reads OpenSSL reasons from EPROTO messages', () => {
    const ssl = (text: string) => err('EPROTO', `write EPROTO 80:error:0A00010B:SSL routines:ssl3_get_record:${text}`, 'write');
    expect(classifyError(ssl('wrong version number'), 'tls').reason).toBe('TLS protocol error');
    expect(classifyError(ssl('tlsv1 unrecognized name'), 'tls').reason).toBe('TLS unrecognized name error');
    expect(classifyError(ssl('sslv3 alert handshake failure'), 'tls').reason).toBe('TLS Handshake Failure');
    expect(classifyError(ssl('unsupported protocol'), 'tls').reason).toBe('TLS protocol error');
  });

  it('timeouts depend on the phase', () => {
    expect(classifyTimeout('lookup', 100).reason).toBe('DNS Unknown Host');
    expect(classifyTimeout('connect', 100).reason).toBe('TCP connection failed');
    expect(classifyTimeout('tls', 100).reason).toBe('TLS Handshake Failure');
    expect(classifyTimeout('response', 100).reason).toBe('HTTP timeout occurred');
    expect(classifyTimeout('body', 100).reason).toBe('HTTP timeout occurred');
    expect(classifyTimeout('response', 100, 'SMTP HELO').reason).toBe('TCP Timeout');
  });
});
