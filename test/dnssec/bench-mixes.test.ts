// The DO=1 mixes of bench/run.js answer what they claim to exercise (RRSIGs from the signed bench zone, the pool
// each ECS subnet should get), checked with run.js's own answer checks, without dnsperf. Needs `npm run build`.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, startServer, tmpDir } from '../helpers/server';

interface Mix { name: string; dnssec?: boolean }
interface Check { ok: boolean; problems: string[] }
const run = require(path.join(ROOT, 'bench', 'run.js')) as { MIXES: Mix[]; checkAnswers(mix: Mix, port: number): Promise<Check> };
const setup = require(path.join(ROOT, 'bench', 'dnssec-setup.js')) as { signedConfigText(text: string, dir: string, dist: string): string };

const bench = readFileSync(path.join(ROOT, 'bench', 'configs', 'bench.yaml'), 'utf8')
  .replace('database: ../../geoip/test/city.mmdb', `database: ${path.join(ROOT, 'geoip', 'test', 'city.mmdb')}`);

test.each([false, true])('bench mixes answer as they should (zone signed: %s)', async (signed) => {
  const yaml = signed ? setup.signedConfigText(bench, tmpDir(), path.join(ROOT, 'dist')) : bench;
  const srv = await startServer(yaml);
  try {
    const mixes = run.MIXES.filter((m) => Boolean(m.dnssec) === signed);
    expect(mixes.length).toBeGreaterThanOrEqual(2);
    for (const mix of mixes) {
      const check = await run.checkAnswers(mix, srv.port);
      expect({ mix: mix.name, problems: check.problems }).toEqual({ mix: mix.name, problems: [] });
    }
  } finally {
    await srv.stop();
  }
}, 60000);
