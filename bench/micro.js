'use strict';
// In-process cost of answering (decode → authority/steering → encode), no sockets: ns per query per mix.
// Complements run.js (which measures the whole server against a UDP echo). Run after `npm run build`:
//   node bench/micro.js [--seconds 2] [--mix static,lb-geo-ecs]      (node --cpu-prof … to profile)
//   node bench/micro.js --mix static-do,lb-geo-ecs-do,nxdomain-do,nxdomain-miss-do   DNSSEC (DO=1, zone signed)
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

// The *-do mixes ask the same questions with DO=1 of the same zone signed (a CSK made here; see signedText).
let signedRuntime = null;
function signed() {
  if (signedRuntime !== null) return signedRuntime;
  const { signedConfigText } = require('./dnssec-setup');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steerdns-micro-'));
  const signedText = signedConfigText(text, dir, dist);
  const loaded = loadConfigText(signedText, cfgPath, path.join(dir, 'bench.yaml'));
  if (!loaded.config) throw new Error(loaded.problems.map((p) => p.message).join('\n'));
  const built = buildRuntime(loaded.config, { store: null, hostnames: noHostnames });
  if (!built.runtime) throw new Error(built.problems.map((p) => p.message).join('\n'));
  signedRuntime = built.runtime;
  return signedRuntime;
}

function query(name, type, ecs, dnssecOk = false) {
  const labels = name.split('.');
  const edns = ecs !== undefined || dnssecOk;
  const parts = [Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, edns ? 1 : 0])];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l));
  parts.push(Buffer.from([0, 0, type, 0, 1]));
  if (edns) {
    let opt = Buffer.alloc(0);
    if (ecs !== undefined) {
      const [a, len] = ecs.split('/');
      const bytes = a.split('.').map(Number).slice(0, Math.ceil(Number(len) / 8));
      opt = Buffer.from([0, 8, 0, 4 + bytes.length, 0, 1, Number(len), 0, ...bytes]);
    }
    parts.push(Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, dnssecOk ? 0x80 : 0, 0, 0, opt.length]), opt);
  }
  return Buffer.concat(parts);
}

const GEO_SUBNETS = ['81.2.69.0/24', '1.0.16.0/24', '216.160.83.0/24', '5.1.2.0/24'];

const mixes = {
  static: ['www', 'api', 'cdn', 'img'].map((n) => query(`${n}.bench.test`, 1)),
  nxdomain: ['nx1', 'nope.www', 'zz'].map((n) => query(`${n}.bench.test`, 1)),
  'edns-ecs': [query('www.bench.test', 1, '81.2.69.0/24')],
  'lb-failover': [query('failover.bench.test', 1)],
  'lb-geo-ecs': GEO_SUBNETS.map((e) => query('geo.bench.test', 1, e)),
  'lb-proximity': ['81.2.69.0/24', '1.0.16.0/24'].map((e) => query('near.bench.test', 1, e)),
  'lb-rules': [query('rules.bench.test', 1, '81.2.69.0/24')],
  'lb-rules-regex': [query('regex.bench.test', 1, '81.2.69.0/24')],
  // DNSSEC (DO=1, the zone signed): the same questions; answers from the signature cache at steady state.
  'static-do': ['www', 'api', 'cdn', 'img'].map((n) => query(`${n}.bench.test`, 1, undefined, true)),
  'lb-geo-ecs-do': GEO_SUBNETS.map((e) => query('geo.bench.test', 1, e, true)),
  'nxdomain-do': ['nx1', 'nope.www', 'zz'].map((n) => query(`${n}.bench.test`, 1, undefined, true)),
};
// Every question a new name (compact denial: one NSEC signed per query): the cost of a cache miss.
const MISS_MIXES = new Set(['nxdomain-miss-do']);
let missCounter = 0;
function missQuery() {
  return query(`m${(missCounter++).toString(36)}.bench.test`, 1, undefined, true);
}
mixes['nxdomain-miss-do'] = [];
const runtimeFor = (name) => (name.endsWith('-do') ? signed() : runtime);

const only = process.argv.includes('--mix') ? process.argv[process.argv.indexOf('--mix') + 1].split(',') : null;
const DEFAULT_MIXES = Object.keys(mixes).filter((m) => !m.endsWith('-do'));
for (const [name, fixed] of Object.entries(mixes)) {
  if (only ? !only.includes(name) : !DEFAULT_MIXES.includes(name)) continue;
  const rt = runtimeFor(name);
  const miss = MISS_MIXES.has(name);
  const pick = miss ? () => missQuery() : (i) => fixed[i % fixed.length];
  const probe = handleQuery(ctx, rt, pick(0), '127.0.0.1', 'udp');
  if (!probe || (probe[3] & 0xf) !== (name === 'nxdomain' ? 3 : 0)) console.warn(`${name}: unexpected rcode ${probe && probe[3] & 0xf}`);
  let n = 0;
  const before = Array.from(ctx.signingStats);
  if (count !== null) {
    // Signing dominates a miss mix: a shorter warm-up (JIT and cache settle well before 2,000 signatures).
    const warm = miss ? 2000 : WARM_COUNT;
    for (let i = 0; i < warm; i++) handleQuery(ctx, rt, pick(i), '127.0.0.1', 'udp');
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < count; i++) handleQuery(ctx, rt, pick(i), '127.0.0.1', 'udp');
    console.log(`${name.padEnd(14)} ${count} queries in ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ms`);
    continue;
  }
  const end = Date.now() + 300;
  while (Date.now() < end) handleQuery(ctx, rt, pick(n++), '127.0.0.1', 'udp'); // warm up
  n = 0;
  const t0 = process.hrtime.bigint();
  const stop = Date.now() + seconds * 1000;
  while (Date.now() < stop) {
    for (let i = 0; i < 1000; i++) handleQuery(ctx, rt, pick(n++), '127.0.0.1', 'udp');
  }
  const ns = Number(process.hrtime.bigint() - t0) / n;
  const s = Array.from(ctx.signingStats).map((v, i) => v - before[i]);
  const cache = name.endsWith('-do') ? `  cache hits ${s[0]}, misses ${s[1]} (hit rate ${(s[0] / Math.max(1, s[0] + s[1])).toFixed(4)}), signatures ${s[2]}` : '';
  console.log(`${name.padEnd(16)} ${ns.toFixed(0).padStart(6)} ns/query${cache}`);
}
