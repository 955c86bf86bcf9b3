// A reload lets go of the previous runtime (issue 10: RSS after reloads). The query context of a data plane keeps
// working memory from one query to the next; after a reload nothing in it may still point into the old runtime, or
// an idle server keeps the whole previous config and runtime alive (about 100 MB for 10,000 load balancers).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Runtime } from '../../src/runtime';
import { aOf } from '../helpers/endpoints';
import { query, sleep, startServer } from '../helpers/server';

// A full GC on demand, for this test only (the server never forces one: it would stall the query path).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const config = (ttl: number): string => `
server:
  listen: ["127.0.0.1:0"]
  http: null
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 127.0.0.53 }
      - { name: mail, type: A, value: 127.0.0.25 }
      - { name: "@", type: MX, value: "10 mail" }
pools:
  p1:
    origins:
      - { name: a, address: 127.0.0.1 }
      - { name: b, address: 127.0.0.2 }
load_balancers:
  - name: www.example.com
    default_pools: [p1]
    ttl: ${ttl}
    steering_policy: random
`;

/**
 * Weak references to the parts of a runtime a query touches: its zones (the authority finds a zone and a node), its
 * load balancers and pools (steering), its config. The runtime object itself is only a record of these: nothing
 * on the query path points at it.
 */
function partsOf(runtime: Runtime | null): Map<string, WeakRef<object>> {
  if (runtime === null) throw new Error('not serving');
  return new Map<string, WeakRef<object>>([
    ['runtime', new WeakRef(runtime)],
    ['zones', new WeakRef(runtime.zones)],
    ['a load balancer', new WeakRef([...runtime.balancers.values()][0])],
    ['a pool', new WeakRef([...runtime.pools.values()][0])],
    ['config', new WeakRef(runtime.config)],
  ]);
}

/** What of `parts` is still reachable after full collections (a WeakRef is only cleared between tasks). */
async function survivors(parts: Map<string, WeakRef<object>>): Promise<string[]> {
  const alive = () => [...parts].filter(([, r]) => r.deref() !== undefined).map(([what]) => what);
  for (let i = 0; i < 5 && alive().length > 0; i++) {
    await sleep(10);
    gc();
  }
  return alive();
}

test('after a reload, the runtime that answered the last queries is garbage', async () => {
  const srv = await startServer(config(30));
  try {
    // Steering (the load balancer's working memory), a static answer with ADDITIONAL, and NXDOMAIN.
    expect(['127.0.0.1', '127.0.0.2']).toEqual(expect.arrayContaining(await aOf(srv.port, 'www.example.com')));
    await query(srv.port, 'example.com', { type: 'MX' });
    await query(srv.port, 'nope.example.com');
    await aOf(srv.port, 'www.example.com');
    // Only weakly held here: a local variable would keep it alive itself.
    const first = partsOf(srv.plane.runtime);
    expect(await srv.reload(config(60))).toBe(true);
    expect(srv.plane.runtime).not.toBe(first.get('runtime')?.deref());
    expect(await survivors(first)).toEqual([]);
    // The new runtime answers, and it too is let go by the next reload.
    expect((await aOf(srv.port, 'www.example.com')).length).toBeGreaterThan(0);
    const second = partsOf(srv.plane.runtime);
    expect(await srv.reload(config(30))).toBe(true);
    expect(await survivors(second)).toEqual([]);
  } finally {
    await srv.stop();
  }
});
