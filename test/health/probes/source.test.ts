// server.probe_source: HTTP, TCP and SMTP probes leave from the configured address (the origin sees it), for IP
// and hostname endpoints; without it the kernel picks as before.
import type * as net from 'node:net';
import { probeHttp, probeSmtp, probeTcp } from '../../../src/health/probes';
import { sourceFor } from '../../../src/health/probes/source';
import { listenHttp, listenNet, listenSmtp, monitor, origin, target } from '../helpers';

const SOURCE = { v4: '127.0.0.77', v6: null };

test('sourceFor picks the address of the destination family; a hostname is looked up in that family', () => {
  const both = { source: { v4: '127.0.0.77', v6: '::1' } };
  expect(sourceFor(both, '127.0.0.1')).toEqual({ localAddress: '127.0.0.77' });
  expect(sourceFor(both, '::1')).toEqual({ localAddress: '::1' });
  expect(sourceFor(both, 'origin.test')).toEqual({ localAddress: '127.0.0.77', family: 4 });
  expect(sourceFor({ source: { v4: null, v6: '::1' } }, 'origin.test')).toEqual({ localAddress: '::1', family: 6 });
  expect(sourceFor({ source: { v4: null, v6: '::1' } }, '127.0.0.1')).toEqual({});
  expect(sourceFor({}, '127.0.0.1')).toEqual({});
});

test('HTTP probes bind the source address', async () => {
  const srv = await listenHttp('127.0.0.21');
  const seen: string[] = [];
  srv.handler = (req, res) => {
    seen.push(req.socket.remoteAddress ?? '');
    res.end('ok');
  };
  try {
    const t = target(monitor({ type: 'http', port: srv.port }), origin({ address: '127.0.0.21' }));
    expect((await probeHttp(t, 2000, { source: SOURCE })).ok).toBe(true);
    expect((await probeHttp(t, 2000, {})).ok).toBe(true);
    expect(seen).toEqual(['127.0.0.77', '127.0.0.1']);
  } finally {
    await srv.close();
  }
});

test('TCP and SMTP probes bind the source address', async () => {
  const seen: string[] = [];
  const tcp = await listenNet('127.0.0.21', (c: net.Socket) => {
    seen.push(c.remoteAddress ?? '');
    c.end();
  });
  const smtp = await listenSmtp('127.0.0.21');
  const smtpSeen: string[] = [];
  // listenSmtp is built on listenNet, whose server it keeps.
  (smtp as unknown as { server: net.Server }).server.on('connection', (c: net.Socket) => smtpSeen.push(c.remoteAddress ?? ''));
  try {
    const t = target(monitor({ type: 'tcp', port: tcp.port }), origin({ address: '127.0.0.21' }));
    expect((await probeTcp(t, 2000, { source: SOURCE })).ok).toBe(true);
    const s = target(monitor({ type: 'smtp', port: smtp.port }), origin({ address: '127.0.0.21' }));
    expect((await probeSmtp(s, 2000, { source: SOURCE })).ok).toBe(true);
    expect(seen).toEqual(['127.0.0.77']);
    expect(smtpSeen).toEqual(['127.0.0.77']);
  } finally {
    await tcp.close();
    await smtp.close();
  }
});

test('a source address this host does not have: the probe fails, nothing throws', async () => {
  const srv = await listenHttp('127.0.0.21');
  try {
    const t = target(monitor({ type: 'http', port: srv.port }), origin({ address: '127.0.0.21' }));
    const r = await probeHttp(t, 2000, { source: { v4: '192.0.2.1', v6: null } });
    expect(r.ok).toBe(false);
  } finally {
    await srv.close();
  }
});
