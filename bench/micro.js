'use strict';
// In-process cost of answering (decode → authority/steering → encode), no sockets: ns per query per mix.
// Complements run.js (which measures the whole server against a UDP echo). Run after `npm run build`:
//   node bench/micro.js [--seconds 2] [--mix static,lb-geo-ecs]      (node --cpu-prof … to profile)
//   node bench/micro.js --mix static-do,lb-geo-ecs-do,nxdomain-do,nxdomain-miss-do   DNSSEC (DO=1, zone signed)
//   node bench/micro.js --count N --mix X     exactly 100 000 warm-up queries then N measured ones: run it under
//                                             valgrind for instructions per query, which a noisy host does not move
//                                             (bench/README.md, "Noise, and the two other measures")
//   --guard rrl | rrl-cookies | rrl-new-cookies | off-cookies
//                                             response rate limiting on at a realistic rate (10/s per name and /24,
//                                             the README's recommendation), queries from 8192 client networks, with
//                                             no cookie, with a valid server cookie (what a resolver sends after its
//                                             first query: exempt from the limiter), or with a client cookie only
//                                             (a new server cookie is made for every answer); off-cookies: the
//                                             queries of rrl-cookies to a server with rate limiting and cookies off
//                                             (what turning them on costs on the same traffic)
//   --edns                                    queries without an OPT record get an empty one (what the cookie modes
//                                             add to them), to tell the cost of EDNS from the cost of cookies
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

// --guard: the same questions from CLIENTS networks (10.x.y.1, one per /24), each query carrying what the mode
// says; the coarse clock advances one second every 65,536 queries (a server at ~65k qps).
const guard = arg('--guard');
if (guard !== undefined && !['rrl', 'rrl-cookies', 'rrl-new-cookies', 'off-cookies'].includes(guard)) throw new Error(`--guard ${guard}: rrl, rrl-cookies, rrl-new-cookies or off-cookies`);
// --clients N: how many client networks send the queries (default 8192 with --guard, else one, 127.0.0.1).
const CLIENTS = Number(arg('--clients') ?? (guard === undefined ? 1 : 8192));
const NOW = 300_000_000; // the coarse clock of dns/clock.ts: seconds since 2020
const clients = CLIENTS === 1 && guard === undefined ? ['127.0.0.1'] : Array.from({ length: CLIENTS }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.1`);
ctx.now = NOW;
const rrlConfig = { responses_per_second: 10, nxdomains_per_second: null, errors_per_second: null, window: 15, slip: 2, ipv4_prefix_length: 24, ipv6_prefix_length: 56, exempt: [], log_only: false, max_table_size: 65536 };
// Loaded only with --guard, so that this script also measures builds from before rate limiting and cookies.
const { RateLimiter, rrlSettings } = guard === undefined ? {} : require(path.join(dist, 'dns/rrl'));
const { ServerCookies } = guard === undefined ? {} : require(path.join(dist, 'dns/cookies'));
const cookieJar = guard !== undefined && guard !== 'rrl' ? new ServerCookies({ secret: Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'), rotation: 86400 }, NOW) : null;

/** The packets of a mix as the guard mode sends them: [client][question]. */
const edns = process.argv.includes('--edns');

function guardPackets(pkts) {
  return clients.map((addr, i) => pkts.map((p) => {
    if (edns && p.readUInt16BE(10) === 0) p = withOpt(p);
    if (guard === undefined || guard === 'rrl') return Buffer.from(p); // one buffer per query, as from a socket
    const client = Buffer.alloc(8);
    client.writeUInt32BE(i, 0);
    client.writeUInt32BE(0x5eed, 4);
    const first = withOptCookie(p, client, null);
    if (guard === 'rrl-new-cookies') return first;
    const out = handleQuery(ctx, runtime, first, addr, 'udp');
    const r = Buffer.from(out);
    const at = r.lastIndexOf(Buffer.from([0, 10, 0, 24]));
    return withOptCookie(p, client, r.subarray(at + 12, at + 28));
  }));
}

/** `pkt` with an empty OPT record (udp size 1232). */
function withOpt(pkt) {
  const out = Buffer.concat([pkt, Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0])]);
  out.writeUInt16BE(1, 10);
  return out;
}

/** `pkt` with a COOKIE option appended to its OPT record (the last record of these packets), or a new OPT. */
function withOptCookie(pkt, client, server) {
  const data = Buffer.concat([client, server ?? Buffer.alloc(0)]);
  const opt = Buffer.concat([Buffer.from([0, 10, 0, data.length]), data]);
  if (pkt.readUInt16BE(10) === 0) {
    const out = Buffer.concat([pkt, Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, opt.length]), opt]);
    out.writeUInt16BE(1, 10);
    return out;
  }
  // The OPT record ends the packet: append the option and grow its RDLENGTH.
  const rdlenAt = findOptRdata(pkt) - 2;
  const out = Buffer.concat([pkt, opt]);
  out.writeUInt16BE(out.readUInt16BE(rdlenAt) + opt.length, rdlenAt);
  return out;
}

/** Offset of the OPT RDATA in a micro.js query: the question, then the OPT (root owner, 10 fixed bytes). */
function findOptRdata(pkt) {
  let off = 12;
  while (pkt[off] !== 0) off += pkt[off] + 1;
  return off + 1 + 4 + 11;
}

const only = process.argv.includes('--mix') ? process.argv[process.argv.indexOf('--mix') + 1].split(',') : null;
const DEFAULT_MIXES = Object.keys(mixes).filter((m) => !m.endsWith('-do'));
for (const [name, base] of Object.entries(mixes)) {
  if (only ? !only.includes(name) : !DEFAULT_MIXES.includes(name)) continue;
  const rt = runtimeFor(name);
  const miss = MISS_MIXES.has(name);
  ctx.cookies = cookieJar;
  const sets = miss ? null : guardPackets(base);
  if (guard !== undefined) ctx.rrl = new RateLimiter(rrlSettings(rrlConfig), NOW, 12345); // accounts untouched by the set-up; a fixed seed repeats
  if (guard === 'off-cookies') {
    ctx.rrl = null;
    ctx.cookies = null;
  }
  const nc = clients.length;
  const np = base.length;
  const ask = (i) => {
    if ((i & 0xffff) === 0) ctx.now++;
    return handleQuery(ctx, rt, miss ? missQuery() : sets[i % nc][((i / nc) | 0) % np], clients[i % nc], 'udp');
  };
  const probe = handleQuery(ctx, rt, miss ? missQuery() : sets[0][0], clients[0], 'udp');
  if (!probe || (probe[3] & 0xf) !== (name === 'nxdomain' ? 3 : 0)) console.warn(`${name}: unexpected rcode ${probe && probe[3] & 0xf}`);
  let n = 0;
  const before = Array.from(ctx.signingStats);
  if (count !== null) {
    // Signing dominates a miss mix: a shorter warm-up (JIT and cache settle well before 2,000 signatures).
    const warm = miss ? 2000 : WARM_COUNT;
    for (let i = 0; i < warm; i++) ask(i);
    // instructions.sh runs with --expose-gc: the set-up's garbage (the packets of 8,192 clients) is collected here,
    // not by a major GC that lands in one of its two runs and not the other (thousands of instructions a query).
    if (typeof global.gc === 'function') global.gc();
    const t0 = process.hrtime.bigint();
    let limited = 0;
    for (let i = warm; i < warm + count; i++) if (ask(i) === null || ctx.outcome.rrl !== 0) limited++;
    console.log(`${name.padEnd(16)} ${count} queries in ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ms${guard ? `, ${limited} limited, cookie status ${ctx.outcome.cookie}` : ''}`);
    continue;
  }
  const end = Date.now() + 300;
  while (Date.now() < end) ask(n++); // warm up
  const t0 = process.hrtime.bigint();
  const first = n;
  const stop = Date.now() + seconds * 1000;
  while (Date.now() < stop) {
    for (let i = 0; i < 1000; i++) ask(n++);
  }
  const ns = Number(process.hrtime.bigint() - t0) / (n - first);
  const s = Array.from(ctx.signingStats).map((v, i) => v - before[i]);
  const cache = name.endsWith('-do') ? `  cache hits ${s[0]}, misses ${s[1]} (hit rate ${(s[0] / Math.max(1, s[0] + s[1])).toFixed(4)}), signatures ${s[2]}` : '';
  console.log(`${name.padEnd(16)} ${ns.toFixed(0).padStart(6)} ns/query${cache}`);
}
