// icmp_ping and udp_icmp probes with the system ping binary and real UDP sockets on loopback.
import { icmpAvailable, interpretPing, ping } from '../../../src/health/probes/icmp';
import { probeUdpIcmp } from '../../../src/health/probes/udp_icmp';
import { probeIcmp } from '../../../src/health/probes/icmp';
import { closedPort, listenUdp, monitor, origin, target } from '../helpers';

const HOST = '127.0.0.23';

describe('interpretPing', () => {
  it('parses the RTT of a reply', () => {
    const out = 'PING 1.2.3.4 (1.2.3.4) 56(84) bytes of data.\n64 bytes from 1.2.3.4: icmp_seq=1 ttl=64 time=0.079 ms\n';
    expect(interpretPing(0, out, '1.2.3.4', 1000)).toMatchObject({ ok: true, rttMs: 0.079 });
  });
  it('maps ping failures to reasons', () => {
    expect(interpretPing(1, '1 packets transmitted, 0 received, 100% packet loss', 'x', 1000).reason).toBe('No route to host error');
    expect(interpretPing(1, 'From 10.0.0.1 icmp_seq=1 Destination Host Unreachable', 'x', 1000).reason).toBe('No route to host error');
    expect(interpretPing(1, 'From 10.0.0.1 icmp_seq=1 Destination Net Unreachable', 'x', 1000).reason).toBe('Network Unreachable');
    expect(interpretPing(2, 'ping: nope.invalid: Name or service not known', 'x', 1000).reason).toBe('DNS Unknown Host');
    expect(interpretPing(2, 'ping: socket: Operation not permitted', 'x', 1000).reason).toBe('Monitor Config Error');
    expect(interpretPing(2, 'ping: connect: Network is unreachable', 'x', 1000).reason).toBe('Network Unreachable');
  });
});

const canPing = icmpAvailable();

describe('icmp_ping', () => {
  it('reports whether this host can ping', async () => {
    const a = await canPing;
    expect(typeof a.detail).toBe('string');
  });

  it('pings a loopback address', async () => {
    if (!(await canPing).ok) return;
    const r = await probeIcmp(target(monitor({ type: 'icmp_ping' }), origin({ address: HOST })), 1000);
    expect(r).toMatchObject({ ok: true, reason: 'No failures' });
    expect(r.rttMs).not.toBeNull();
  });

  it('pings ::1 with -6', async () => {
    if (!(await canPing).ok) return;
    const r = await ping('::1', 1000);
    // Some containers have no IPv6 loopback; then the failure must still be a proper reason.
    if (!r.ok) expect(r.reason).not.toBe('No failures');
    else expect(r.rttMs).not.toBeNull();
  });

  it('a missing ping binary is a "Monitor Config Error"', async () => {
    const r = await ping('127.0.0.1', 500, { pingCommand: '/nonexistent/ping' });
    expect(r).toMatchObject({ ok: false, reason: 'Monitor Config Error' });
    expect((await icmpAvailable({ pingCommand: '/nonexistent/ping' }, true)).ok).toBe(false);
    await icmpAvailable({}, true);
  });
});

describe('udp_icmp', () => {
  it('a closed UDP port (ICMP port unreachable → ECONNREFUSED) is down', async () => {
    if (!(await canPing).ok) return;
    const port = await closedPort(HOST);
    const r = await probeUdpIcmp(target(monitor({ type: 'udp_icmp', port }), origin({ address: HOST })), 1000);
    expect(r).toMatchObject({ ok: false, reason: 'Other Failure' });
    expect(r.detail).toContain('port unreachable');
  });

  it('a silent UDP service is up after the wait; an answering one at once', async () => {
    if (!(await canPing).ok) return;
    const silent = await listenUdp(HOST);
    const started = Date.now();
    const r = await probeUdpIcmp(target(monitor({ type: 'udp_icmp', port: silent.port }), origin({ address: HOST })), 400);
    expect(r).toMatchObject({ ok: true });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(silent.received).toBe(1);
    await silent.close();

    const echo = await listenUdp(HOST, true);
    const t0 = Date.now();
    expect((await probeUdpIcmp(target(monitor({ type: 'udp_icmp', port: echo.port }), origin({ address: HOST })), 3000)).ok).toBe(true);
    expect(Date.now() - t0).toBeLessThan(500);
    await echo.close();
  });

  it('no port → "Monitor Config Error"', async () => {
    expect((await probeUdpIcmp(target(monitor({ type: 'udp_icmp', port: null }), origin({ address: HOST })), 400)).reason).toBe(
      'Monitor Config Error',
    );
  });
});
