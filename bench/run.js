#!/usr/bin/env node
'use strict';
// steerdns benchmark: dnsperf against a bare Node dgram echo (the Node ceiling) and against steerdns, one
// query mix at a time, in the same run; with --paths, steerdns on each UDP path (node:dgram and the batched native
// module, each beside its own echo), and with --gdnsd, gdnsd on the static mix. Plain Node (CommonJS, no
// dependencies). See bench/README.md.
//
//   npm run bench                       # build, then: node bench/run.js
//   node bench/run.js --pin -l 20       # server on CPU 0, dnsperf on CPU 1, 20 s per measurement
//   node bench/run.js --mixes static,lb-geo-ecs --profile lb-geo-ecs
//   node bench/run.js --paths dgram,batched --gdnsd
//   node bench/run.js --help

const { spawn, spawnSync } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
let CLI = path.join(DIST, 'cli.js'); // replaced by the snapshot's (see snapshotDist)
let childEnv = process.env;
let SNAPSHOT_ROOT = null;
const CONFIG = path.join(__dirname, 'configs', 'bench.yaml');
const ECHO = path.join(__dirname, 'echo-server.js');
let ECHO_BATCHED = path.join(__dirname, 'echo-batched.js'); // replaced by the snapshot's (see snapshotDist)
const UDP_PATHS = ['dgram', 'batched'];
const BATCHED_TARGET = 0.65; // issue 16: server CPU per query on the batched path ≤ 0.65× the dgram path, every mix
const RESULTS_DIR = path.join(__dirname, 'results');
const TARGET_RATIO = 0.85; // design.md §4: a GSLB mix at ≥ 85 % of the echo rate on one core
const P99_TARGET_MS = 2; // … and p99 < 2 ms at half of peak load
const DNSSEC_TARGET = 0.8; // issue 15: a DO=1 mix at ≥ 0.8× its unsigned mix in the same run

// ---- options -------------------------------------------------------------------------------------------

const USAGE = `usage: node bench/run.js [options]      (npm run bench -- [options])

  -l, --duration S        seconds per target, mix and round, split into the slices (default 10)
      --warmup S          warm-up seconds before each measurement, discarded (default 2)
  -c, --clients N         dnsperf -c (default 10)
  -q, --outstanding N     dnsperf -q, queries in flight (default 100)
  -T, --threads N         dnsperf -T (default: dnsperf's own, one sender/receiver pair)
      --pin               taskset the server (and the echo) to CPU 0 and dnsperf to CPU 1
      --workers N         sets server.workers in the bench config (default 1)
      --paths A,B         the server's UDP paths to measure, each beside its own echo (dgram: echo-server.js,
                          batched: echo-batched.js): dgram, batched or both (default: dgram,batched when
                          the native module is built, else dgram); the first one fills the row's own fields
      --guard             response rate limiting on (nothing limited: every response accounted) and a client
                          cookie in the queries of the mixes without ECS (each answer gets a new server cookie)
      --gdnsd             also measure gdnsd (/usr/sbin/gdnsd, foreground, own config in the temp dir,
                          udp_threads = --workers) on the static mix
      --mixes A,B,…       only these mixes (default: all): ${'${MIXES}'}
      --ecs-mode M        how mixes with several ECS subnets run (dnsperf sends one option per process):
                          sequential = one sub-run per subnet, duration split evenly (default);
                          parallel   = one dnsperf per subnet at the same time, -c/-q split between them
      --latency-duration S  seconds of the half-peak latency run (default 4; 0 disables it)
      --slices N          per mix and round, N slices: in each, one peak run of -l/N seconds per target
                          (echo, dgram, batched, batched echo[, gdnsd]), the order reversed every slice
                          (one path: ABBA echo/server pairs); ratios = medians over the slices (default 4)
      --rounds N          run the mixes N times, alternating the order; medians over every pair (default 1)
      --profile A,B|all   after measuring, run these mixes (and/or "echo") again under node --cpu-prof and
                          print where the time goes (profiles saved in bench/results/*.cpuprofile)
      --out FILE          JSON results (default bench/results/latest.json)
      --keep              keep the temp dir (query files, effective config, logs)
      --no-install        do not try to apt-get install dnsperf when it is missing
  -h, --help
`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      duration: { type: 'string', short: 'l', default: '10' },
      warmup: { type: 'string', default: '2' },
      clients: { type: 'string', short: 'c', default: '10' },
      outstanding: { type: 'string', short: 'q', default: '100' },
      threads: { type: 'string', short: 'T' },
      pin: { type: 'boolean', default: false },
      workers: { type: 'string', default: '1' },
      paths: { type: 'string' },
      gdnsd: { type: 'boolean', default: false },
      guard: { type: 'boolean', default: false },
      mixes: { type: 'string' },
      'ecs-mode': { type: 'string', default: 'sequential' },
      'latency-duration': { type: 'string', default: '4' },
      rounds: { type: 'string', default: '1' },
      slices: { type: 'string', default: '4' },
      profile: { type: 'string' },
      out: { type: 'string', default: path.join(RESULTS_DIR, 'latest.json') },
      keep: { type: 'boolean', default: false },
      'no-install': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE.replace('${MIXES}', MIXES.map((m) => m.name).join(', ')));
    process.exit(0);
  }
  const num = (name, v, { min, int = false }) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || (int && !Number.isInteger(n))) fail(`--${name} must be ${int ? 'an integer' : 'a number'} ≥ ${min} (got "${v}")`);
    return n;
  };
  const opts = {
    duration: num('duration', values.duration, { min: 1 }),
    warmup: num('warmup', values.warmup, { min: 0 }),
    clients: num('clients', values.clients, { min: 1, int: true }),
    outstanding: num('outstanding', values.outstanding, { min: 1, int: true }),
    threads: values.threads === undefined ? null : num('threads', values.threads, { min: 1, int: true }),
    pin: values.pin,
    guard: values.guard,
    workers: num('workers', values.workers, { min: 1, int: true }),
    ecsMode: values['ecs-mode'],
    latencyDuration: num('latency-duration', values['latency-duration'], { min: 0 }),
    rounds: num('rounds', values.rounds, { min: 1, int: true }),
    slices: num('slices', values.slices, { min: 1, int: true }),
    out: path.resolve(values.out),
    keep: values.keep,
    install: !values['no-install'],
    mixes: MIXES,
    profile: new Set(),
    paths: null, // resolved in main() once the snapshot tells whether the native module loads
    gdnsd: values.gdnsd,
  };
  if (values.paths !== undefined) {
    const list = values.paths.split(',').map((x) => x.trim()).filter(Boolean);
    const paths = list.includes('both') ? [...UDP_PATHS] : list;
    for (const p of paths) if (!UDP_PATHS.includes(p)) fail(`--paths: unknown UDP path "${p}" (dgram, batched, both)`);
    if (paths.length === 0 || new Set(paths).size !== paths.length) fail(`--paths: a list of distinct paths (got "${values.paths}")`);
    opts.paths = paths;
  }
  if (opts.ecsMode !== 'sequential' && opts.ecsMode !== 'parallel') fail('--ecs-mode must be sequential or parallel');
  const pickMixes = (list, flag) => {
    const names = list.split(',').map((s) => s.trim()).filter(Boolean);
    for (const n of names) if (!MIXES.some((m) => m.name === n)) fail(`${flag}: unknown mix "${n}" (mixes: ${MIXES.map((m) => m.name).join(', ')})`);
    return names;
  };
  if (values.mixes) {
    const names = pickMixes(values.mixes, '--mixes');
    opts.mixes = MIXES.filter((m) => names.includes(m.name));
  }
  if (values.profile) {
    const list = values.profile.split(',').map((x) => x.trim());
    const names = list.includes('all') ? ['echo', ...opts.mixes.map((m) => m.name)] : ['echo', ...pickMixes(list.filter((x) => x !== 'echo').join(','), '--profile')].filter((n) => n !== 'echo' || list.includes('echo'));
    opts.profile = new Set(names);
  }
  return opts;
}

function fail(message, code = 2) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(code);
}

// ---- query mixes ---------------------------------------------------------------------------------------

/** ECS subnets from geoip/test/city.mmdb (geoip/README.md), with the pool each LB should pick for them. */
const ECS_SUBNETS = [
  { label: 'GB', cidr: '81.2.69.0/24', geo: 'eu', proximity: 'eu' },
  { label: 'JP', cidr: '1.0.16.0/24', geo: 'ap', proximity: 'ap' },
  { label: 'US-WA', cidr: '216.160.83.0/24', geo: 'us', proximity: 'us' },
  { label: 'NL', cidr: '5.1.2.0/24', geo: 'eu', proximity: 'eu' },
];

/** Pool addresses in bench/configs/bench.yaml, for the answer checks. */
const POOLS = {
  eu: ['192.0.2.10', '192.0.2.11'],
  us: ['198.51.100.10', '198.51.100.11'],
  ap: ['203.0.113.10', '203.0.113.11'],
  primary: ['192.0.2.20', '192.0.2.21'],
  backup: ['198.51.100.20', '198.51.100.21'],
};

const STATIC_NAMES = ['www', 'api', 'cdn', 'img', 'mail', 'static', 'app.eu', 'app.us'].map((n) => `${n}.bench.test`);

const MIXES = [
  {
    name: 'static',
    description: 'static A hits, 8 names, no EDNS',
    queries: STATIC_NAMES.map((n) => `${n} A`),
    ecs: null,
    expect: { rcode: 0, answers: true },
  },
  {
    name: 'nxdomain',
    description: 'A for 256 names that do not exist (NXDOMAIN with SOA), no EDNS',
    queries: Array.from({ length: 256 }, (_, i) => `nx${i}.bench.test A`),
    ecs: null,
    expect: { rcode: 3, answers: false },
  },
  {
    name: 'edns-ecs',
    description: 'static A hits with EDNS and an ECS option (GB /24)',
    queries: STATIC_NAMES.map((n) => `${n} A`),
    ecs: [ECS_SUBNETS[0]],
    expect: { rcode: 0, answers: true },
  },
  {
    name: 'lb-failover',
    description: 'LB, steering off: failover pool list, first pool 2 equal-weight endpoints; no EDNS',
    queries: ['failover.bench.test A'],
    ecs: null,
    expect: { rcode: 0, pool: () => 'primary' },
  },
  {
    name: 'lb-geo-ecs',
    description: 'LB, geo steering, prefer_ecs always; ECS /24 from GB, JP, US-WA, NL',
    queries: ['geo.bench.test A'],
    ecs: ECS_SUBNETS,
    expect: { rcode: 0, pool: (s) => s.geo },
  },
  {
    name: 'lb-proximity',
    description: 'LB, proximity steering from the ECS location; ECS /24 from GB, JP, US-WA, NL',
    queries: ['near.bench.test A'],
    ecs: ECS_SUBNETS,
    expect: { rcode: 0, pool: (s) => s.proximity },
  },
  {
    name: 'lb-rules',
    description: 'LB with 2 rules evaluated per query (ip.src in {…} → no; qtype/name length → yes); no EDNS',
    queries: ['rules.bench.test A'],
    ecs: null,
    expect: { rcode: 0, pool: () => 'eu', ttl: 20 },
  },
  // DNSSEC: the mixes above with DO=1 against the same config with bench.test signed (bench/dnssec-setup.js);
  // compare each with its unsigned mix in the same run (the "signed vs unsigned" lines of the report).
  {
    name: 'static-do',
    description: 'static: the same 8 names with DO=1, zone signed (RRSIGs from the signature cache)',
    queries: STATIC_NAMES.map((n) => `${n} A`),
    ecs: null,
    dnssec: true,
    unsigned: 'static',
    expect: { rcode: 0, answers: true, rrsig: true },
  },
  {
    name: 'lb-geo-ecs-do',
    description: 'lb-geo-ecs with DO=1, zone signed (each pool\'s answer set signed once, then cached)',
    queries: ['geo.bench.test A'],
    ecs: ECS_SUBNETS,
    dnssec: true,
    unsigned: 'lb-geo-ecs',
    expect: { rcode: 0, pool: (s) => s.geo, rrsig: true },
  },
];

/** The echo as a profiling target (--profile echo). */
const ECHO_MIX = { name: 'echo', ecs: null };

// ---- ECS option and a tiny DNS client (answer checks) ---------------------------------------------------

function parseCidr(cidr) {
  const [addr, len] = cidr.split('/');
  const bytes = addr.split('.').map(Number);
  return { bytes, prefix: Number(len) };
}

/** RFC 7871 option data: FAMILY(1) SOURCE PREFIX SCOPE(0) ADDRESS truncated to the prefix (masked). */
function ecsOptionHex(cidr) {
  const { bytes, prefix } = parseCidr(cidr);
  const n = Math.ceil(prefix / 8);
  const addr = bytes.slice(0, n);
  if (prefix % 8 !== 0) addr[n - 1] &= (0xff << (8 - (prefix % 8))) & 0xff;
  const buf = Buffer.from([0, 1, prefix, 0, ...addr]);
  return buf.toString('hex');
}

const TYPES = { A: 1, NS: 2, CNAME: 5, SOA: 6, MX: 15, TXT: 16, AAAA: 28, OPT: 41, RRSIG: 46 };

function buildQuery(id, line, ecsHex, dnssecOk = false) {
  const [name, type] = line.trim().split(/\s+/);
  const labels = name.replace(/\.$/, '').split('.');
  const parts = [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0, 2); // a plain query, RD off (authoritative), like dnsperf's
  header.writeUInt16BE(1, 4);
  const edns = ecsHex !== null || dnssecOk;
  header.writeUInt16BE(edns ? 1 : 0, 10);
  parts.push(header);
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l, 'ascii'));
  parts.push(Buffer.from([0]));
  const qt = Buffer.alloc(4);
  qt.writeUInt16BE(TYPES[type.toUpperCase()] || 1, 0);
  qt.writeUInt16BE(1, 2);
  parts.push(qt);
  if (edns) {
    const data = ecsHex !== null ? Buffer.from(ecsHex, 'hex') : null;
    const opt = Buffer.alloc(11 + (data ? 4 + data.length : 0));
    opt.writeUInt8(0, 0);
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(1232, 3);
    opt.writeUInt32BE(dnssecOk ? 0x8000 : 0, 5); // extended rcode, version, DO
    opt.writeUInt16BE(data ? 4 + data.length : 0, 9);
    if (data) {
      opt.writeUInt16BE(8, 11);
      opt.writeUInt16BE(data.length, 13);
      data.copy(opt, 15);
    }
    parts.push(opt);
  }
  return Buffer.concat(parts);
}

function skipName(buf, off) {
  for (;;) {
    const len = buf[off];
    if (len === undefined) throw new Error('truncated name');
    if ((len & 0xc0) === 0xc0) return off + 2;
    if (len === 0) return off + 1;
    off += 1 + len;
  }
}

/** Just enough of a response for the checks: rcode, A answers with TTLs, the ECS scope. */
function parseResponse(buf) {
  const out = { id: buf.readUInt16BE(0), rcode: buf[3] & 0x0f, a: [], ttl: null, answers: 0, rrsigs: 0, ecsScope: null, edns: false };
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  let off = 12;
  for (let i = 0; i < qd; i++) off = skipName(buf, off) + 4;
  for (let i = 0; i < an + ns + ar; i++) {
    off = skipName(buf, off);
    const type = buf.readUInt16BE(off);
    const ttl = buf.readUInt32BE(off + 4);
    const rdlen = buf.readUInt16BE(off + 8);
    const rd = buf.subarray(off + 10, off + 10 + rdlen);
    off += 10 + rdlen;
    if (i < an) {
      out.answers++;
      if (type === TYPES.RRSIG) out.rrsigs++;
      if (type === TYPES.A) {
        out.a.push(Array.from(rd).join('.'));
        out.ttl = ttl;
      }
    } else if (type === TYPES.OPT) {
      out.edns = true;
      for (let p = 0; p + 4 <= rd.length;) {
        const code = rd.readUInt16BE(p);
        const len = rd.readUInt16BE(p + 2);
        if (code === 8 && len >= 4) out.ecsScope = rd[p + 7];
        p += 4 + len;
      }
    }
  }
  return out;
}

function queryOnce(port, packet, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error('no answer within 2 s'));
    }, timeoutMs);
    s.on('message', (msg) => {
      clearTimeout(timer);
      s.close();
      try {
        resolve(parseResponse(msg));
      } catch (err) {
        reject(err);
      }
    });
    s.send(packet, port, '127.0.0.1');
  });
}

/** One query per (name, subnet) before measuring: the mix must exercise the path it claims to. */
async function checkAnswers(mix, port) {
  const problems = [];
  const samples = [];
  const subnets = mix.ecs || [null];
  const lines = mix.queries.slice(0, 8);
  let id = 1;
  for (const s of subnets) {
    for (const line of lines) {
      const hex = s ? ecsOptionHex(s.cidr) : null;
      let r;
      try {
        r = await queryOnce(port, buildQuery(id++, line, hex, Boolean(mix.dnssec)));
      } catch (err) {
        problems.push(`${line}${s ? ` ECS ${s.cidr}` : ''}: ${err.message}`);
        continue;
      }
      const where = `${line}${s ? ` ECS ${s.cidr}` : ''}`;
      if (samples.length < 4) samples.push({ query: where, rcode: r.rcode, a: r.a, ttl: r.ttl, ecs_scope: r.ecsScope });
      if (r.rcode !== mix.expect.rcode) problems.push(`${where}: rcode ${r.rcode}, expected ${mix.expect.rcode}`);
      if (mix.expect.answers === true && r.answers === 0) problems.push(`${where}: no answer records`);
      if (mix.expect.answers === false && r.answers !== 0) problems.push(`${where}: unexpected answer records`);
      if (mix.expect.pool) {
        const pool = mix.expect.pool(s);
        const want = POOLS[pool];
        if (r.a.length === 0 || !r.a.every((a) => want.includes(a))) problems.push(`${where}: answered ${r.a.join(', ') || 'nothing'}, expected pool ${pool} (${want.join(', ')})`);
      }
      if (mix.expect.ttl !== undefined && r.ttl !== mix.expect.ttl) problems.push(`${where}: TTL ${r.ttl}, expected ${mix.expect.ttl} (rule override)`);
      if (s && !r.edns) problems.push(`${where}: no OPT record in the response`);
      if (mix.expect.rrsig && r.rrsigs === 0) problems.push(`${where}: no RRSIG in the answer (DO=1, the zone signed)`);
      if (!mix.expect.rrsig && r.rrsigs > 0) problems.push(`${where}: RRSIGs in an answer to DO=0`);
    }
  }
  return { ok: problems.length === 0, problems, samples };
}

// ---- processes -----------------------------------------------------------------------------------------

const children = new Set();

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function killChildren() {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}
if (require.main === module) {
  process.on('exit', killChildren);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      killChildren();
      process.exit(130);
    });
  }
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function ensureDnsperf(opts) {
  if (which('dnsperf')) return;
  if (!opts.install) fail('dnsperf is not installed (Debian/Ubuntu: apt-get install -y dnsperf)');
  const apt = which('apt-get');
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!apt || !root) fail(`dnsperf is not installed and cannot be installed from here${!apt ? ' (no apt-get)' : ' (not root)'}: install the "dnsperf" package (it includes resperf) and re-run`);
  process.stderr.write('bench: dnsperf is missing; apt-get install -y dnsperf\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync(apt, ['install', '-y', 'dnsperf'], { stdio: 'inherit', env });
  if (r.status !== 0) {
    spawnSync(apt, ['update'], { stdio: 'inherit', env });
    r = spawnSync(apt, ['install', '-y', 'dnsperf'], { stdio: 'inherit', env });
  }
  if (r.status !== 0 || !which('dnsperf')) fail('could not install dnsperf (apt-get install -y dnsperf failed); install it and re-run');
}

/** `taskset -c CPU cmd …` when pinning, else the command itself. */
function pinned(opts, cpu, cmd, args) {
  return opts.pinCpus ? { cmd: 'taskset', args: ['-c', String(cpu), cmd, ...args] } : { cmd, args };
}

/** Starts a process and waits for a stdout/stderr line that `ready` turns into a port. */
function startListener(name, cmd, args, ready, { stream = 'stderr', timeoutMs = 20000, cwd = ROOT, env = childEnv } = {}) {
  return new Promise((resolve, reject) => {
    const child = track(spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }));
    const log = [];
    let done = false;
    let buf = '';
    const onData = (which) => (chunk) => {
      const text = chunk.toString('utf8');
      for (const line of text.split('\n')) if (line.trim()) log.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
      if (log.length > 200) log.splice(0, log.length - 200);
      if (done || which !== stream) return;
      buf += text;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const port = ready(line);
        if (port) {
          done = true;
          clearTimeout(timer);
          resolve({ child, port, log, pid: child.pid, line });
          return;
        }
      }
    };
    child.stdout.on('data', onData('stdout'));
    child.stderr.on('data', onData('stderr'));
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${timeoutMs / 1000} s:\n${log.join('\n')}`));
    }, timeoutMs);
    child.once('exit', (code, sig) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`${name} exited before listening (code ${code}, signal ${sig}):\n${log.join('\n')}`));
    });
  });
}

function portFromListen(listen) {
  const m = /:(\d+)$/.exec(String(listen));
  return m ? Number(m[1]) : null;
}

/** The ceiling for a UDP path: echo-server.js (node:dgram) or echo-batched.js (the native module). */
function startEcho(opts, profileDir = null, udpIo = 'dgram') {
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const script = udpIo === 'batched' ? ECHO_BATCHED : ECHO;
  const { cmd, args } = pinned(opts, 0, process.execPath, [...nodeArgs, script, '127.0.0.1', '0']);
  return startListener(udpIo === 'batched' ? 'batched echo' : 'echo server', cmd, args, (line) => {
    try {
      return portFromListen(JSON.parse(line).listen);
    } catch {
      return null;
    }
  }, { stream: 'stdout' });
}

/**
 * `steerdns serve` on the UDP path `udpIo` (STEERDNS_UDP_IO, which overrides server.udp_io). The "steerdns started"
 * line names the path that answers: anything else than the one asked for stops the bench (a batched figure measured
 * on dgram would be worse than none).
 */
async function startSteerdns(opts, configPath, profileDir, udpIo) {
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const { cmd, args } = pinned(opts, 0, process.execPath, [...nodeArgs, CLI, 'serve', '-c', configPath]);
  const server = await startListener(`steerdns (${udpIo})`, cmd, args, (line) => {
    if (!line.includes('steerdns started')) return null;
    try {
      const j = JSON.parse(line);
      return j.msg === 'steerdns started' && Array.isArray(j.listen) ? portFromListen(j.listen[0]) : null;
    } catch {
      return null;
    }
  }, { env: { ...childEnv, STEERDNS_UDP_IO: udpIo } });
  const reported = JSON.parse(server.line).udp_io;
  if (reported !== udpIo) {
    await stopProcess(server);
    throw new Error(`steerdns was asked for UDP path "${udpIo}" (STEERDNS_UDP_IO) but reports ${JSON.stringify(reported)} in its "steerdns started" line; not measuring the wrong path:\n${server.log.slice(-10).join('\n')}`);
  }
  server.udpIo = reported;
  return server;
}

/** gdnsd 3.x's binary, or null. /usr/sbin is not on every user's PATH. */
function gdnsdBinary() {
  return which('gdnsd') || (fs.existsSync('/usr/sbin/gdnsd') ? '/usr/sbin/gdnsd' : null);
}

/** The static A records of bench.yaml's bench.test zone as a zone file, for gdnsd (only the static mix runs on it). */
function gdnsdZone(yaml) {
  const lines = ['$TTL 60', '@ SOA ns1 hostmaster 1 3600 600 86400 60', '@ NS ns1', '@ NS ns2'];
  const re = /^\s+- \{ name: ([\w.-]+), type: A, values?: (\[[^\]]*\]|[\d.]+) \}/gm;
  for (const m of yaml.matchAll(re)) {
    for (const v of m[2].replace(/[[\]]/g, '').split(',').map((x) => x.trim()).filter(Boolean)) lines.push(`${m[1]} A ${v}`);
  }
  return `${lines.join('\n')}\n`;
}

function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * gdnsd in the foreground (`gdnsd -c DIR start`), never as a service: its config, zone, run and state dirs in the
 * temp dir, listening on 127.0.0.1 only, on a free port. udp_threads = --workers, so that it gets as many UDP
 * threads as steerdns has serving processes.
 */
async function startGdnsd(opts, tmp, yaml) {
  const bin = gdnsdBinary();
  if (!bin) throw new Error('--gdnsd: gdnsd is not installed (Debian package gdnsd)');
  const dir = path.join(tmp, 'gdnsd');
  fs.mkdirSync(path.join(dir, 'zones'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'zones', 'bench.test'), gdnsdZone(yaml));
  let last = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freeUdpPort();
    fs.writeFileSync(path.join(dir, 'config'), `options => {
  listen => [ 127.0.0.1:${port} ]
  udp_threads => ${opts.workers}
  tcp_threads => 1
  run_dir => ${JSON.stringify(path.join(dir, 'run'))}
  state_dir => ${JSON.stringify(path.join(dir, 'state'))}
}
`);
    const { cmd, args } = pinned(opts, 0, bin, ['-c', dir, 'start']);
    try {
      return await startListener('gdnsd', cmd, args, (line) => (line.includes('DNS listeners started') ? port : null), { cwd: dir, env: process.env });
    } catch (err) {
      last = err; // the port was taken meanwhile (TCP or UDP): try another one
    }
  }
  throw last;
}

function stopProcess(p, timeoutMs = 10000) {
  return new Promise((resolve) => {
    const { child } = p;
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Copies dist/ (and package.json) into the temp dir and runs the server from there (node_modules through
 * NODE_PATH), so every mix
 * runs the same build even if dist/ is rebuilt meanwhile. A copy taken mid-build fails `check`: retried.
 */
function snapshotDist(tmp, configPath) {
  const snap = path.join(tmp, 'snapshot');
  const dest = path.join(snap, 'dist');
  fs.mkdirSync(snap, { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(snap, 'package.json')); // dist/app.js reads ../package.json
  // The native module is looked up at ../../../build from dist/dns/server: without this copy the snapshot has no
  // batched path (and udp_io auto quietly ran on dgram). The batched echo loads dist/ from ../, so it is copied too.
  const build = path.join(ROOT, 'build', 'udp_batch.node');
  if (fs.existsSync(build)) {
    fs.mkdirSync(path.join(snap, 'build'), { recursive: true });
    fs.copyFileSync(build, path.join(snap, 'build', 'udp_batch.node'));
  }
  fs.mkdirSync(path.join(snap, 'bench'), { recursive: true });
  fs.copyFileSync(path.join(__dirname, 'echo-batched.js'), path.join(snap, 'bench', 'echo-batched.js'));
  const env = { ...process.env, NODE_PATH: [path.join(ROOT, 'node_modules'), process.env.NODE_PATH].filter(Boolean).join(path.delimiter) };
  let last = '';
  for (let attempt = 1; attempt <= 10; attempt++) {
    fs.rmSync(dest, { recursive: true, force: true });
    fs.cpSync(DIST, dest, { recursive: true });
    const r = spawnSync(process.execPath, [path.join(dest, 'cli.js'), 'check', '-c', configPath], { env, encoding: 'utf8' });
    if (r.status === 0) {
      CLI = path.join(dest, 'cli.js');
      ECHO_BATCHED = path.join(snap, 'bench', 'echo-batched.js');
      childEnv = env;
      SNAPSHOT_ROOT = snap;
      return;
    }
    last = `${r.stdout}${r.stderr}`.trim().split('\n').slice(-5).join('\n');
    spawnSync('sleep', ['2']);
  }
  fail(`the built server does not accept ${path.relative(process.cwd(), CONFIG)} (dist/ being rebuilt? stale?):\n${last}`);
}

// ---- CPU accounting (Linux /proc; null elsewhere) ------------------------------------------------------

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout);
  return r.status === 0 && n > 0 ? n : 100;
})();

/** utime + stime of a process and all its live descendants (cluster workers with --workers N). */
function procTicks(pid) {
  try {
    const info = new Map();
    for (const d of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
        const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
        info.set(Number(d), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) }); // fields 4, 14, 15
      } catch {
        // gone meanwhile
      }
    }
    if (!info.has(pid)) return null;
    let total = 0;
    const todo = [pid];
    const seen = new Set();
    while (todo.length) {
      const p = todo.pop();
      if (seen.has(p)) continue;
      seen.add(p);
      total += info.get(p).ticks;
      for (const [q, v] of info) if (v.ppid === p) todo.push(q);
    }
    return total;
  } catch {
    return null;
  }
}

function hostTicks() {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = v[3] + (v[4] || 0);
    const total = v.reduce((a, b) => a + b, 0);
    return { idle, total, steal: v[7] || 0 };
  } catch {
    return null;
  }
}

/** This process's own CPU ticks, and those of its children that have exited and been reaped (dnsperf). */
function selfTicks() {
  try {
    const s = fs.readFileSync('/proc/self/stat', 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
  } catch {
    return null;
  }
}

/**
 * CPU over a measurement, in % of one CPU (like top): the server (or echo) process, dnsperf, everything busy
 * on the host, and the rest ("other": other processes on the machine plus kernel time nobody is charged for).
 */
function cpuSampler(pid) {
  const t0 = process.hrtime.bigint();
  const p0 = procTicks(pid);
  const h0 = hostTicks();
  const s0 = selfTicks();
  return () => {
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const p1 = procTicks(pid);
    const h1 = hostTicks();
    const s1 = selfTicks();
    const pct = (ticks) => round((ticks / CLK_TCK / secs) * 100, 1);
    const out = { server_cpu_s: null, server_cpu_pct: null, dnsperf_cpu_pct: null, host_busy_pct: null, other_cpu_pct: null, host_steal_pct: null };
    if (p0 !== null && p1 !== null && secs > 0) {
      out.server_cpu_s = round((p1 - p0) / CLK_TCK, 2);
      out.server_cpu_pct = pct(p1 - p0);
    }
    if (s0 && s1 && secs > 0) out.dnsperf_cpu_pct = pct(s1.children - s0.children);
    if (h0 && h1 && h1.total > h0.total) {
      const dt = h1.total - h0.total;
      const n = os.cpus().length;
      out.host_busy_pct = round((1 - (h1.idle - h0.idle) / dt) * 100 * n, 1);
      out.host_steal_pct = round(((h1.steal - h0.steal) / dt) * 100 * n, 1);
      if (out.server_cpu_pct !== null && out.dnsperf_cpu_pct !== null && s0 && s1) {
        out.other_cpu_pct = round(Math.max(0, out.host_busy_pct - out.server_cpu_pct - out.dnsperf_cpu_pct - pct(s1.self - s0.self)), 1);
      }
    }
    return out;
  };
}

// ---- dnsperf -------------------------------------------------------------------------------------------

function dnsperfArgs(opts, run) {
  const a = ['-s', '127.0.0.1', '-p', String(run.port), '-d', run.file, '-l', String(run.duration), '-t', '2'];
  a.push('-c', String(run.clients), '-q', String(run.outstanding));
  if (opts.threads) a.push('-T', String(opts.threads));
  if (run.ecsHex) a.push('-E', `8:${run.ecsHex}`);
  // --guard: a client cookie in every query (dnsperf sends one EDNS option: the ECS mixes keep theirs instead).
  else if (opts.guard) a.push('-E', '10:0123456789abcdef');
  if (run.dnssec) a.push('-D');
  if (run.qps) a.push('-Q', String(run.qps));
  if (run.verbose) a.push('-v');
  return a;
}

/**
 * Runs dnsperf once. With `verbose` (-v) its stdout goes to a file that is read after it exits, so no
 * process competes for the CPU while it runs; the per-query latencies (seconds) come from the "> " lines.
 */
let verboseSeq = 0;
function runDnsperf(opts, run) {
  const args = dnsperfArgs(opts, run);
  const { cmd, args: full } = pinned(opts, 1, 'dnsperf', args);
  return new Promise((resolve, reject) => {
    const outFile = run.verbose ? path.join(opts.tmp, `dnsperf-v-${++verboseSeq}.txt`) : null;
    const fd = outFile ? fs.openSync(outFile, 'w') : null;
    const child = track(spawn(cmd, full, { stdio: ['ignore', fd === null ? 'pipe' : fd, 'pipe'] }));
    if (fd !== null) fs.closeSync(fd);
    let stdout = '';
    let stderr = '';
    if (child.stdout) child.stdout.on('data', (c) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c) => {
      stderr += c.toString('utf8');
    });
    child.once('error', reject);
    child.once('close', (code) => {
      const latencies = [];
      if (outFile) {
        const rest = [];
        for (const line of fs.readFileSync(outFile, 'utf8').split('\n')) {
          if (line.startsWith('> ')) {
            const v = Number(line.slice(line.lastIndexOf(' ') + 1));
            if (Number.isFinite(v)) latencies.push(v);
          } else rest.push(line);
        }
        fs.rmSync(outFile, { force: true });
        stdout = rest.join('\n');
      }
      const stats = parseDnsperf(stdout);
      if (code !== 0 || stats === null) {
        reject(new Error(`dnsperf failed (exit ${code}): ${[cmd, ...full].join(' ')}\n${stderr}${stdout.slice(-2000)}`));
        return;
      }
      resolve({ stats, latencies, command: ['dnsperf', ...args].join(' ') });
    });
  });
}

function parseDnsperf(text) {
  const num = (re) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : null;
  };
  const qps = num(/Queries per second:\s+([\d.]+)/);
  if (qps === null) return null;
  const lat = /Average Latency \(s\):\s+([\d.]+) \(min ([\d.]+), max ([\d.]+)\)/.exec(text);
  const rcodes = {};
  const rc = /Response codes:\s+(.*)/.exec(text);
  if (rc) for (const m of rc[1].matchAll(/([A-Z]+) (\d+)/g)) rcodes[m[1]] = Number(m[2]);
  return {
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    runtime: num(/Run time \(s\):\s+([\d.]+)/),
    qps,
    avg: lat ? Number(lat[1]) : null,
    min: lat ? Number(lat[2]) : null,
    max: lat ? Number(lat[3]) : null,
    stddev: num(/Latency StdDev \(s\):\s+([\d.]+)/),
    rcodes,
  };
}

/** Adds up sub-runs: sequential ones (time adds up) or parallel ones (rates add up). */
function combine(results, parallel) {
  const s = results.map((r) => r.stats);
  const sum = (k) => s.reduce((a, x) => a + (x[k] || 0), 0);
  const completed = sum('completed');
  const runtime = parallel ? Math.max(...s.map((x) => x.runtime)) : sum('runtime');
  const qps = parallel ? sum('qps') : completed / runtime;
  const wavg = (k) => (completed > 0 ? s.reduce((a, x) => a + (x[k] || 0) * (x.completed || 0), 0) / completed : null);
  const rcodes = {};
  for (const x of s) for (const [k, v] of Object.entries(x.rcodes)) rcodes[k] = (rcodes[k] || 0) + v;
  return {
    sent: sum('sent'),
    completed,
    lost: sum('lost'),
    runtime,
    qps,
    avg: wavg('avg'),
    stddev: wavg('stddev'), // an approximation across sub-runs
    min: Math.min(...s.map((x) => x.min ?? Infinity)),
    max: Math.max(...s.map((x) => x.max ?? 0)),
    rcodes,
  };
}

/**
 * Runs one load pattern against `port`: one dnsperf per ECS subnet in turn (sequential) or all at once
 * (parallel), or a single dnsperf without ECS. `qps` caps the total rate; `verbose` collects latencies.
 */
async function drive(opts, { port, file, ecs, edns, dnssec = false, duration, qps = null, verbose = false }) {
  const subnets = ecs && ecs.length ? ecs : [null];
  const k = subnets.length;
  const parallel = k > 1 && opts.ecsMode === 'parallel';
  const make = (s) => ({
    port,
    file,
    ecsHex: s ? ecsOptionHex(s.cidr) : null,
    edns,
    dnssec,
    duration: parallel || k === 1 ? duration : round(Math.max(duration / k, 0.5), 2),
    clients: parallel ? Math.max(1, Math.round(opts.clients / k)) : opts.clients,
    outstanding: parallel ? Math.max(1, Math.round(opts.outstanding / k)) : opts.outstanding,
    qps: qps === null ? null : Math.max(1, Math.round(parallel ? qps / k : qps)),
    verbose,
  });
  let results;
  if (parallel) results = await Promise.all(subnets.map((s) => runDnsperf(opts, make(s))));
  else {
    results = [];
    for (const s of subnets) results.push(await runDnsperf(opts, make(s)));
  }
  const latencies = verbose ? results.flatMap((r) => r.latencies) : [];
  return { stats: combine(results, parallel), latencies, commands: results.map((r) => r.command) };
}

function percentiles(values) {
  if (values.length === 0) return null;
  const v = Float64Array.from(values).sort();
  const at = (p) => v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))];
  const avg = v.reduce((a, b) => a + b, 0) / v.length;
  return { samples: v.length, avg_ms: ms(avg), p50_ms: ms(at(50)), p90_ms: ms(at(90)), p99_ms: ms(at(99)), p999_ms: ms(at(99.9)), max_ms: ms(v[v.length - 1]) };
}

/** One closed-loop peak measurement of `seconds`, with the CPU the target process used meanwhile. */
async function peak(opts, target, { port, pid, file, ecs, edns, dnssec }, seconds) {
  const cpu = cpuSampler(pid);
  const run = await drive(opts, { port, file, ecs, edns, dnssec, duration: seconds });
  const usage = cpu();
  const s = run.stats;
  return {
    target,
    qps: Math.round(s.qps),
    sent: s.sent,
    completed: s.completed,
    lost: s.lost,
    rcodes: s.rcodes,
    avg_ms: ms(s.avg),
    stddev_ms: ms(s.stddev),
    ...usage,
    // CPU per answered query: less sensitive to a busy host than qps, see README.
    cpu_us_per_query: usage.server_cpu_s !== null && s.completed > 0 ? round((usage.server_cpu_s * 1e6) / s.completed, 2) : null,
    dnsperf: run.commands,
  };
}

/** The half-peak latency run: dnsperf -Q at half the measured peak rate, -v for per-query latencies. */
async function latencyRun(opts, { port, file, ecs, edns, dnssec }, peakQps) {
  if (opts.latencyDuration <= 0 || peakQps <= 0) return null;
  const rate = Math.max(100, Math.round(peakQps / 2));
  const lat = await drive(opts, { port, file, ecs, edns, dnssec, duration: opts.latencyDuration, qps: rate, verbose: true });
  return { target_qps: rate, achieved_qps: Math.round(lat.stats.qps), lost: lat.stats.lost, ...percentiles(lat.latencies), dnsperf: lat.commands };
}

/**
 * One mix, one round. Every target is up at the same time (pinned to the same CPU: the idle ones cost nothing): the
 * server on each UDP path and that path's echo, and gdnsd when asked. A warm-up of each, then `slices` rounds of short
 * peak runs, one per target, in an order that reverses every slice (echo, dgram, batched, batched echo, gdnsd; then
 * backwards): each server slice is compared with its echo's and the other path's slice measured seconds away, so host
 * noise that drifts over tens of seconds cancels out. With one path this is the ABBA order of echo/server pairs.
 *
 * `targets`: [{ key, role: 'echo'|'server'|'other', udpIo, port, pid, …traffic }].
 */
async function measureMix(opts, targets) {
  if (opts.warmup > 0) for (const t of targets) await drive(opts, { ...t, duration: opts.warmup });
  const seconds = round(opts.duration / opts.slices, 2);
  const slices = [];
  for (let i = 0; i < opts.slices; i++) {
    const slice = {};
    for (const t of i % 2 === 0 ? targets : [...targets].reverse()) slice[t.key] = await peak(opts, t.key, t, seconds);
    slices.push(slice);
  }
  // Per UDP path: the pairs server/echo of that path, as before (echo = the path's own ceiling).
  const perPath = {};
  for (const t of targets.filter((x) => x.role === 'server')) {
    const echoKey = targets.find((x) => x.role === 'echo' && x.udpIo === t.udpIo).key;
    const pairs = slices.map((sl) => {
      const pair = { echo: sl[echoKey], server: sl[t.key] };
      pair.ratio = pair.echo.qps > 0 ? pair.server.qps / pair.echo.qps : null;
      pair.cpu_ratio = pair.echo.cpu_us_per_query && pair.server.cpu_us_per_query ? pair.echo.cpu_us_per_query / pair.server.cpu_us_per_query : null;
      return pair;
    });
    perPath[t.udpIo] = { pairs, latency: null };
  }
  // Batched ÷ dgram per slice (issue 16's criterion is on CPU per query: dnsperf saturates the 2 cores first).
  const cross = slices.map((sl) => ({
    cpu: sl.batched && sl.dgram && sl.batched.cpu_us_per_query && sl.dgram.cpu_us_per_query ? sl.batched.cpu_us_per_query / sl.dgram.cpu_us_per_query : null,
    qps: sl.batched && sl.dgram && sl.dgram.qps > 0 ? sl.batched.qps / sl.dgram.qps : null,
  }));
  const others = {};
  for (const t of targets.filter((x) => x.role === 'other')) others[t.key] = slices.map((sl) => sl[t.key]);
  for (const t of targets.filter((x) => x.role === 'server')) {
    perPath[t.udpIo].latency = await latencyRun(opts, t, median(perPath[t.udpIo].pairs.map((p) => p.server.qps)));
  }
  return { perPath, cross, others };
}

// ---- CPU profiles --------------------------------------------------------------------------------------

/** Script URLs relative to the project (the snapshot's dist/ shows as dist/). */
function shortUrl(url) {
  if (!url) return '';
  let u = url.startsWith('file://') ? url.slice(7) : url;
  for (const prefix of [SNAPSHOT_ROOT, ROOT]) if (prefix && u.startsWith(`${prefix}/`)) u = u.slice(prefix.length + 1);
  return u;
}

/** Where a profile node's self time goes, coarsely. */
function category(cf) {
  const url = cf.url || '';
  if (cf.functionName === 'doSend' && url === 'node:dgram') return 'dgram send (sendmsg syscall incl. loopback delivery)';
  if (cf.functionName === '(garbage collector)') return 'garbage collector';
  if (cf.functionName === '(program)') return '(program): V8/libuv native, incl. recvmsg';
  if (url.includes('/node_modules/')) return `node_modules/${url.split('/node_modules/')[1].split('/')[0]}`;
  if (url.includes('/dist/')) return 'steerdns (dist/)';
  if (url.startsWith('node:')) return 'node core JS';
  return 'other (builtins, unattributed)';
}

/**
 * Self time per function and per category from a .cpuprofile (V8 sampling profile). `queries`: queries the
 * profiled process answered, to express the costs in µs per query.
 */
function summarizeProfile(file, queries, top = 20) {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const cats = new Map();
  const files = new Map();
  const deltas = prof.timeDeltas || [];
  let total = 0;
  let idle = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = deltas[i + 1] !== undefined ? deltas[i + 1] : 0; // the time until the next sample
    const n = byId.get(prof.samples[i]);
    if (!n) continue;
    total += dt;
    const cf = n.callFrame;
    if (cf.functionName === '(idle)') {
      idle += dt;
      continue;
    }
    const url = shortUrl(cf.url);
    const key = `${cf.functionName || '(anonymous)'}  ${url ? `${url}:${cf.lineNumber + 1}` : ''}`.trim();
    self.set(key, (self.get(key) || 0) + dt);
    const c = category(cf);
    cats.set(c, (cats.get(c) || 0) + dt);
    if (url.startsWith('dist/')) files.set(url, (files.get(url) || 0) + dt);
  }
  const busy = total - idle;
  const perQuery = (us) => (queries > 0 ? round(us / queries, 3) : null);
  const rows = (m, n) => [...m.entries()].sort((x, y) => y[1] - x[1]).slice(0, n);
  return {
    total_ms: round(total / 1000, 0),
    idle_pct: round((idle / total) * 100, 1),
    queries,
    busy_us_per_query: perQuery(busy),
    categories: rows(cats, 20).map(([name, us]) => ({ category: name, pct_of_busy: round((us / busy) * 100, 1), us_per_query: perQuery(us) })),
    steerdns_files: rows(files, 12).map(([name, us]) => ({ file: name, pct_of_busy: round((us / busy) * 100, 1), us_per_query: perQuery(us) })),
    top: rows(self, top).map(([fn, us]) => ({ function: fn, self_ms: round(us / 1000, 1), pct_of_busy: round((us / busy) * 100, 1) })),
  };
}

// ---- output --------------------------------------------------------------------------------------------

function round(x, d) {
  if (x === null || x === undefined || !Number.isFinite(x)) return null;
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

function ms(seconds) {
  return seconds === null || seconds === undefined || !Number.isFinite(seconds) ? null : round(seconds * 1000, 3);
}

function median(values) {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

function fmt(v, d = 0) {
  if (v === null || v === undefined) return '-';
  return typeof v === 'number' ? v.toFixed(d) : String(v);
}

function table(rows, paths) {
  const multi = paths.length > 1;
  const head = ['mix', ...(multi ? ['udp'] : []), 'qps', 'echo qps', 'ratio', 'min–max', 'µs/q', 'cpu ratio', 'lost', 'srv%', 'other%', '½-peak qps', 'p50 ms', 'p99 ms', 'answers'];
  const lines = rows.flatMap((row) => paths.map((p) => [row, row.paths[p]])).map(([row, r]) => [
    row.target,
    ...(multi ? [r.udp_io] : []),
    fmt(r.qps),
    fmt(r.echo_qps),
    r.ratio === null ? '-' : r.ratio.toFixed(2),
    r.ratio_min === null ? '-' : `${r.ratio_min.toFixed(2)}–${r.ratio_max.toFixed(2)}`,
    fmt(r.cpu_us_per_query, 2),
    r.cpu_ratio === null ? '-' : r.cpu_ratio.toFixed(2),
    r.lost === null ? '-' : `${r.lost}${r.lost_pct ? ` (${r.lost_pct.toFixed(2)}%)` : ''}`,
    fmt(r.server_cpu_pct, 0),
    fmt(r.other_cpu_pct, 0),
    r.latency ? fmt(r.latency.achieved_qps) : '-',
    r.latency ? fmt(r.latency.p50_ms, 3) : '-',
    r.latency ? fmt(r.latency.p99_ms, 3) : '-',
    r.check.ok ? 'ok' : 'WRONG',
  ]);
  return layout(head, lines);
}

/** Per mix: both paths side by side, their echoes' CPU per query, batched ÷ dgram, and gdnsd where measured. */
function pathsTable(rows, paths) {
  const has = (p) => paths.includes(p);
  const withGdnsd = rows.some((r) => r.gdnsd);
  const head = ['mix'];
  if (has('dgram')) head.push('dgram qps', 'dgram µs/q');
  if (has('batched')) head.push('batched qps', 'batched µs/q');
  if (has('dgram') && has('batched')) head.push('b/d µs/q', 'min–max', 'b/d qps');
  if (has('dgram')) head.push('echo µs/q');
  if (has('batched')) head.push('b-echo µs/q');
  if (withGdnsd) head.push('gdnsd qps', 'gdnsd µs/q');
  head.push('answers');
  const lines = rows.map((r) => {
    const l = [r.target];
    if (has('dgram')) l.push(fmt(r.paths.dgram.qps), fmt(r.paths.dgram.cpu_us_per_query, 2));
    if (has('batched')) l.push(fmt(r.paths.batched.qps), fmt(r.paths.batched.cpu_us_per_query, 2));
    if (has('dgram') && has('batched')) {
      const v = r.batched_vs_dgram;
      l.push(fmt(v.cpu_per_query, 3), v.cpu_per_query_min === null ? '-' : `${v.cpu_per_query_min.toFixed(2)}–${v.cpu_per_query_max.toFixed(2)}`, fmt(v.qps, 3));
    }
    if (has('dgram')) l.push(fmt(r.paths.dgram.echo_cpu_us_per_query, 2));
    if (has('batched')) l.push(fmt(r.paths.batched.echo_cpu_us_per_query, 2));
    if (withGdnsd) l.push(r.gdnsd ? fmt(r.gdnsd.qps) : '-', r.gdnsd ? fmt(r.gdnsd.cpu_us_per_query, 2) : '-');
    l.push(r.check.ok ? 'ok' : 'WRONG');
    return l;
  });
  return layout(head, lines);
}

/** Right-aligned columns, except the first and the last. */
function layout(head, lines) {
  const all = [head, ...lines];
  const w = head.map((_, i) => Math.max(...all.map((l) => String(l[i]).length)));
  return all.map((l, li) => l.map((c, i) => (i === 0 || i === l.length - 1 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ').trimEnd() + (li === 0 ? `\n${w.map((n) => '-'.repeat(n)).join('  ')}` : '')).join('\n');
}

function machine() {
  const cpus = os.cpus();
  return {
    loadavg: os.loadavg().map((x) => round(x, 2)),
    cpus: cpus.length,
    cpu_model: cpus[0] ? cpus[0].model.trim() : null,
    cpu_mhz: cpus[0] ? cpus[0].speed : null,
    time: new Date().toISOString(),
  };
}

function versionOf(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const text = `${r.stdout || ''}${r.stderr || ''}`;
  const m = /Version\s+([\w.-]+)/.exec(text);
  return m ? m[1] : null;
}

function gitState() {
  const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (rev.status !== 0) return null;
  const st = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' });
  return { commit: rev.stdout.trim(), src_dirty: st.status === 0 ? st.stdout.trim().length > 0 : null };
}

const log = (s) => process.stderr.write(`${s}\n`);

// ---- main ----------------------------------------------------------------------------------------------

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  ensureDnsperf(opts);
  if (!fs.existsSync(CLI)) fail(`${path.relative(process.cwd(), CLI)} is missing: run "npm run build" (or "npm run bench", which builds first)`);

  opts.pinCpus = false;
  const notes = [];
  if (opts.pin) {
    if (!which('taskset')) notes.push('--pin ignored: taskset not found (util-linux)');
    else if (os.cpus().length < 2) notes.push('--pin ignored: fewer than 2 CPUs');
    else opts.pinCpus = true;
  }
  for (const n of notes) log(`bench: ${n}`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'steerdns-bench-'));
  opts.tmp = tmp;
  // Effective config: the GeoIP path made absolute, server.workers from --workers.
  let yaml = fs.readFileSync(CONFIG, 'utf8');
  const geoAbs = path.resolve(path.dirname(CONFIG), '../../geoip/test/city.mmdb');
  if (!fs.existsSync(geoAbs)) fail(`${geoAbs} is missing (the test GeoIP database)`);
  yaml = yaml.replace('database: ../../geoip/test/city.mmdb', `database: ${JSON.stringify(geoAbs)}`);
  if (!/^ {2}workers: \d+/m.test(yaml)) fail(`${CONFIG}: expected a "  workers: N" line under server`);
  yaml = yaml.replace(/^ {2}workers: \d+/m, `  workers: ${opts.workers}`);
  // --guard: rate limiting on (every response accounted; the rate is set so that the one bench client is never
  // limited, which would measure dropping instead of answering), cookies on as by default.
  if (opts.guard) yaml = yaml.replace(/^ {2}workers: \d+/m, (line) => `${line}\n  rrl: { responses_per_second: 1000000, window: 1 }`);
  const configPath = path.join(tmp, 'bench.yaml');
  fs.writeFileSync(configPath, yaml);
  snapshotDist(tmp, configPath);
  // The UDP paths: the batched one needs the native module, as the snapshot's server would load it.
  const native = require(path.join(SNAPSHOT_ROOT, 'dist', 'dns', 'server', 'udp-batched')).loadBatchedUdp();
  if (opts.paths === null) {
    opts.paths = native.binding ? ['dgram', 'batched'] : ['dgram'];
    if (!native.binding) notes.push(`UDP path batched not measured: ${native.reason}`);
  } else if (opts.paths.includes('batched') && !native.binding) {
    fs.rmSync(tmp, { recursive: true, force: true });
    fail(`--paths batched: the native module cannot be used (${native.reason}); run "npm run build" with a C compiler and Node's headers`);
  }
  if (opts.gdnsd && !gdnsdBinary()) {
    fs.rmSync(tmp, { recursive: true, force: true });
    fail('--gdnsd: gdnsd is not installed (Debian package gdnsd)');
  }
  if (opts.gdnsd && !opts.mixes.some((m) => m.name === 'static')) notes.push('--gdnsd: gdnsd runs on the static mix only, which is not among --mixes');
  // The DO=1 mixes run against the same config with bench.test signed (a key made in the temp dir).
  let signedConfigPath = null;
  if (opts.mixes.some((m) => m.dnssec)) {
    const { signedConfigText } = require('./dnssec-setup');
    signedConfigPath = path.join(tmp, 'bench-signed.yaml');
    fs.writeFileSync(signedConfigPath, signedConfigText(yaml, tmp, path.join(SNAPSHOT_ROOT, 'dist')));
  }

  const files = {};
  for (const mix of opts.mixes) {
    files[mix.name] = path.join(tmp, `${mix.name}.txt`);
    fs.writeFileSync(files[mix.name], `${mix.queries.join('\n')}\n`);
  }
  // The echo gets the static mix's queries (the bytes do not matter to it; dnsperf only matches ids).
  const echoFile = path.join(tmp, 'echo.txt');
  fs.writeFileSync(echoFile, `${MIXES[0].queries.join('\n')}\n`);

  const startMachine = machine();
  const perfVersion = versionOf('dnsperf', ['-h']);
  log(`bench: ${startMachine.cpus} × ${startMachine.cpu_model}, load ${startMachine.loadavg.join(' ')}, node ${process.version}, dnsperf ${perfVersion}`);
  log(`bench: dnsperf -c ${opts.clients} -q ${opts.outstanding}${opts.threads ? ` -T ${opts.threads}` : ''} -l ${opts.duration} (warm-up ${opts.warmup} s), ${opts.pinCpus ? 'pinned: server CPU 0, dnsperf CPU 1' : 'not pinned'}, workers ${opts.workers}, UDP paths ${opts.paths.join(', ')}${opts.gdnsd ? ' + gdnsd (static)' : ''}, ecs-mode ${opts.ecsMode}`);
  if (startMachine.loadavg[0] > 0.5 * startMachine.cpus) log(`bench: warning: the machine is busy (load ${startMachine.loadavg[0]}); numbers will be noisy`);

  let failedChecks = 0;
  const runMix = async (mix, round) => {
    log(`bench: ${mix.name}${opts.rounds > 1 ? ` (round ${round})` : ''} …`);
    const cfg = mix.dnssec ? signedConfigPath : configPath;
    const servers = [];
    const echoes = [];
    let gdnsd = null;
    const checks = {};
    try {
      for (const p of opts.paths) servers.push(await startSteerdns(opts, cfg, null, p));
      for (const p of opts.paths) echoes.push({ udpIo: p, proc: await startEcho(opts, null, p) });
      if (opts.gdnsd && mix.name === 'static') gdnsd = await startGdnsd(opts, tmp, yaml);
      for (const sv of servers) {
        checks[sv.udpIo] = await checkAnswers(mix, sv.port);
        if (!checks[sv.udpIo].ok) {
          failedChecks++;
          log(`bench: ${mix.name} (${sv.udpIo}): the answers are not what the mix is meant to exercise:\n  ${checks[sv.udpIo].problems.slice(0, 6).join('\n  ')}`);
        }
      }
      let gdnsdCheck = null;
      if (gdnsd) {
        gdnsdCheck = await checkAnswers(mix, gdnsd.port);
        if (!gdnsdCheck.ok) notes.push(`gdnsd: the answers are not those of the static mix: ${gdnsdCheck.problems.slice(0, 3).join('; ')}`);
      }
      // The echoes get the same dnsperf runs (same questions, same ECS options): the client does the same work.
      const traffic = { file: files[mix.name], ecs: mix.ecs, edns: Boolean(mix.ecs) || Boolean(mix.dnssec), dnssec: Boolean(mix.dnssec) };
      const echoKey = (p) => (p === 'dgram' ? 'echo' : `echo-${p}`);
      const byPath = (p) => [
        { key: echoKey(p), role: 'echo', udpIo: p, port: echoes.find((e) => e.udpIo === p).proc.port, pid: echoes.find((e) => e.udpIo === p).proc.pid, ...traffic },
        { key: p, role: 'server', udpIo: p, port: servers.find((x) => x.udpIo === p).port, pid: servers.find((x) => x.udpIo === p).pid, ...traffic },
      ];
      // echo, dgram, batched, batched echo: each server next to its echo and to the other path.
      const [first, second] = opts.paths;
      const targets = second ? [...byPath(first), ...byPath(second).reverse()] : byPath(first);
      if (gdnsd) targets.push({ key: 'gdnsd', role: 'other', port: gdnsd.port, pid: gdnsd.pid, ...traffic });
      const got = await measureMix(opts, targets);
      return { round, checks, gdnsdCheck, ...got };
    } finally {
      for (const e of echoes) await stopProcess(e.proc);
      if (gdnsd) {
        await stopProcess(gdnsd);
        fs.writeFileSync(path.join(tmp, `${mix.name}.r${round}.gdnsd.log`), `${gdnsd.log.join('\n')}\n`);
      }
      for (const server of servers) {
        await stopProcess(server);
        fs.writeFileSync(path.join(tmp, `${mix.name}.r${round}.${server.udpIo}.server.log`), `${server.log.join('\n')}\n`);
        const bad = server.log.filter((l) => /"level":"(error|warn)"/.test(l));
        if (bad.length) notes.push(`${mix.name} (${server.udpIo}): the server logged ${bad.length} warning/error line(s), e.g. ${bad[0].slice(0, 300)}`);
      }
    }
  };

  // Every mix once per round (every other round in reverse order, so that no mix always runs first or last).
  const perMix = new Map(opts.mixes.map((m) => [m.name, []]));
  for (let r = 1; r <= opts.rounds; r++) {
    const order = r % 2 === 1 ? opts.mixes : [...opts.mixes].reverse();
    for (const mix of order) perMix.get(mix.name).push(await runMix(mix, r));
  }

  const med = (list, f) => median(list.map(f).filter((x) => x !== null && x !== undefined));
  /** A mix on one UDP path: medians over every echo/server pair of every round (the fields of the rows before --paths). */
  const pathRow = (mix, runs, p) => {
    const pairs = runs.flatMap((x) => x.perPath[p].pairs);
    const srv = pairs.map((x) => x.server);
    const ech = pairs.map((x) => x.echo);
    const lats = runs.map((x) => x.perPath[p].latency).filter(Boolean);
    const medLat = (f) => round(median(lats.map(f).filter((x) => x !== null && x !== undefined)), 3);
    const checks = runs.map((x) => x.checks[p]);
    const completed = srv.reduce((a, x) => a + x.completed, 0);
    const lost = srv.reduce((a, x) => a + (x.lost || 0), 0);
    return {
      udp_io: p,
      pairs: pairs.length,
      qps: Math.round(med(srv, (x) => x.qps)),
      echo_qps: Math.round(med(ech, (x) => x.qps)),
      ratio: round(med(pairs, (x) => x.ratio), 3),
      ratio_min: round(Math.min(...pairs.map((x) => x.ratio ?? Infinity)), 3),
      ratio_max: round(Math.max(...pairs.map((x) => x.ratio ?? -Infinity)), 3),
      cpu_us_per_query: round(med(srv, (x) => x.cpu_us_per_query), 2),
      echo_cpu_us_per_query: round(med(ech, (x) => x.cpu_us_per_query), 2),
      cpu_ratio: round(med(pairs, (x) => x.cpu_ratio), 3),
      lost,
      lost_pct: completed + lost > 0 ? round((lost / (completed + lost)) * 100, 3) : null,
      rcodes: srv.reduce((acc, x) => {
        for (const [k, v] of Object.entries(x.rcodes || {})) acc[k] = (acc[k] || 0) + v;
        return acc;
      }, {}),
      avg_ms: round(med(srv, (x) => x.avg_ms), 3),
      server_cpu_pct: round(med(srv, (x) => x.server_cpu_pct), 1),
      echo_cpu_pct: round(med(ech, (x) => x.server_cpu_pct), 1),
      dnsperf_cpu_pct: round(med(srv, (x) => x.dnsperf_cpu_pct), 1),
      other_cpu_pct: round(med([...srv, ...ech], (x) => x.other_cpu_pct), 1),
      other_cpu_pct_max: round(Math.max(...[...srv, ...ech].map((x) => x.other_cpu_pct ?? 0)), 1),
      steal_pct: round(med([...srv, ...ech], (x) => x.host_steal_pct), 1),
      latency: lats.length
        ? {
            target_qps: Math.round(median(lats.map((l) => l.target_qps))),
            achieved_qps: Math.round(median(lats.map((l) => l.achieved_qps))),
            lost: lats.reduce((a, l) => a + (l.lost || 0), 0),
            avg_ms: medLat((l) => l.avg_ms),
            p50_ms: medLat((l) => l.p50_ms),
            p90_ms: medLat((l) => l.p90_ms),
            p99_ms: medLat((l) => l.p99_ms),
            p999_ms: medLat((l) => l.p999_ms),
            max_ms: round(Math.max(...lats.map((l) => l.max_ms)), 3),
            dnsperf: lats[0].dnsperf,
          }
        : null,
      check: { ok: checks.every((c) => c.ok), problems: [...new Set(checks.flatMap((c) => c.problems))], samples: checks[0].samples },
      dnsperf: srv[0].dnsperf,
      rounds: runs.map((x) => ({
        round: x.round,
        pairs: x.perPath[p].pairs.map((q) => ({ echo_qps: q.echo.qps, qps: q.server.qps, ratio: round(q.ratio, 3), cpu_ratio: round(q.cpu_ratio, 3), other_cpu_pct: [q.echo.other_cpu_pct, q.server.other_cpu_pct] })),
        p99_ms: x.perPath[p].latency ? x.perPath[p].latency.p99_ms : null,
      })),
    };
  };

  // One row per mix. Its own fields (as before --paths existed) are the first path's; `paths` has every path's.
  const rows = opts.mixes.map((mix) => {
    const runs = perMix.get(mix.name);
    const paths = Object.fromEntries(opts.paths.map((p) => [p, pathRow(mix, runs, p)]));
    const primary = paths[opts.paths[0]];
    const row = {
      target: mix.name,
      description: mix.description,
      ecs: mix.ecs ? mix.ecs.map((s) => `${s.label} ${s.cidr} (option 8:${ecsOptionHex(s.cidr)})`) : null,
      query_names: new Set(mix.queries.map((q) => q.split(/\s+/)[0])).size,
      ...primary,
      check: { ok: Object.values(paths).every((x) => x.check.ok), problems: [...new Set(Object.values(paths).flatMap((x) => x.check.problems))], samples: primary.check.samples },
      paths,
    };
    if (paths.batched && paths.dgram) {
      const cross = runs.flatMap((x) => x.cross);
      const cpu = cross.map((c) => c.cpu).filter((x) => x !== null);
      row.batched_vs_dgram = {
        cpu_per_query: round(median(cpu), 3),
        cpu_per_query_min: cpu.length ? round(Math.min(...cpu), 3) : null,
        cpu_per_query_max: cpu.length ? round(Math.max(...cpu), 3) : null,
        qps: round(med(cross, (c) => c.qps), 3),
        target: BATCHED_TARGET,
        met: cpu.length ? median(cpu) <= BATCHED_TARGET : null,
      };
    }
    const g = runs.flatMap((x) => (x.others && x.others.gdnsd ? x.others.gdnsd : []));
    if (g.length) {
      row.gdnsd = {
        qps: Math.round(med(g, (x) => x.qps)),
        cpu_us_per_query: round(med(g, (x) => x.cpu_us_per_query), 2),
        cpu_pct: round(med(g, (x) => x.server_cpu_pct), 1),
        lost: g.reduce((a, x) => a + (x.lost || 0), 0),
        udp_threads: opts.workers,
        check: runs[0].gdnsdCheck,
        dnsperf: g[0].dnsperf,
      };
    }
    return row;
  });

  // Signed vs unsigned in the same run (issue 15: signed throughput ≥ 0.8× the unsigned mix): qps, the ratios to the
  // echo (steadier: each is paired with its own echo slices), and server CPU per query; per UDP path.
  for (const mix of opts.mixes.filter((m) => m.unsigned)) {
    const signedRow = rows.find((r) => r.target === mix.name);
    const plainRow = rows.find((r) => r.target === mix.unsigned);
    if (!signedRow || !plainRow) continue;
    const vs = (sr, pr) =>
      !pr.qps || !pr.ratio
        ? undefined
        : {
            mix: mix.unsigned,
            qps: round(sr.qps / pr.qps, 3),
            echo_ratio: round(sr.ratio / pr.ratio, 3),
            cpu_per_query: sr.cpu_us_per_query && pr.cpu_us_per_query ? round(sr.cpu_us_per_query / pr.cpu_us_per_query, 3) : null,
          };
    for (const p of opts.paths) signedRow.paths[p].vs_unsigned = vs(signedRow.paths[p], plainRow.paths[p]);
    signedRow.vs_unsigned = signedRow.paths[opts.paths[0]].vs_unsigned;
  }

  for (const row of rows) {
    for (const r of Object.values(row.paths)) {
      const t = opts.paths.length > 1 ? `${row.target} (${r.udp_io})` : row.target;
      const echo = r.udp_io === 'dgram' ? 'the echo' : `the ${r.udp_io} echo`;
      if (r.echo_cpu_pct !== null && r.echo_cpu_pct < 90) notes.push(`${t}: ${echo} used ${r.echo_cpu_pct} % of a CPU (dnsperf ${r.dnsperf_cpu_pct} %): the client or the rest of the host limits it, not the echo`);
      if (r.other_cpu_pct_max > 25) notes.push(`${t}: other processes/kernel used up to ${r.other_cpu_pct_max} % of a CPU during a measurement: noisy`);
      if (r.ratio_max - r.ratio_min > 0.15) notes.push(`${t}: the pair ratios spread from ${r.ratio_min} to ${r.ratio_max}: a noisy host (try more --rounds or --slices)`);
      if (r.latency && r.latency.achieved_qps < 0.95 * r.latency.target_qps) notes.push(`${t}: the latency run reached ${r.latency.achieved_qps} of ${r.latency.target_qps} qps (dnsperf -v is the limit?)`);
    }
  }

  // Profiles: a separate run per mix under --cpu-prof (its qps is not comparable and not reported as a result), on the
  // first of --paths (and that path's echo for "echo").
  const profiles = {};
  const profiled = [...(opts.profile.has('echo') ? [ECHO_MIX] : []), ...opts.mixes.filter((m) => opts.profile.has(m.name))];
  for (const mix of profiled) {
    log(`bench: profiling ${mix.name} …`);
    const dir = path.join(tmp, `prof-${mix.name}`);
    const file = mix === ECHO_MIX ? echoFile : files[mix.name];
    const server = mix === ECHO_MIX ? await startEcho(opts, dir, opts.paths[0]) : await startSteerdns(opts, mix.dnssec ? signedConfigPath : configPath, dir, opts.paths[0]);
    let run;
    let warm = null;
    try {
      const traffic = { port: server.port, file, ecs: mix.ecs, edns: Boolean(mix.ecs) || Boolean(mix.dnssec), dnssec: Boolean(mix.dnssec) };
      if (opts.warmup > 0) warm = await drive(opts, { ...traffic, duration: opts.warmup });
      run = await drive(opts, { ...traffic, duration: opts.duration });
    } finally {
      await stopProcess(server);
    }
    const found = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
    if (found.length === 0) {
      notes.push(`${mix.name}: no .cpuprofile was written`);
      continue;
    }
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    const saved = path.join(RESULTS_DIR, `${mix.name}.cpuprofile`);
    fs.copyFileSync(path.join(dir, found[0]), saved);
    const answered = run.stats.completed + (warm ? warm.stats.completed : 0);
    profiles[mix.name] = { file: path.relative(ROOT, saved), qps_under_profiler: Math.round(run.stats.qps), ...summarizeProfile(saved, answered) };
  }

  const endMachine = machine();
  const result = {
    tool: 'bench/run.js',
    settings: {
      duration_s: opts.duration,
      warmup_s: opts.warmup,
      clients: opts.clients,
      outstanding: opts.outstanding,
      threads: opts.threads,
      pinned: opts.pinCpus,
      workers: opts.workers,
      udp_paths: opts.paths,
      gdnsd: opts.gdnsd,
      ecs_mode: opts.ecsMode,
      rounds: opts.rounds,
      slices: opts.slices,
      latency_run_s: opts.latencyDuration,
      dnsperf_timeout_s: 2,
    },
    versions: { node: process.version, dnsperf: perfVersion, steerdns: gitState() },
    machine: { start: startMachine, end: endMachine },
    target_ratio: TARGET_RATIO,
    p99_target_ms: P99_TARGET_MS,
    batched_cpu_target: BATCHED_TARGET,
    results: rows,
    profiles,
    notes,
  };
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, `${JSON.stringify(result, null, 2)}\n`);

  // ---- report ----
  const out = [];
  out.push('');
  out.push(`steerdns bench — ${startMachine.cpus} × ${startMachine.cpu_model}, node ${process.version}, dnsperf ${perfVersion}`);
  out.push(`dnsperf -c ${opts.clients} -q ${opts.outstanding}${opts.threads ? ` -T ${opts.threads}` : ''} -l ${opts.duration} -t 2 (warm-up ${opts.warmup} s); ${opts.pinCpus ? 'server/echo on CPU 0, dnsperf on CPU 1' : 'not pinned'}; server.workers ${opts.workers}; UDP paths ${opts.paths.join(', ')}; ECS mixes: ${opts.ecsMode}`);
  out.push(`load average: start ${startMachine.loadavg.join(' ')}, end ${endMachine.loadavg.join(' ')}`);
  out.push('');
  out.push(table(rows, opts.paths));
  out.push('');
  const ceilings = opts.paths.map((p) => (p === 'dgram' ? 'dgram: echo-server.js' : `${p}: echo-${p}.js`)).join(', ');
  out.push(`Each mix: ${opts.rounds} round(s) × ${opts.slices} slices; a slice is one ${round(opts.duration / opts.slices, 2)} s peak run per target, in an order reversed every slice; qps and echo qps are medians of the slices,`);
  out.push(`ratio = median of (server slice qps ÷ its own path's echo slice qps; ${ceilings}), with the smallest and largest pair ratio. Target ≥ ${TARGET_RATIO}; p99 < ${P99_TARGET_MS} ms at half of peak.`);
  out.push('µs/q = server CPU time per answered query; cpu ratio = median of (echo µs/q ÷ server µs/q) over the pairs.');
  out.push('srv% = the server process, other% = the host minus server/echo, dnsperf and this script (median over the slices); 100 = one CPU.');
  const each = (f) => rows.flatMap((row) => Object.values(row.paths).map((r) => f(r, opts.paths.length > 1 ? `${row.target}/${r.udp_io}` : row.target)).filter(Boolean));
  const below = each((r, t) => (r.ratio !== null && r.ratio < TARGET_RATIO ? `${t} ${r.ratio.toFixed(3)}` : null));
  if (below.length) out.push(`below ${TARGET_RATIO}: ${below.join(', ')}`);
  for (const row of rows) {
    for (const r of Object.values(row.paths)) {
      if (!r.vs_unsigned) continue;
      const v = r.vs_unsigned;
      out.push(`signed vs unsigned${opts.paths.length > 1 ? ` (${r.udp_io})` : ''}: ${row.target} / ${v.mix}: qps ${fmt(v.qps, 3)}, echo ratio ${fmt(v.echo_ratio, 3)}, CPU per query ${fmt(v.cpu_per_query, 3)}× ${v.echo_ratio >= DNSSEC_TARGET ? `(target ≥ ${DNSSEC_TARGET} met)` : `(below the ${DNSSEC_TARGET} target)`}`);
    }
  }
  const slow = each((r, t) => (r.latency && r.latency.p99_ms !== null && r.latency.p99_ms >= P99_TARGET_MS ? `${t} ${r.latency.p99_ms} ms` : null));
  if (slow.length) out.push(`p99 ≥ ${P99_TARGET_MS} ms at half peak: ${slow.join(', ')}`);
  if (opts.paths.length > 1 || rows.some((r) => r.gdnsd)) {
    out.push('');
    out.push(pathsTable(rows, opts.paths));
    out.push('');
    if (opts.paths.length > 1) {
      out.push(`b/d µs/q = median over the slices of (batched µs/q ÷ dgram µs/q), the two measured seconds apart (min–max beside it); issue 16's target: ≤ ${BATCHED_TARGET} on every mix.`);
      const over = rows.filter((r) => r.batched_vs_dgram && !r.batched_vs_dgram.met).map((r) => `${r.target} ${fmt(r.batched_vs_dgram.cpu_per_query, 3)}`);
      out.push(over.length ? `batched CPU per query above ${BATCHED_TARGET}× dgram: ${over.join(', ')}` : `batched CPU per query ≤ ${BATCHED_TARGET}× dgram on every mix measured`);
    }
    for (const r of rows.filter((x) => x.gdnsd)) {
      out.push(`gdnsd ${r.target} (udp_threads ${r.gdnsd.udp_threads}, same slices): ${r.gdnsd.qps} qps, ${fmt(r.gdnsd.cpu_us_per_query, 2)} µs/q, ${fmt(r.gdnsd.cpu_pct, 0)} % CPU, lost ${r.gdnsd.lost}${r.gdnsd.check && !r.gdnsd.check.ok ? ', answers WRONG' : ''}`);
    }
  }
  for (const [name, p] of Object.entries(profiles)) {
    out.push('');
    out.push(`profile ${name} (${p.file}; ${p.qps_under_profiler} qps under the profiler, idle ${p.idle_pct} %, ${p.busy_us_per_query} µs busy per query):`);
    for (const c of p.categories) out.push(`  ${c.pct_of_busy.toFixed(1).padStart(5)} %  ${String(c.us_per_query).padStart(6)} µs/q  ${c.category}`);
    out.push('  steerdns files:');
    for (const f of p.steerdns_files.slice(0, 8)) out.push(`  ${f.pct_of_busy.toFixed(1).padStart(5)} %  ${String(f.us_per_query).padStart(6)} µs/q  ${f.file}`);
    out.push('  top self time:');
    for (const t of p.top.slice(0, 15)) out.push(`  ${t.pct_of_busy.toFixed(1).padStart(5)} %  ${t.function}`);
  }
  for (const n of notes) out.push(`note: ${n}`);
  out.push('');
  out.push(`results: ${path.relative(process.cwd(), opts.out) || opts.out}`);
  process.stdout.write(`${out.join('\n')}\n`);

  if (opts.keep) log(`bench: temp dir kept: ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
  if (failedChecks > 0) {
    log(`bench: ${failedChecks} mix(es) did not answer as expected (see "answers" column and results JSON)`);
    process.exitCode = 1;
  }
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`bench: ${err && err.stack ? err.stack : err}\n`);
    killChildren();
    process.exit(1);
  });
}

// For test/bench: the mixes and the answer checks, without running dnsperf.
module.exports = { MIXES, checkAnswers };
