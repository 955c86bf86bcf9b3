'use strict';
// Builds native/udp_batch.c into build/udp_batch.node (batched UDP I/O, src/dns/server/udp-batched.ts) with the C
// compiler and the headers of the Node that runs this script: no node-gyp, no download.
// It is optional: on any failure (not Linux, no compiler, no headers, a compile error) it prints one line saying
// why and exits 0, and steerdns answers UDP through node:dgram. Part of `npm run build`.
//   node scripts/build-native.js [--out FILE]        (CC=clang to pick the compiler)
//
// Linux needs no linker flag for the napi_* / uv_* symbols: a shared object may keep undefined symbols
// (ld's default without -z defs), and they resolve at load time against the node executable, which exports them.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const outArg = process.argv.indexOf('--out');
const out = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : path.join(root, 'build', 'udp_batch.node');
const source = path.join(root, 'native', 'udp_batch.c');
const prefix = 'udp_batch:';

function skip(why) {
  console.log(`${prefix} not built (${why}); UDP will use node:dgram`);
  process.exit(0);
}

try {
  // The directory exists even when nothing is built, so a Dockerfile can COPY it unconditionally.
  fs.mkdirSync(path.dirname(out), { recursive: true });
  if (process.platform !== 'linux') skip(`recvmmsg/sendmmsg need Linux, this is ${process.platform}`);
  if (!fs.existsSync(source)) skip(`${path.relative(root, source)} is missing`);
  const include = path.resolve(process.execPath, '../../include/node');
  if (!fs.existsSync(path.join(include, 'node_api.h')) || !fs.existsSync(path.join(include, 'uv.h'))) {
    skip(`no Node headers in ${include} (this Node install ships without include/node)`);
  }
  const cc = process.env.CC || 'cc';
  // Compile to a temporary name and rename: a process that has the old module loaded keeps its copy.
  const tmp = `${out}.${process.pid}.tmp`;
  // -z nodelete: a worker thread's addons are dlclose'd when it ends, before libuv runs the close callbacks of
  // the worker's handles; the module's callbacks must stay mapped until then.
  const args = ['-O2', '-std=gnu11', '-Wall', '-Wextra', '-shared', '-fPIC', '-Wl,-z,nodelete', `-I${include}`, source, '-o', tmp];
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (r.error) {
    skip(r.error.code === 'ENOENT' ? `no C compiler: '${cc}' not found on PATH` : `${cc}: ${r.error.message}`);
  }
  if (r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    const first = (r.stderr || '').split('\n').find((l) => /error/i.test(l)) || (r.stderr || '').split('\n')[0] || `exit ${r.status}`;
    skip(`${cc} failed: ${first.trim()}`);
  }
  if (r.stderr && r.stderr.trim() !== '') process.stderr.write(r.stderr); // warnings: worth seeing, not fatal
  fs.renameSync(tmp, out);
  console.log(`${prefix} built ${path.relative(root, out)} (${cc}, Node ${process.version} headers)`);
} catch (err) {
  skip(err && err.message ? err.message : String(err));
}
