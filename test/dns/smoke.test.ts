import { answers, query, rcodeOf, startServer, TestServer, flagOf } from '../helpers/server';

const YAML = `
server: { listen: ["127.0.0.1:0"], http: null }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: www, type: A, values: [192.0.2.1, 192.0.2.2] }
pools:
  p1: { origins: [ { address: 192.0.2.10 }, { address: 192.0.2.11 } ] }
load_balancers:
  - { name: lb.example.com, default_pools: [p1] }
`;

let s: TestServer;
beforeAll(async () => { s = await startServer(YAML); });
afterAll(async () => { await s.stop(); });

test('static and LB answers over UDP', async () => {
  const r = await query(s.port, 'www.example.com');
  expect(rcodeOf(r.packet)).toBe('NOERROR');
  expect(flagOf(r.raw, 'aa')).toBe(true);
  expect(answers(r.packet, 'A')).toEqual(['192.0.2.1', '192.0.2.2']);
  const lb = await query(s.port, 'lb.example.com');
  expect(answers(lb.packet, 'A')).toEqual(['192.0.2.10', '192.0.2.11']);
  expect((lb.packet.answers![0] as { ttl?: number }).ttl).toBe(30);
  const nx = await query(s.port, 'nope.example.com');
  expect(rcodeOf(nx.packet)).toBe('NXDOMAIN');
});
