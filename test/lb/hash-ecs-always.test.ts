// Hash endpoint steering under location_strategy.prefer_ecs: always with a non-geo policy (issue 11): the ECS
// address *is* the client, so the rendezvous-hash key and the answer's ECS scope follow it. Before, the key was the
// resolver's address: 200 different ECS /24s from one resolver all got the same endpoint.
import { answers, ecsOf, query, startServer, type TestServer } from '../helpers/server';

let s: TestServer;
beforeAll(async () => {
  s = await startServer(`
server: { listen: ["127.0.0.1:0"], http: null }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
pools:
  H:
    origin_steering: { policy: hash }
    origins:
      - { name: a, address: 192.0.2.1, weight: 1 }
      - { name: b, address: 192.0.2.2, weight: 1 }
      - { name: c, address: 192.0.2.3, weight: 2 }
load_balancers:
  - { name: always.example.com, default_pools: [H], steering_policy: "off", location_strategy: { prefer_ecs: always } }
  - { name: resolver.example.com, default_pools: [H], steering_policy: "off", location_strategy: { prefer_ecs: never } }
`);
});
afterAll(() => s.stop());

test('prefer_ecs: always — 200 ECS /24s from one resolver spread over the endpoints, each stable, scope /24', async () => {
  const seen = new Map<string, string>();
  for (let i = 0; i < 200; i++) {
    const ecs = `10.${i >> 4}.${(i * 17) & 255}.0/24`;
    const r = await query(s.port, 'always.example.com', { ecs });
    const a = answers(r.packet, 'A');
    expect(a).toHaveLength(1);
    expect(ecsOf(r.packet)?.scopePrefixLength).toBe(24);
    seen.set(ecs, a[0]);
  }
  const counts = new Map<string, number>();
  for (const a of seen.values()) counts.set(a, (counts.get(a) ?? 0) + 1);
  expect(counts.size).toBe(3);
  // The same client gets the same endpoint again.
  for (const [ecs, a] of [...seen].slice(0, 20)) expect(answers((await query(s.port, 'always.example.com', { ecs })).packet, 'A')).toEqual([a]);
});

test('prefer_ecs: never — the resolver is the client: one endpoint for every ECS, scope 0', async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const r = await query(s.port, 'resolver.example.com', { ecs: `10.${i}.0.0/24` });
    seen.add(answers(r.packet, 'A').join());
    expect(ecsOf(r.packet)?.scopePrefixLength).toBe(0);
  }
  expect(seen.size).toBe(1);
});
