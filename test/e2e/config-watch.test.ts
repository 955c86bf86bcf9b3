// The opt-in config watch: an edited file, and a Kubernetes-style ConfigMap update (the `..data` symlink swapped
// to a new directory), each reload the server once; unrelated files in the directory do not.
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { createLogger } from '../../src/observe/log';
import { LocalPlanes } from '../../src/server/planes';
import { Supervisor } from '../../src/server/supervisor';
import { aOf, until } from '../helpers/endpoints';
import { sleep, tmpDir } from '../helpers/server';

jest.setTimeout(30_000);

const yaml = (address: string, watch = false) => `server: { listen: ["127.0.0.1:0"], http: null, watch_config: ${watch} }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: www, type: A, value: ${address} }
`;

async function start(configPath: string, watch: boolean): Promise<{ sup: Supervisor; port: number }> {
  const sup = new Supervisor({ configPath, logger: createLogger('warn', () => undefined), watch, watchDebounceMs: 100 });
  await sup.start();
  return { sup, port: (sup.planes as LocalPlanes).plane.boundPorts[0].port };
}

test('--watch: an edited file is reloaded; other files in the directory are not', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'steerdns.yaml');
  writeFileSync(file, yaml('192.0.2.1'));
  const { sup, port } = await start(file, true);
  try {
    writeFileSync(path.join(dir, 'notes.txt'), 'unrelated');
    await sleep(500);
    expect(sup.reloads.reloads).toBe(0);
    writeFileSync(file, yaml('192.0.2.2'));
    await until('the new answer', () => aOf(port, 'www.example.com'), (a) => a.join() === '192.0.2.2', 5000);
    expect(sup.reloads.reloads).toBe(1);
  } finally {
    await sup.stop();
  }
});

test('server.watch_config: a ConfigMap-style symlink swap is reloaded', async () => {
  const dir = tmpDir();
  mkdirSync(path.join(dir, '..v1'));
  writeFileSync(path.join(dir, '..v1', 'steerdns.yaml'), yaml('192.0.2.1', true));
  symlinkSync('..v1', path.join(dir, '..data'));
  symlinkSync(path.join('..data', 'steerdns.yaml'), path.join(dir, 'steerdns.yaml'));
  const { sup, port } = await start(path.join(dir, 'steerdns.yaml'), false);
  try {
    // What the kubelet does: write a new directory, point a temporary symlink at it, rename it over ..data.
    mkdirSync(path.join(dir, '..v2'));
    writeFileSync(path.join(dir, '..v2', 'steerdns.yaml'), yaml('192.0.2.3', true));
    symlinkSync('..v2', path.join(dir, '..data_tmp'));
    renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    await until('the new answer', () => aOf(port, 'www.example.com'), (a) => a.join() === '192.0.2.3', 5000);
    expect(sup.reloads.reloads).toBe(1);
  } finally {
    await sup.stop();
  }
});

test('without --watch or watch_config nothing is watched', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'steerdns.yaml');
  writeFileSync(file, yaml('192.0.2.1'));
  const { sup, port } = await start(file, false);
  try {
    writeFileSync(file, yaml('192.0.2.2'));
    await sleep(800);
    expect(await aOf(port, 'www.example.com')).toEqual(['192.0.2.1']);
    expect(sup.reloads.reloads).toBe(0);
  } finally {
    await sup.stop();
  }
});
