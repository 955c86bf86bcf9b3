// HTTP/HTTPS probes against real servers on 127.0.0.x.
import { probeHttp } from '../../../src/health/probes/http';
import { probeAttempt } from '../../../src/health/probes';
import { closedPort, listenHttp, listenNet, monitor, origin, target, TEST_CA, tlsServerOptions } from '../helpers';
import type { Closable } from '../helpers';

const HOST = '127.0.0.21';

describe('HTTP probe', () => {
  let srv: Awaited<ReturnType<typeof listenHttp>>;
  beforeAll(async () => {
    srv = await listenHttp(HOST);
  });
  afterAll(() => srv.close());
  beforeEach(() => {
    srv.requests.length = 0;
    srv.paths.length = 0;
    srv.methods.length = 0;
  });

  const t = (over: Parameters<typeof monitor>[0] = {}, o: Parameters<typeof origin>[0] = {}) =>
    target(monitor({ port: srv.port, ...over }), origin({ address: HOST, ...o }));

  it('passes on the expected code, measures RTT, sends method, path, headers and the default User-Agent', async () => {
    srv.handler = (_q, res) => res.end('fine');
    const r = await probeHttp(t({ method: 'HEAD', path: '/health?x=1', header: { 'X-Probe': ['a', 'b'] } }), 1000);
    expect(r).toMatchObject({ ok: true, reason: 'No failures', responseCode: 200 });
    expect(r.rttMs).toBeGreaterThan(0);
    expect(srv.methods[0]).toBe('HEAD');
    expect(srv.paths[0]).toBe('/health?x=1');
    expect(srv.requests[0]['x-probe']).toBe('a, b');
    expect(srv.requests[0]['user-agent']).toBe('Mozilla/5.0 (compatible; steerdns/1.0; +https://github.com/steerdns; pool: P1)');
  });

  it('lets the monitor override the User-Agent', async () => {
    await probeHttp(t({ header: { 'user-agent': ['custom/1'] } }), 1000);
    expect(srv.requests[0]['user-agent']).toBe('custom/1');
  });

  it('T53: 2xx accepts 204; 301 without follow_redirects is a code mismatch; 302 → 200 passes when following', async () => {
    srv.handler = (_q, res) => {
      res.statusCode = 204;
      res.end();
    };
    expect(await probeHttp(t({ expected_codes: '2xx' }), 1000)).toMatchObject({ ok: true, responseCode: 204 });

    srv.handler = (_q, res) => {
      res.writeHead(301, { Location: '/elsewhere' });
      res.end();
    };
    expect(await probeHttp(t({ expected_codes: '2xx' }), 1000)).toMatchObject({
      ok: false,
      reason: 'Response code mismatch error',
      responseCode: 301,
    });

    srv.paths.length = 0;
    srv.handler = (q, res) => {
      if (q.url === '/start') {
        res.writeHead(302, { Location: 'next' }); // relative
        res.end();
      } else if (q.url === '/next') {
        res.writeHead(302, { Location: `http://${HOST}:${srv.port}/final` }); // absolute, same host
        res.end();
      } else res.end('ok');
    };
    const r = await probeHttp(t({ expected_codes: '2xx', follow_redirects: true, path: '/start' }), 1000);
    expect(r).toMatchObject({ ok: true, responseCode: 200 });
    expect(srv.paths).toEqual(['/start', '/next', '/final']);
  });

  it('gives up after 10 redirects', async () => {
    srv.handler = (_q, res) => {
      res.writeHead(302, { Location: '/loop' });
      res.end();
    };
    const r = await probeHttp(t({ follow_redirects: true }), 2000);
    expect(r).toMatchObject({ ok: false, reason: 'Response code mismatch error', responseCode: 302 });
    expect(srv.paths.length).toBe(11);
  });

  it('accepts lists of codes separated by commas or spaces', async () => {
    srv.handler = (_q, res) => {
      res.statusCode = 301;
      res.end();
    };
    expect((await probeHttp(t({ expected_codes: '200,301' }), 1000)).ok).toBe(true);
    expect((await probeHttp(t({ expected_codes: '200 301' }), 1000)).ok).toBe(true);
    expect((await probeHttp(t({ expected_codes: '200, 302' }), 1000)).ok).toBe(false);
    expect(await probeHttp(t({ expected_codes: 'abc' }), 1000)).toMatchObject({ ok: false, reason: 'Monitor Config Error' });
  });

  it('T54: expected_body is a case-insensitive substring of the first 10 KB only', async () => {
    srv.handler = (_q, res) => res.end(`${'x'.repeat(500)}ALIVE${'y'.repeat(500)}`);
    expect(await probeHttp(t({ expected_body: 'alive' }), 1000)).toMatchObject({ ok: true });

    srv.handler = (_q, res) => res.end(`${'x'.repeat(10 * 1024)}alive`);
    expect(await probeHttp(t({ expected_body: 'alive' }), 1000)).toMatchObject({
      ok: false,
      reason: 'Response body mismatch error',
      responseCode: 200,
    });

    // Straddling the 10 KB boundary: not entirely inside the first 10 KB.
    srv.handler = (_q, res) => res.end(`${'x'.repeat(10 * 1024 - 2)}alive`);
    expect((await probeHttp(t({ expected_body: 'alive' }), 1000)).ok).toBe(false);

    srv.handler = (_q, res) => res.end('all good');
    expect(await probeHttp(t({ expected_body: 'alive' }), 1000)).toMatchObject({ ok: false, reason: 'Response body mismatch error' });
  });

  it('stops reading after 10 KB (an endless body does not time out the probe)', async () => {
    srv.handler = (_q, res) => {
      const chunk = 'z'.repeat(4096);
      const timer = setInterval(() => res.write(chunk), 1);
      res.on('close', () => clearInterval(timer));
    };
    const started = Date.now();
    const r = await probeHttp(t({ expected_body: 'alive' }), 3000);
    expect(r).toMatchObject({ ok: false, reason: 'Response body mismatch error' });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('T56: Host header precedence endpoint > monitor > endpoint address', async () => {
    const m = monitor({ port: srv.port, header: { Host: ['www.example.com'] } });
    await probeHttp(target(m, origin({ name: 'a1', address: HOST, header: { Host: ['lb-app-a.example.com'] } })), 1000);
    await probeHttp(target(m, origin({ name: 'a2', address: HOST })), 1000);
    const bare = monitor({ port: srv.port });
    await probeHttp(target(bare, origin({ name: 'a2', address: HOST })), 1000);
    const onPort80 = monitor({ port: null });
    const o80 = origin({ name: 'a3', address: HOST, port: srv.port }); // port from the endpoint: not 80 → in Host
    await probeHttp(target(onPort80, o80), 1000);
    expect(srv.requests.map((h) => h.host)).toEqual(['lb-app-a.example.com', 'www.example.com', `${HOST}:${srv.port}`, `${HOST}:${srv.port}`]);
  });

  it('times out with "HTTP timeout occurred" when the server accepts and never answers', async () => {
    srv.handler = () => undefined; // never responds
    const started = Date.now();
    const r = await probeHttp(t(), 300);
    expect(r).toMatchObject({ ok: false, reason: 'HTTP timeout occurred', responseCode: null });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('T55: retries — a silent endpoint fails only after 1 + retries timeouts', async () => {
    srv.handler = () => undefined;
    const started = Date.now();
    const r = await probeAttempt(t({ retries: 2 }), 200, 2);
    const took = Date.now() - started;
    expect(r).toMatchObject({ ok: false, reason: 'HTTP timeout occurred', tries: 3 });
    expect(srv.requests.length).toBe(3);
    expect(took).toBeGreaterThanOrEqual(590);
    // A later try that passes makes the attempt pass.
    let n = 0;
    srv.handler = (_q, res) => {
      if (++n === 3) res.end('ok');
      else res.destroy();
    };
    expect(await probeAttempt(t({ retries: 2 }), 500, 2)).toMatchObject({ ok: true, tries: 3 });
  });

  it('maps a refused connection to "TCP connection failed"', async () => {
    const port = await closedPort(HOST);
    expect(await probeHttp(target(monitor({ port }), origin({ address: HOST })), 1000)).toMatchObject({
      ok: false,
      reason: 'TCP connection failed',
    });
  });

  describe('broken servers', () => {
    let raw: Closable | null = null;
    afterEach(async () => {
      await raw?.close();
      raw = null;
    });
    const rawTarget = (port: number) => target(monitor({ port }), origin({ address: HOST }));

    it('garbage instead of HTTP → "HTTP Invalid Response"', async () => {
      raw = await listenNet(HOST, (c) => c.once('data', () => c.end('SSH-2.0-OpenSSH\r\n\r\n')));
      expect(await probeHttp(rawTarget(raw.port), 1000)).toMatchObject({ ok: false, reason: 'HTTP Invalid Response' });
    });

    it('close without an answer → "HTTP Invalid Response"', async () => {
      raw = await listenNet(HOST, (c) => c.once('data', () => c.end()));
      expect(await probeHttp(rawTarget(raw.port), 1000)).toMatchObject({ ok: false, reason: 'HTTP Invalid Response' });
    });

    it('RST after the request → "Connection Reset by Peer"', async () => {
      raw = await listenNet(HOST, (c) => c.once('data', () => c.resetAndDestroy()));
      expect(await probeHttp(rawTarget(raw.port), 1000)).toMatchObject({ ok: false, reason: 'Connection Reset by Peer' });
    });
  });

  it('probes an IPv6 endpoint with a bracketed Host header', async () => {
    let v6: Awaited<ReturnType<typeof listenHttp>>;
    try {
      v6 = await listenHttp('::1');
    } catch {
      return; // no IPv6 loopback in this environment
    }
    const r = await probeHttp(target(monitor({ port: v6.port }), origin({ address: '::1' })), 1000);
    expect(r).toMatchObject({ ok: true, responseCode: 200 });
    expect(v6.requests[0].host).toBe(`[::1]:${v6.port}`);
    await v6.close();
  });

  it('an unresolvable host name → "DNS Unknown Host"', async () => {
    const r = await probeHttp(target(monitor({ port: 80 }), origin({ address: 'does-not-exist.invalid' })), 3000);
    expect(r).toMatchObject({ ok: false, reason: 'DNS Unknown Host' });
  });
});

describe('HTTPS probe', () => {
  const servers: Closable[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
  });
  const ca = [TEST_CA()];

  it('untrusted certificate → "TLS untrusted certificate error"; allow_insecure passes', async () => {
    const s = await listenHttp('127.0.0.1', tlsServerOptions('self'));
    servers.push(s);
    const m = monitor({ type: 'https', port: s.port });
    expect(await probeHttp(target(m, origin({ address: '127.0.0.1' })), 1000)).toMatchObject({
      ok: false,
      reason: 'TLS untrusted certificate error',
    });
    // Signed by a CA we do not trust either.
    const s2 = await listenHttp('127.0.0.1', tlsServerOptions('server'));
    servers.push(s2);
    expect(await probeHttp(target(monitor({ type: 'https', port: s2.port }), origin({ address: '127.0.0.1' })), 1000)).toMatchObject({
      reason: 'TLS untrusted certificate error',
    });
    const insecure = monitor({ type: 'https', port: s.port, allow_insecure: true });
    expect(await probeHttp(target(insecure, origin({ address: '127.0.0.1' })), 1000)).toMatchObject({ ok: true, responseCode: 200 });
  });

  it('a trusted certificate passes by IP (no SNI) and by Host name (SNI), and a wrong Host is a name mismatch', async () => {
    const s = await listenHttp('127.0.0.1', tlsServerOptions('server'));
    servers.push(s);
    const m = monitor({ type: 'https', port: s.port });
    const byIp = await probeHttp(target(m, origin({ address: '127.0.0.1' })), 1000, { ca });
    expect(byIp).toMatchObject({ ok: true, responseCode: 200 });
    const byName = await probeHttp(target(m, origin({ address: '127.0.0.1', header: { Host: ['api.good.test'] } })), 1000, { ca });
    expect(byName).toMatchObject({ ok: true });
    expect(s.requests.map((h) => h.host)).toEqual(['127.0.0.1:' + s.port, 'api.good.test']);
    const wrong = await probeHttp(target(m, origin({ address: '127.0.0.1', header: { Host: ['www.example.com'] } })), 1000, { ca });
    expect(wrong).toMatchObject({ ok: false, reason: 'TLS name mismatch error' });
  });

  it('sends the Host name as SNI and no SNI for an IP', async () => {
    const tls = await import('node:tls');
    const seen: Array<string | null> = [];
    const opts = tlsServerOptions('server');
    const server = tls.createServer({
      ...opts,
      SNICallback: (name, cb) => {
        seen.push(name);
        cb(null, tls.createSecureContext(opts));
      },
    }, (sock) => {
      sock.on('error', () => undefined);
      sock.once('data', () => sock.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'));
    });
    server.on('secureConnection', (sock) => {
      if (!(sock as unknown as { servername?: string | false }).servername) seen.push(null);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as import('node:net').AddressInfo).port;
    const m = monitor({ type: 'https', port });
    await probeHttp(target(m, origin({ address: '127.0.0.1', header: { Host: ['x.good.test:8443'] } })), 1000, { ca });
    await probeHttp(target(m, origin({ address: '127.0.0.1' })), 1000, { ca });
    await new Promise<void>((r) => server.close(() => r()));
    expect(seen).toEqual(['x.good.test', null]);
  });

  it('plain HTTP on an HTTPS monitor → "TLS protocol error"', async () => {
    // What a plain HTTP server answers to a ClientHello.
    const s = await listenNet('127.0.0.1', (c) => c.once('data', () => c.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')));
    servers.push(s);
    expect(await probeHttp(target(monitor({ type: 'https', port: s.port }), origin({ address: '127.0.0.1' })), 1000)).toMatchObject({
      ok: false,
      reason: 'TLS protocol error',
    });
  });

  it('TLS alerts: unrecognized_name → "TLS unrecognized name error", handshake_failure → "TLS Handshake Failure"', async () => {
    const alert = async (code: number) => {
      const raw = await listenNet('127.0.0.1', (c) => c.once('data', () => c.end(Buffer.from([0x15, 3, 1, 0, 2, 2, code]))));
      servers.push(raw);
      return probeHttp(target(monitor({ type: 'https', port: raw.port }), origin({ address: '127.0.0.1', header: { Host: ['a.good.test'] } })), 1000);
    };
    expect((await alert(112)).reason).toBe('TLS unrecognized name error');
    expect((await alert(40)).reason).toBe('TLS Handshake Failure');
    expect((await alert(70)).reason).toBe('TLS protocol error');
  });

  it('a server that never completes the handshake → "TLS Handshake Failure" at the timeout', async () => {
    const raw = await listenNet('127.0.0.1', () => undefined);
    servers.push(raw);
    expect(await probeHttp(target(monitor({ type: 'https', port: raw.port }), origin({ address: '127.0.0.1' })), 300)).toMatchObject({
      ok: false,
      reason: 'TLS Handshake Failure',
    });
  });

  it('follows an http → https redirect on the same host to the same endpoint', async () => {
    const s = await listenHttp('127.0.0.1', tlsServerOptions('server'));
    servers.push(s);
    const plain = await listenHttp('127.0.0.1');
    servers.push(plain);
    plain.handler = (_q, res) => {
      res.writeHead(301, { Location: `https://app.good.test:${s.port}/secure` });
      res.end();
    };
    const m = monitor({ type: 'http', port: plain.port, follow_redirects: true, header: { Host: ['app.good.test'] } });
    const r = await probeHttp(target(m, origin({ address: '127.0.0.1' })), 1000, { ca });
    expect(r).toMatchObject({ ok: true, responseCode: 200 });
    expect(s.requests[s.requests.length - 1].host).toBe(`app.good.test:${s.port}`);
    expect(s.paths[s.paths.length - 1]).toBe('/secure');
  });
});
