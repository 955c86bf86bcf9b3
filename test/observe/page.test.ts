// The status page's HTTP side (observe/page.ts, observe/http.ts), over real sockets against the real server:
//   - with http_token: `/` answers 401 with the sign-in form (no data) and the page's own files need the token too,
//     as a bearer header or the steerdns_token cookie; the sign-in form's files are public; the cookie opens the API;
//   - without a token: the page for loopback clients only (the peer check);
//   - CSP and the other headers that keep the page's data on the page;
//   - /api/stream: server-sent events, one per health event as it happens, at most MAX_STREAMS at once.
import * as http from 'node:http';
import { openEndpoints, until, wwwPoolYaml, ZONE, type Endpoint } from '../helpers/endpoints';
import { request } from '../helpers/http';
import { startServer, type TestServer } from '../helpers/server';
import { MAX_STREAMS } from '../../src/observe/http';
import { isLoopbackPeer } from '../../src/observe/page';

const TOKEN = 'pg-t0ken';
const BASE = `server:\n  listen: ["127.0.0.1:0"]\n  http: "127.0.0.1:0"\n${ZONE}\n`;

/** Opens /api/stream and collects what arrives. */
function stream(port: number, headers: Record<string, string> = {}): Promise<{ res: http.IncomingMessage; text: () => string; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/api/stream', headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('error', () => undefined);
      resolve({ res, text: () => text, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

describe('status page over HTTP', () => {
  let srv: TestServer | null = null;
  let endpoints: Endpoint[] = [];
  afterEach(async () => {
    await srv?.stop();
    srv = null;
    await Promise.all(endpoints.map((e) => e.stop()));
    endpoints = [];
  });

  test('with http_token: a sign-in form without data, files and API by bearer or cookie', async () => {
    srv = await startServer(BASE.replace('http: "127.0.0.1:0"', `http: "127.0.0.1:0"\n  http_token: ${TOKEN}`));
    const hp = srv.server.statusPort;
    const login = await request(hp, '/');
    expect(login.status).toBe(401);
    expect(login.headers['content-type']).toMatch(/^text\/html/);
    expect(login.headers['content-security-policy']).toContain("script-src 'self'");
    expect(login.body).toContain('id="login"');
    expect(login.body).not.toContain('example.com');
    expect((await request(hp, '/ui/app.js')).status).toBe(401);
    expect((await request(hp, '/ui/uplot.js')).status).toBe(401);
    expect((await request(hp, '/ui/login.js')).status).toBe(200); // the form's own files hold no data
    expect((await request(hp, '/ui/style.css')).status).toBe(200);
    expect((await request(hp, '/', { cookie: 'steerdns_token=wrong' })).status).toBe(401);
    const page = await request(hp, '/', { cookie: `other=1; steerdns_token=${encodeURIComponent(TOKEN)}` });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<script src="/ui/app.js">');
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect((await request(hp, '/', { token: TOKEN })).status).toBe(200);
    const js = await request(hp, '/ui/uplot.js', { token: TOKEN });
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.body).toContain('uPlot');
    // The cookie opens the API as the header does (the page's fetches carry it).
    expect((await request(hp, '/api/overview', { cookie: `steerdns_token=${TOKEN}` })).status).toBe(200);
    expect((await request(hp, '/api/overview')).status).toBe(401);
    expect((await request(hp, '/metrics', { cookie: 'steerdns_token=%E0%A4%A' })).status).toBe(401); // bad escape
  });

  test('without a token the page is for loopback clients', async () => {
    srv = await startServer(BASE);
    const page = await request(srv.server.statusPort, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>steerdns status</title>');
    const peer = (remoteAddress: string) => ({ socket: { remoteAddress } }) as unknown as http.IncomingMessage;
    expect(isLoopbackPeer(peer('127.0.0.1'))).toBe(true);
    expect(isLoopbackPeer(peer('127.9.8.7'))).toBe(true);
    expect(isLoopbackPeer(peer('::1'))).toBe(true);
    expect(isLoopbackPeer(peer('::ffff:127.0.0.1'))).toBe(true);
    expect(isLoopbackPeer(peer('10.0.0.1'))).toBe(false);
    expect(isLoopbackPeer(peer('::ffff:10.0.0.1'))).toBe(false);
    expect(isLoopbackPeer(peer('2001:db8::1'))).toBe(false);
  });

  test('/api/stream sends each health event as it happens; streams are capped', async () => {
    endpoints = await openEndpoints(['127.0.17.2', '127.0.17.3']);
    const [e1, e2] = endpoints;
    srv = await startServer(`${BASE}${wwwPoolYaml(e1.port, [e1.address, e2.address], { interval: 1, timeout: 1 })}`);
    const hp = srv.server.statusPort;
    await until('ready', async () => srv!.server.readiness().ready, (r) => r, 5000);
    const s = await stream(hp);
    expect(s.res.headers['content-type']).toMatch(/^text\/event-stream/);
    e1.status = 500;
    const text = await until('health event on the stream', async () => s.text(), (t) => t.includes('event: health'), 5000);
    const data = /event: health\ndata: (.*)\n\n/.exec(text)?.[1] ?? '';
    expect(JSON.parse(data)).toMatchObject({ pool: { name: 'P1' }, cause: { origin: 'e1' } });
    // MAX_STREAMS at once; the next one is refused in the API's error shape.
    const more = await Promise.all(Array.from({ length: MAX_STREAMS - 1 }, () => stream(hp)));
    const refused = await request(hp, '/api/stream');
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toMatchObject({ success: false });
    for (const m of [s, ...more]) m.close();
    await until('a stream slot again', async () => (await stream(hp)).res.statusCode, (c) => c === 200, 3000);
  });
});
