// Listening on IPv6 loopback as well as IPv4: both transports on both addresses, independent ports.
import { Resolver } from 'node:dns/promises';
import { startServer, tcpExchange, TestServer, udpExchange } from '../helpers/server';
import { decodeBoth, lines } from './oracle';
import { rawQuery } from './packets';
import { parseTool, run } from './tools';

const YAML = `
server: { listen: ["127.0.0.1:0", "[::1]:0"], http: null }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: www, type: AAAA, value: "2001:db8::1" }
`;

let s: TestServer;
let port6: number;
beforeAll(async () => {
  s = await startServer(YAML);
  const bound = s.plane.boundPorts;
  expect(bound.map((b) => b.address)).toEqual(['127.0.0.1', '::1']);
  port6 = bound[1].port;
});
afterAll(async () => {
  await s.stop();
});

test('UDP and TCP over ::1', async () => {
  const q = rawQuery({ id: 61, questions: [{ name: 'www.example.com', type: 28 }] });
  const u = decodeBoth(await udpExchange(port6, q, { host: '::1' }));
  expect([u.id, lines(u.answer)]).toEqual([61, ['www.example.com AAAA 2001:db8::1']]);
  const [t] = await tcpExchange(port6, [q], { host: '::1' });
  expect(lines(decodeBoth(t).answer)).toEqual(['www.example.com AAAA 2001:db8::1']);
});

test('Node resolver and kdig over ::1', async () => {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`[::1]:${port6}`]);
  expect(await r.resolve6('www.example.com')).toEqual(['2001:db8::1']);
  const res = parseTool((await run('kdig', ['@::1', '-p', String(port6), 'www.example.com', 'AAAA', '+tcp'])).stdout);
  expect(res.status).toBe('NOERROR');
  expect(res.answer.map((a) => a.data)).toEqual(['2001:db8::1']);
});
