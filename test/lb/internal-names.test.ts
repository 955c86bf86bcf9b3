// Hostname endpoints and MX targets that our own zones answer through a wildcard or a CNAME.
import { answers, query, rcodeOf, sleep, startServer, TestServer } from '../helpers/server';

const YAML = `
server: { listen: ["127.0.0.1:0"], http: null }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: "*.w", type: A, value: 192.0.2.66 }
      - { name: cn, type: CNAME, value: real.example.com. }
      - { name: real, type: A, value: 192.0.2.67 }
      - { name: "@", type: MX, value: "10 mx.lbw.example.com." }
pools:
  HW: { origins: [ { address: foo.w.example.com } ] }
  HC: { origins: [ { address: cn.example.com } ] }
  P1: { origins: [ { address: 192.0.2.1 } ] }
load_balancers:
  - { name: hw.example.com, default_pools: [HW] }
  - { name: hc.example.com, default_pools: [HC] }
  - { name: "*.lbw.example.com", default_pools: [P1] }
`;

let s: TestServer;
beforeAll(async () => {
  s = await startServer(YAML);
});
afterAll(() => s.stop());

async function settle(name: string): Promise<string[]> {
  for (let i = 0; i < 50; i++) {
    const r = await query(s.port, name);
    const a = answers(r.packet, 'A');
    if (a.length > 0) return a;
    await sleep(50);
  }
  return [];
}

test('a hostname endpoint covered by a wildcard in our zone resolves to the wildcard\'s address', async () => {
  expect(await settle('hw.example.com')).toEqual(['192.0.2.66']);
});

test('a hostname endpoint that is a CNAME in our zone resolves through the chain', async () => {
  expect(await settle('hc.example.com')).toEqual(['192.0.2.67']);
});

test('an MX target covered by a wildcard load balancer gets its steered address in ADDITIONAL', async () => {
  const r = await query(s.port, 'example.com', { type: 'MX' });
  expect(rcodeOf(r.packet)).toBe('NOERROR');
  const add = (r.packet.additionals ?? []).filter((a) => a.type === 'A').map((a) => `${a.name} ${(a as { data: string }).data}`);
  expect(add).toEqual(['mx.lbw.example.com 192.0.2.1']);
});
