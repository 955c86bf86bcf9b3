// TCP and SMTP probes against real servers.
import { probeSmtp } from '../../../src/health/probes/smtp';
import { probeTcp } from '../../../src/health/probes/tcp';
import { closedPort, listenNet, listenSmtp, monitor, origin, target } from '../helpers';

const HOST = '127.0.0.22';

describe('TCP probe', () => {
  it('connects, then closes', async () => {
    let closed = false;
    const s = await listenNet(HOST, (c) => c.on('close', () => (closed = true)));
    const r = await probeTcp(target(monitor({ type: 'tcp', port: s.port }), origin({ address: HOST })), 1000);
    expect(r).toMatchObject({ ok: true, reason: 'No failures', responseCode: null });
    expect(r.rttMs).toBeGreaterThan(0);
    await new Promise((res) => setTimeout(res, 50));
    expect(closed).toBe(true);
    await s.close();
  });

  it('takes the port from the endpoint when the monitor has none', async () => {
    const s = await listenNet(HOST, () => undefined);
    const r = await probeTcp(target(monitor({ type: 'tcp', port: null }), origin({ address: HOST, port: s.port })), 1000);
    expect(r.ok).toBe(true);
    await s.close();
  });

  it('a closed port → "TCP connection failed"', async () => {
    const port = await closedPort(HOST);
    expect(await probeTcp(target(monitor({ type: 'tcp', port }), origin({ address: HOST })), 1000)).toMatchObject({
      ok: false,
      reason: 'TCP connection failed',
    });
  });

  it('no port anywhere → "Monitor Config Error" without touching the network', async () => {
    expect(await probeTcp(target(monitor({ type: 'tcp', port: null }), origin({ address: HOST })), 1000)).toMatchObject({
      ok: false,
      reason: 'Monitor Config Error',
    });
  });
});

describe('SMTP probe (T57)', () => {
  it('220 banner, HELO → 250, QUIT → 221 passes', async () => {
    const s = await listenSmtp(HOST);
    const r = await probeSmtp(target(monitor({ type: 'smtp', port: s.port }), origin({ address: HOST })), 1000, { heloName: 'probe.test' });
    expect(r).toMatchObject({ ok: true, responseCode: 221 });
    expect(s.commands).toEqual(['HELO probe.test', 'QUIT']);
    await s.close();
  });

  it('handles multi-line replies', async () => {
    const s = await listenSmtp(HOST, { multiline: true });
    expect((await probeSmtp(target(monitor({ type: 'smtp', port: s.port }), origin({ address: HOST })), 1000)).ok).toBe(true);
    await s.close();
  });

  it('HELO → 554 fails with the code', async () => {
    const s = await listenSmtp(HOST, { heloReply: '554 go away' });
    const r = await probeSmtp(target(monitor({ type: 'smtp', port: s.port }), origin({ address: HOST })), 1000);
    expect(r).toMatchObject({ ok: false, reason: 'Response code mismatch error', responseCode: 554 });
    expect(r.detail).toContain('HELO answered 554');
    await s.close();
  });

  it('a 554 banner, a wrong QUIT reply and a non-SMTP server fail', async () => {
    const banner = await listenSmtp(HOST, { banner: '554 no service' });
    expect(await probeSmtp(target(monitor({ type: 'smtp', port: banner.port }), origin({ address: HOST })), 1000)).toMatchObject({
      ok: false,
      responseCode: 554,
    });
    await banner.close();
    const quit = await listenSmtp(HOST, { quitReply: '500 what' });
    expect(await probeSmtp(target(monitor({ type: 'smtp', port: quit.port }), origin({ address: HOST })), 1000)).toMatchObject({
      ok: false,
      responseCode: 500,
    });
    await quit.close();
    const http = await listenNet(HOST, (c) => c.write('HTTP/1.1 400 Bad Request\r\n'));
    expect(await probeSmtp(target(monitor({ type: 'smtp', port: http.port }), origin({ address: HOST })), 1000)).toMatchObject({
      ok: false,
      reason: 'Other Failure',
    });
    await http.close();
  });

  it('a silent server times out after the connect ("TCP Timeout")', async () => {
    const s = await listenNet(HOST, () => undefined);
    expect(await probeSmtp(target(monitor({ type: 'smtp', port: s.port }), origin({ address: HOST })), 300)).toMatchObject({
      ok: false,
      reason: 'TCP Timeout',
    });
    await s.close();
  });

  it('refused → "TCP connection failed"', async () => {
    const port = await closedPort(HOST);
    expect((await probeSmtp(target(monitor({ type: 'smtp', port }), origin({ address: HOST })), 1000)).reason).toBe('TCP connection failed');
  });
});
