// Key rollovers as `steerdns dnssec rollover` schedules them (RFC 7583 timing, here with TTLs of 4 seconds),
// with the parent zone served by the same steerdns: its DS records for the child change by reload, as a registry
// would change them. Unbound (trust anchor: the parent's DS) keeps its cache across the whole roll and is asked
// every few hundred milliseconds; delv checks each step from scratch. Validation must hold at every moment.
// Needs `npm run build` (the config thread and the CLI run from dist/).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, sleep, startServer, tmpDir, type TestServer } from '../helpers/server';
import { readZoneKeys } from '../../src/dnssec/keyfile';
import { keyTag } from '../../src/dnssec/keys';
import { delv, dig, dsLinesOf, Unbound } from './validators';

const PARENT = 'example.com';
const CHILD = 'lb.example.com';
const CLI = path.join(ROOT, 'dist', 'cli.js');
const cli = (...args: string[]): string => execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

interface Setup {
  dir: string;
  configPath: string;
  mode: 'csk' | 'ksk+zsk';
  childDs: string[];
}

function yaml(s: Setup): string {
  const ds = s.childDs.map((l) => JSON.stringify(l.trim().split(/\s+/).slice(-4).join(' ')));
  const timing = 'dnskey_ttl: 4, propagation_delay: 3, parent_ds_ttl: 5';
  return `
server:
  listen: ["127.0.0.1:0"]
  http: null
zones:
  - name: ${PARENT}
    ns: [ns1.${PARENT}]
    default_ttl: 4
    soa: { ttl: 4, minimum: 4 }
    dnssec: { key_directory: ${path.join(s.dir, 'parent-keys')}, ${timing} }
    records:
      - { name: ns1, type: A, value: 127.0.0.1 }
      - { name: lb, type: NS, value: ns1.lb }
      - { name: ns1.lb, type: A, value: 127.0.0.1 }
${ds.length > 0 ? `      - { name: lb, type: DS, ttl: 4, values: [${ds.join(', ')}] }` : ''}
  - name: ${CHILD}
    ns: [ns1.${CHILD}]
    default_ttl: 4
    soa: { ttl: 4, minimum: 4 }
    dnssec: { key_directory: ${path.join(s.dir, 'child-keys')}, keys: ${s.mode}, ${timing} }
    records:
      - { name: ns1, type: A, value: 127.0.0.1 }
      - { name: www, type: A, value: 192.0.2.80 }
pools:
  p: { origins: [ { name: a, address: 192.0.2.10 }, { name: b, address: 192.0.2.11 } ] }
load_balancers:
  - { name: geo.${CHILD}, default_pools: [p], ttl: 4 }
`;
}

/**
 * Asks Unbound a few names every 300 ms until stopped; records every answer that is not validated (SERVFAIL, or
 * no AD). An answer that does not come within 15 s is counted apart: on a loaded 2-core machine it says nothing
 * about validation (a bogus answer would come back as SERVFAIL well within that time).
 */
function watch(unbound: Unbound): { failures: string[]; timeouts: number; asked: number; stop(): Promise<void> } {
  const state = { failures: [] as string[], timeouts: 0, asked: 0, running: true };
  const loop = (async () => {
    while (state.running) {
      for (const [name, type] of [[`www.${CHILD}`, 'A'], [`geo.${CHILD}`, 'A'], [`nope.${CHILD}`, 'A']]) {
        const r = await unbound.query(name, type, ['+time=15']);
        state.asked++;
        if (r.status === '') state.timeouts++;
        else if (!r.flags.includes('ad') || (r.status !== 'NOERROR' && r.status !== 'NXDOMAIN')) state.failures.push(`${new Date().toISOString()} ${name} ${type}: ${r.status} ${r.flags.join(' ')}`);
      }
      await sleep(300);
    }
  })();
  return {
    get failures() { return state.failures; },
    get timeouts() { return state.timeouts; },
    get asked() { return state.asked; },
    async stop() {
      state.running = false;
      await loop;
    },
  };
}

function until(t: number): Promise<void> {
  return sleep(Math.max(0, t * 1000 - Date.now()));
}

async function published(port: number): Promise<number[]> {
  const r = await dig(port, CHILD, 'DNSKEY');
  return r.answer.filter((l) => l.split(' ')[3] === 'DNSKEY').map((l) => {
    const f = l.split(' ');
    const i = 3;
    const head = Buffer.from([0, 0, 3, Number(f[i + 3])]);
    head.writeUInt16BE(Number(f[i + 1]), 0);
    return keyTag(Buffer.concat([head, Buffer.from(f.slice(i + 4).join(''), 'base64')]));
  }).sort((a, b) => a - b);
}

async function signerTags(port: number, name: string, type: string): Promise<number[]> {
  const r = await dig(port, name, type);
  return r.answer.filter((l) => l.split(' ')[3] === 'RRSIG').map((l) => Number(l.split(' ')[10])).sort((a, b) => a - b);
}

describe.each(['csk', 'ksk+zsk'] as const)('rollover (%s)', (mode) => {
  let srv: TestServer;
  let unbound: Unbound;
  let parentDs: string[];
  const s: Setup = { dir: tmpDir(), configPath: '', mode, childDs: [] };
  s.configPath = path.join(s.dir, 'steerdns.yaml');

  const setChildDs = async (): Promise<void> => {
    s.childDs = dsLinesOf(cli('dnssec', 'ds', '--zone', CHILD, '-c', s.configPath));
    writeFileSync(s.configPath, yaml(s));
    expect(await srv.reload(yaml(s))).toBe(true);
  };
  const delvOk = async (name: string, type: string) => {
    const r = await delv(srv.port, name, type, parentDs, PARENT);
    if (!r.out.includes('fully validated')) throw new Error(`delv ${name} ${type}:\n${r.out}`);
  };

  beforeAll(async () => {
    writeFileSync(s.configPath, yaml(s));
    cli('dnssec', 'keygen', '--zone', PARENT, '-c', s.configPath);
    cli('dnssec', 'keygen', '--zone', CHILD, '-c', s.configPath);
    s.childDs = dsLinesOf(cli('dnssec', 'ds', '--zone', CHILD, '-c', s.configPath));
    writeFileSync(s.configPath, yaml(s));
    parentDs = dsLinesOf(cli('dnssec', 'ds', '--zone', PARENT, '-c', s.configPath));
    srv = await startServer(yaml(s));
    unbound = await Unbound.start(srv.port, parentDs, { zones: [PARENT, CHILD] });
  }, 60000);

  afterAll(async () => {
    await unbound?.stop();
    await srv?.stop();
  });

  test('the chain validates from the parent\'s anchor', async () => {
    await delvOk(`www.${CHILD}`, 'A');
    await delvOk(`geo.${CHILD}`, 'A');
    const r = await unbound.query(`www.${CHILD}`, 'A');
    expect(r.flags).toContain('ad');
  });

  const roles = mode === 'csk' ? ['csk'] : ['zsk', 'ksk'];
  test.each(roles)('%s: pre-publish (or double-DS), switch, retire — validated throughout', async (role) => {
    const w = watch(unbound);
    try {
      const before = await published(srv.port);
      const oldKsk = role === 'ksk' ? (await signerTags(srv.port, CHILD, 'DNSKEY'))[0] : -1;
      const out = cli('dnssec', 'rollover', '--zone', CHILD, '-c', s.configPath, '--role', role);
      const newTag = Number(/→ (\d+)/.exec(out)?.[1]);
      const keys = readZoneKeys(path.join(s.dir, 'child-keys'), CHILD, false).keys;
      const next = keys.find((k) => k.tag === newTag)!;
      const old = keys.find((k) => k.tag !== newTag && k.sep === next.sep && k.timing.inactive !== null)!;
      const switchAt = next.timing.activate!;
      expect(old.timing.inactive).toBe(switchAt);
      expect(await srv.reload()).toBe(true);
      // The parent takes the DS records `dnssec ds` lists now (the new KSK/CSK's joins the old one's).
      if (role !== 'zsk') await setChildDs();
      const step = async (what: string): Promise<void> => {
        await delvOk(`www.${CHILD}`, 'A');
        await delvOk(`geo.${CHILD}`, 'A');
        const nx = await delv(srv.port, `nope.${CHILD}`, 'A', parentDs, PARENT);
        if (!nx.out.includes('fully validated')) throw new Error(`${what}: delv nope:\n${nx.out}`);
      };
      const pub1 = await published(srv.port);
      expect(Date.now() / 1000).toBeLessThan(switchAt); // the test itself was fast enough to see this step
      if (role === 'ksk') expect(pub1).toEqual(before); // double-DS: the new KSK is not in the DNSKEY RRset yet
      else expect(pub1).toEqual([...before, newTag].sort((a, b) => a - b)); // pre-publication
      await step('published');

      await until(switchAt + 1.5); // the upkeep reads the key timing every second
      const dataSigner = await signerTags(srv.port, `www.${CHILD}`, 'A');
      const keySigner = await signerTags(srv.port, CHILD, 'DNSKEY');
      if (role === 'ksk') {
        expect(keySigner).toEqual([newTag]);
        // Double-DS: the KSKs swap in the DNSKEY RRset in one step.
        expect(await published(srv.port)).toEqual([...before.filter((t) => t !== oldKsk), newTag].sort((a, b) => a - b));
      } else {
        expect(dataSigner).toEqual([newTag]);
        expect(await published(srv.port)).toEqual([...before, newTag].sort((a, b) => a - b)); // the old key retired, still published
      }
      await step('switched');
      if (role !== 'ksk') expect(Date.now() / 1000).toBeLessThan(old.timing.delete!);

      // The parent drops the DS records `dnssec ds` no longer lists; then the old key leaves the DNSKEY RRset.
      if (role !== 'zsk') {
        await until(old.timing.syncDelete! + 0.2);
        await setChildDs();
        expect(s.childDs).toHaveLength(1);
        expect(s.childDs[0]).toContain(` ${newTag} `);
      }
      await until(old.timing.delete! + 1.5);
      const after = await published(srv.port);
      expect(after).toContain(newTag);
      expect(after).not.toContain(old.tag);
      expect(after).toHaveLength(before.length);
      await step('retired');
      await sleep(1000);
    } finally {
      await w.stop();
    }
    if (w.failures.length > 0) console.log(w.failures.join('\n'), unbound.logs.split('\n').slice(-100).join('\n'), srv.logs.slice(-30).join('\n'));
    expect(w.failures).toEqual([]);
    expect(w.asked - w.timeouts).toBeGreaterThan(15);
  }, 90000);
});
