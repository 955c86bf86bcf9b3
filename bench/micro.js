'use strict';
// In-process cost of answering (decode → authority/steering → encode), no sockets: ns per query per mix.
// Complements run.js (which measures the whole server against a UDP echo). Run after `npm run build`:
//   node bench/micro.js [--seconds 2] [--mix static,lb-geo-ecs]      (node --cpu-prof … to profile)
//   node bench/micro.js --count N --mix X     exactly 100 000 warm-up queries then N measured ones: run it under
//                                             valgrind for instructions per query, which a noisy host does not move
//                                             (bench/README.md, "Noise, and the two other measures")
const path = require('path');
const fs = require('fs');
const os = require('os');
const dist = path.join(__dirname, '..', 'dist');
const { loadConfigText } = require(path.join(dist, 'config/load'));
const { buildRuntime } = require(path.join(dist, 'runtime'));
const { handleQuery } = require(path.join(dist, 'dns/handler'));
const { QueryContext } = require(path.join(dist, 'dns/context'));
const ctx = new QueryContext();
const { noHostnames } = require(path.join(dist, 'lb/views'));

const arg = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const seconds = Number(arg('--seconds')) || 2;
const count = arg('--count') === undefined ? null : Number(arg('--count'));
const WARM_COUNT = 100000;
const cfgPath = path.join(__dirname, 'configs', 'bench.yaml');
const text = fs.readFileSync(cfgPath, 'utf8').replace('../../geoip', path.join(__dirname, '..', 'geoip'));
const { config, problems } = loadConfigText(text, cfgPath, path.join(os.tmpdir(), 'bench.yaml'));
if (!config) throw new Error(problems.map((p) => p.message).join('\n'));
const { runtime } = buildRuntime(config, { store: null, hostnames: noHostnames });

function query(name, type, ecs) {
  const labels = name.split('.');
  const parts = [Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, ecs === undefined ? 0 : 1])];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l));
  parts.push(Buffer.from([0, 0, type, 0, 1]));
  if (ecs !== undefined) {
    const [a, len] = ecs.split('/');
    const bytes = a.split('.').map(Number).slice(0, Math.ceil(Number(len) / 8));
    const opt = Buffer.from([0, 8, 0, 4 + bytes.length, 0, 1, Number(len), 0, ...bytes]);
    parts.push(Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, opt.length]), opt);
  }
  return Buffer.concat(parts);
}

const mixes = {
  static: ['www', 'api', 'cdn', 'img'].map((n) => query(`${n}.bench.test`, 1)),
  nxdomain: ['nx1', 'nope.www', 'zz'].map((n) => query(`${n}.bench.test`, 1)),
  'edns-ecs': [query('www.bench.test', 1, '81.2.69.0/24')],
  'lb-failover': [query('failover.bench.test', 1)],
  'lb-geo-ecs': ['81.2.69.0/24', '1.0.16.0/24', '216.160.83.0/24', '5.1.2.0/24'].map((e) => query('geo.bench.test', 1, e)),
  'lb-proximity': ['81.2.69.0/24', '1.0.16.0/24'].map((e) => query('near.bench.test', 1, e)),
  'lb-rules': [query('rules.bench.test', 1, '81.2.69.0/24')],
  'lb-rules-regex': [query('regex.bench.test', 1, '81.2.69.0/24')],
};

const only = process.argv.includes('--mix') ? process.argv[process.argv.indexOf('--mix') + 1].split(',') : null;
for (const [name, pkts] of Object.entries(mixes)) {
  if (only && !only.includes(name)) continue;
  const probe = handleQuery(ctx, runtime, pkts[0], '127.0.0.1', 'udp');
  if (!probe || (probe[3] & 0xf) !== (name === 'nxdomain' ? 3 : 0)) console.warn(`${name}: unexpected rcode ${probe && probe[3] & 0xf}`);
  let n = 0;
  if (count !== null) {
    for (let i = 0; i < WARM_COUNT; i++) handleQuery(ctx, runtime, pkts[i % pkts.length], '127.0.0.1', 'udp');
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < count; i++) handleQuery(ctx, runtime, pkts[i % pkts.length], '127.0.0.1', 'udp');
    console.log(`${name.padEnd(14)} ${count} queries in ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ms`);
    continue;
  }
  const end = Date.now() + 300;
  while (Date.now() < end) handleQuery(ctx, runtime, pkts[n++ % pkts.length], '127.0.0.1', 'udp'); // warm up
  n = 0;
  const t0 = process.hrtime.bigint();
  const stop = Date.now() + seconds * 1000;
  while (Date.now() < stop) {
    for (let i = 0; i < 1000; i++) handleQuery(ctx, runtime, pkts[n++ % pkts.length], '127.0.0.1', 'udp');
  }
  const ns = Number(process.hrtime.bigint() - t0) / n;
  console.log(`${name.padEnd(14)} ${ns.toFixed(0).padStart(6)} ns/query`);
}
