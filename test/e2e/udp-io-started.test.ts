// The "steerdns started" log line names the UDP path that answers (server.udp_io, or STEERDNS_UDP_IO over it), for one
// process and for a cluster: bench/run.js reads it to make sure it measures the path it was asked for.
import * as path from 'node:path';
import { writeFileSync } from 'node:fs';
import { loadBatchedUdp } from '../../src/dns/server/udp-batched';
import { query, rcodeOf, spawnServer, tmpDir, type ProcessServer } from '../helpers/server';
import { ensureBuilt } from '../cli/run';

beforeAll(ensureBuilt, 120000);

const dir = tmpDir('steerdns-udp-io-');
const config = (extra: string) => {
  const file = path.join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, `server: { listen: ["127.0.0.1:0"], http: null${extra} }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
`);
  return file;
};

/** Spawns with STEERDNS_UDP_IO set (or unset) for this child only; returns the started line's udp_io and workers. */
async function started(file: string, env: string | undefined): Promise<{ udp_io?: unknown; workers?: unknown; answered: string }> {
  const childEnv = { ...process.env };
  if (env === undefined) delete childEnv.STEERDNS_UDP_IO;
  else childEnv.STEERDNS_UDP_IO = env;
  const s: ProcessServer = await spawnServer(file, 30000, [], childEnv);
  try {
    const line = s.stderr().split('\n').find((l) => l.includes('"steerdns started"')) ?? '{}';
    const r = await query(s.port, 'ns1.example.com', { type: 'A' });
    return { ...(JSON.parse(line) as { udp_io?: unknown; workers?: unknown }), answered: rcodeOf(r.packet) };
  } finally {
    await s.stop();
  }
}

const native = loadBatchedUdp().binding !== null;
const withModule = native ? test : test.skip;

test('udp_io: dgram in the config is reported as dgram', async () => {
  expect(await started(config(', udp_io: dgram'), undefined)).toMatchObject({ udp_io: 'dgram', answered: 'NOERROR' });
}, 40000);

withModule('STEERDNS_UDP_IO=batched overrides udp_io: dgram, and the line says so', async () => {
  expect(await started(config(', udp_io: dgram'), 'batched')).toMatchObject({ udp_io: 'batched', answered: 'NOERROR' });
}, 40000);

withModule('workers: 2 reports the workers\' path (batched, SO_REUSEPORT; dgram, the shared handle)', async () => {
  expect(await started(config(', workers: 2'), 'batched')).toMatchObject({ udp_io: 'batched', workers: 2, answered: 'NOERROR' });
  expect(await started(config(', workers: 2'), 'dgram')).toMatchObject({ udp_io: 'dgram', workers: 2, answered: 'NOERROR' });
}, 80000);
