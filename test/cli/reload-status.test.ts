// `steerdns status` and `steerdns reload` against running servers (spawned `serve` processes), two at once: one
// found through its status API, one through its pidfile (no status API). The start-up log line gives the pid.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { query, spawnServer, tmpDir, type ProcessServer } from '../helpers/server';
import { ensureBuilt, steerdns } from './run';

beforeAll(ensureBuilt, 120000);

/** A free loopback TCP port (the status API's port must be known to `status -c FILE`). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const zone = (extra = '') => `zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
${extra}`;

const dir = tmpDir('steerdns-control-');
let apiPort: number;
let a: ProcessServer; // status API
let b: ProcessServer; // pidfile only
const fileA = path.join(dir, 'a.yaml');
const fileB = path.join(dir, 'b.yaml');
const pidB = path.join(dir, 'b.pid');

beforeAll(async () => {
  apiPort = await freePort();
  writeFileSync(fileA, `server: { listen: ["127.0.0.1:0"], http: "127.0.0.1:${apiPort}", http_token: s3cret }\n${zone()}`);
  writeFileSync(fileB, `server: { listen: ["127.0.0.1:0"], http: null, pidfile: b.pid }\n${zone()}`);
  [a, b] = await Promise.all([spawnServer(fileA), spawnServer(fileB)]);
}, 60000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

const startLine = (s: ProcessServer) => JSON.parse(s.stderr().split('\n').find((l) => l.includes('"steerdns started"')) ?? '{}') as { pid?: number; pidfile?: string };

test('the start-up log line gives the pid (and the pidfile)', () => {
  expect(startLine(a).pid).toBe(a.child.pid);
  expect(startLine(b)).toMatchObject({ pid: b.child.pid, pidfile: pidB });
  expect(readFileSync(pidB, 'utf8')).toBe(`${b.child.pid}\n`);
});

test('status through the status API (with the token), and through the pidfile', async () => {
  const sa = await steerdns(['status', '-c', fileA]);
  expect(sa.stderr).toBe('');
  expect(sa.code).toBe(0);
  const lines = sa.stdout.split('\n');
  expect(lines[0]).toMatch(new RegExp(`^steerdns \\d+\\.\\d+\\.\\d+\\S*: pid ${a.child.pid}, single process, up (\\d+m )?\\d+s, (not )?ready$`));
  expect(lines[1]).toBe(`config ${fileA}: 1 zone(s), 0 load balancer(s), 0 pool(s), 0 monitor(s)`);
  expect(lines[2]).toMatch(/^last reload: successful; 0 reload\(s\), 0 failure\(s\), config loaded \d{4}-/);
  const json = JSON.parse((await steerdns(['status', '-c', fileA, '--format', 'json'])).stdout) as { pid: number; config: string };
  expect(json).toMatchObject({ pid: a.child.pid, config: fileA });
  expect(await steerdns(['status', '-c', fileB])).toEqual({ code: 0, stdout: `steerdns: pid ${b.child.pid} (from ${pidB}) is running; no status API (server.http: null) to say more\n`, stderr: '' });
});

test('reload: the new config serves (confirmed through the status API); a broken file is refused and the old one keeps serving', async () => {
  const port = Number(JSON.parse(a.stderr().split('\n').find((l) => l.includes('"steerdns started"')) ?? '{}').listen[0].split(':').pop());
  writeFileSync(fileA, `server: { listen: ["127.0.0.1:0"], http: "127.0.0.1:${apiPort}", http_token: s3cret }\n${zone('      - { name: new, type: A, value: 192.0.2.77 }\n')}`);
  expect(await steerdns(['reload', '-c', fileA])).toEqual({ code: 0, stdout: `reloaded: pid ${a.child.pid} serves the new config of ${fileA}\n`, stderr: '' });
  const r = await query(port, 'new.example.com', { type: 'A' });
  expect(r.packet.answers?.map((x) => (x as { data: unknown }).data)).toEqual(['192.0.2.77']);

  writeFileSync(fileA, `server: { listen: ["127.0.0.1:0"], http: "127.0.0.1:${apiPort}", http_token: s3cret }\n${zone('      - { name: new, type: A, value: 192.0.2.777 }\n')}`);
  const bad = await steerdns(['reload', '-c', fileA]);
  expect(bad).toEqual({
    code: 1,
    stdout: '',
    stderr: `steerdns reload: the server refused the new config, the previous one keeps serving: 1 error in the config, first: ${fileA}:7:38: A new: "192.0.2.777" is not an IPv4 address\n`,
  });
  const still = await query(port, 'new.example.com', { type: 'A' });
  expect(still.packet.answers?.map((x) => (x as { data: unknown }).data)).toEqual(['192.0.2.77']);
  const st = await steerdns(['status', '-c', fileA]);
  expect(st.stdout.split('\n')[2]).toMatch(/^last reload: FAILED: 1 error in the config, first: .*192\.0\.2\.777.* \(the previous config keeps serving\); 1 reload\(s\), 1 failure\(s\)/);
}, 30000);

test('reload through the pidfile: SIGHUP sent, the server reloads', async () => {
  const r = await steerdns(['reload', '-c', fileB]);
  expect(r).toEqual({ code: 0, stdout: `sent SIGHUP to steerdns (pid ${b.child.pid}); without a status API the outcome is in the server's log\n`, stderr: '' });
  const deadline = Date.now() + 10000;
  while (!b.stderr().includes('"config reloaded"') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  expect(b.stderr()).toContain('"config reloaded"');
});

test('a second server on the same pidfile refuses to start; the pidfile goes when the server stops', async () => {
  const other = path.join(dir, 'c.yaml');
  writeFileSync(other, `server: { listen: ["127.0.0.1:0"], http: null }\n${zone()}`);
  await expect(spawnServer(other, 10000, ['--pidfile', pidB])).rejects.toThrow(new RegExp(`pidfile ${pidB.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} names process ${b.child.pid}, which is running`));
  expect(await b.stop()).toBe(0);
  expect(existsSync(pidB)).toBe(false);
  expect(await steerdns(['status', '-c', fileB])).toEqual({ code: 1, stdout: '', stderr: `steerdns status: no pid in ${pidB} (not running?)\n` });
  expect(await steerdns(['reload', '-c', fileB])).toEqual({ code: 1, stdout: '', stderr: `steerdns reload: no pid in ${pidB} (not running?)\n` });
});

test('nothing on the status API port: exit 1 with the reason', async () => {
  const port = await freePort();
  const f = path.join(dir, 'none.yaml');
  writeFileSync(f, `server: { http: "127.0.0.1:${port}" }\n${zone()}`);
  const why = `no steerdns answers on 127.0.0.1:${port} (connection refused: not running?)`;
  expect(await steerdns(['status', '-c', f])).toEqual({ code: 1, stdout: '', stderr: `steerdns status: ${why}\n` });
  expect(await steerdns(['reload', '-c', f])).toEqual({ code: 1, stdout: '', stderr: `steerdns reload: ${why}\n` });
});
