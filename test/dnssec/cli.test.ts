// `steerdns dnssec …` and `steerdns check` on a signed zone, as an operator runs them (dist/cli.js), and the
// signing metrics of a running server. Needs `npm run build`.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as dnsPacket from 'dns-packet';
import { ROOT, startServer, tmpDir, udpExchange } from '../helpers/server';
import { dsLinesOf } from './validators';

const CLI = path.join(ROOT, 'dist', 'cli.js');
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const cli = (...args: string[]): string => execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

function setup(keys: 'csk' | 'ksk+zsk' = 'csk'): { dir: string; config: string; keyDir: string } {
  const dir = tmpDir();
  const config = path.join(dir, 'steerdns.yaml');
  writeFileSync(config, `
server: { listen: ["127.0.0.1:0"], http: null }
zones:
  - name: signed.test
    ns: [ns1.signed.test]
    dnssec: { keys: ${keys} }
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
`);
  return { dir, config, keyDir: path.join(dir, 'keys') };
}

test('keygen writes BIND-format files (private 0600) in the zone\'s key directory; ds prints DS and DNSKEY', () => {
  const { config, keyDir } = setup();
  const out = cli('dnssec', 'keygen', '--zone', 'signed.test', '-c', config);
  expect(out).toMatch(/CSK \d+, algorithm 13 \(ECDSAP256SHA256\), active/);
  const files = readdirSync(keyDir).sort();
  expect(files).toHaveLength(2);
  expect(files[0]).toMatch(/^Ksigned\.test\.\+013\+\d{5}\.key$/);
  const priv = path.join(keyDir, files[1]);
  expect(statSync(priv).mode & 0o777).toBe(0o600);
  const ds = cli('dnssec', 'ds', '--zone', 'signed.test', '-c', config);
  expect(dsLinesOf(ds)).toHaveLength(1);
  expect(dsLinesOf(ds)[0]).toMatch(/^signed\.test\. IN DS \d+ 13 2 [0-9A-F]{64}$/);
  expect(ds).toMatch(/^signed\.test\. IN DNSKEY 257 3 13 \S+$/m);
  expect(run('check', '-c', config).status).toBe(0);
});

test('check: the zone needs keys; a private key others can read is refused, at the zone\'s dnssec block', () => {
  const { config, keyDir } = setup();
  const noKeys = run('check', '-c', config);
  expect(noKeys.status).toBe(1);
  expect(noKeys.stderr).toMatch(/steerdns\.yaml:\d+:\d+: dnssec: cannot read the key directory .*keys/);
  cli('dnssec', 'keygen', '--zone', 'signed.test', '-c', config);
  const priv = readdirSync(keyDir).find((f) => f.endsWith('.private'))!;
  chmodSync(path.join(keyDir, priv), 0o640);
  const open = run('check', '-c', config);
  expect(open.status).toBe(1);
  expect(open.stderr).toMatch(/accessible to group or others \(mode 0640\); run: chmod 600/);
});

test('KSK+ZSK: keygen makes both; status shows states and what to do; rollover schedules the roll; settime moves it', () => {
  const { config } = setup('ksk+zsk');
  const out = cli('dnssec', 'keygen', '--zone', 'signed.test', '-c', config);
  expect(out).toMatch(/KSK \d+/);
  expect(out).toMatch(/ZSK \d+/);
  const status = cli('dnssec', 'status', '-c', config);
  expect(status).toMatch(/zone signed\.test: signed, KSK\+ZSK/);
  expect(status).toMatch(/key +\d+ +KSK +ECDSAP256SHA256 +active/);
  expect(status).toMatch(/key +\d+ +ZSK +ECDSAP256SHA256 +active/);
  expect(status).toMatch(/now: the parent must have the DS of KSK \d+/);
  const roll = cli('dnssec', 'rollover', '--zone', 'signed.test', '-c', config, '--role', 'zsk');
  const [, oldTag, newTag] = /ZSK rollover of signed\.test: (\d+) → (\d+)/.exec(roll) ?? [];
  expect(newTag).toBeDefined();
  // RFC 7583 pre-publication: published now, signing after propagation (3600 s) + DNSKEY TTL (3600 s).
  expect(roll).toMatch(new RegExp(`ZSK ${newTag} starts signing`));
  expect(roll).toMatch(new RegExp(`ZSK ${oldTag} stops signing`));
  const after = cli('dnssec', 'status', '-c', config);
  expect(after).toMatch(new RegExp(`key +${newTag} +ZSK +ECDSAP256SHA256 +published`));
  cli('dnssec', 'settime', '--zone', 'signed.test', '-c', config, '--key', newTag, '--activate', 'now');
  expect(cli('dnssec', 'status', '-c', config)).toMatch(new RegExp(`key +${newTag} +ZSK +ECDSAP256SHA256 +active`));
  expect(run('check', '-c', config).status).toBe(0);
  const bad = run('dnssec', 'keygen', '--zone', 'signed.test', '-c', config);
  expect(bad.status).toBe(2);
  expect(bad.stderr).toMatch(/say which with --role ksk or --role zsk/);
});

test('the signing metrics: cache lookups by result, signatures made', async () => {
  const { config } = setup();
  cli('dnssec', 'keygen', '--zone', 'signed.test', '-c', config);
  const text = readFileSync(config, 'utf8').replace('http: null', 'http: "127.0.0.1:0"').replace('dnssec: { keys: csk }', `dnssec: { keys: csk, key_directory: ${path.join(path.dirname(config), 'keys')} }`);
  const srv = await startServer(text);
  try {
    const q = dnsPacket.encode({
      type: 'query', id: 5, flags: 0,
      questions: [{ type: 'A', name: 'ns1.signed.test', class: 'IN' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: dnsPacket.DNSSEC_OK } as unknown as dnsPacket.Answer],
    });
    for (let i = 0; i < 3; i++) await udpExchange(srv.port, q);
    const body = await new Promise<string>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: srv.server.statusPort, path: '/metrics' }, (res) => {
        let b = '';
        res.on('data', (d: Buffer) => (b += d.toString()));
        res.on('end', () => resolve(b));
      }).on('error', reject);
    });
    const value = (re: RegExp) => Number(re.exec(body)?.[1] ?? NaN);
    expect(value(/steerdns_dnssec_cache_lookups_total\{result="hit"\} (\d+)/)).toBeGreaterThanOrEqual(2);
    expect(value(/steerdns_dnssec_signatures_total\{when="ahead"\} (\d+)/)).toBeGreaterThan(0);
  } finally {
    await srv.stop();
  }
});
