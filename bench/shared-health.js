#!/usr/bin/env node
'use strict';
// Shared health benchmark (issue: "3 instances, 10,000 targets at a 10 s interval: CPU per instance for publishing
// and aggregating, Redis operations per second and Redis CPU"). Starts a redis-server on a free loopback port and N
// instance processes (default 3), each holding the same T targets (default 10,000) at one interval (default 10 s)
// through the health module's shared-health coordinator (dist/health/shared: SharedHealth + RedisHealthStore), fed
// with synthetic attempt results at the real rate (T / interval per second, evenly spread, ~1 % failing, 3 %
// of targets failing for one instance only): no probe traffic, so the CPU measured is the cost of shared health
// itself (publishing, reading, aggregating, writing the HealthStore). One more process runs the same feed into a
// plain HealthStore (no shared health) as the baseline. Reports, over the measured window after a warm-up: CPU per
// instance (and minus the baseline), Redis commands per second and Redis CPU, from INFO. Plain Node (CommonJS);
// needs `npm run build` and the redis-server binary (Debian package redis-server).
//
//   node bench/shared-health.js                     # 3 instances, 10,000 targets, 10 s interval, 20 s warm-up, 60 s measured
//   node bench/shared-health.js -n 20000 -d 30 --json out.json

const { fork, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');

const USAGE = `usage: node bench/shared-health.js [options]     (after npm run build)

  -n, --targets N       targets per instance (default 10000)
  -v, --instances N     vantage points (default 3)
  -i, --interval S      monitor interval (default 10)
  -w, --warmup S        seconds before measuring (default 20: one start-up read and two intervals)
  -d, --duration S      measured seconds (default 60)
      --poll S          shared_health.poll_interval (default 1)
      --json FILE       also write the results as JSON
      --profile DIR     write a V8 CPU profile of every process into DIR (node --cpu-prof)
  -h, --help`;

const REGIONS = ['WEU', 'ENAM', 'WNAM', 'EEU', 'NEAS', 'SEAS', 'OC', 'SAS', 'ME', 'NAF', 'SAF', 'NSAM', 'SSAM'];

// ---- one instance (child process) ---------------------------------------------------------------------------

function instance(opts) {
  const { HealthStore } = require(path.join(DIST, 'health', 'store.js'));
  const { makeTarget, targetKey } = require(path.join(DIST, 'health', 'targets.js'));
  const { SharedHealth } = require(path.join(DIST, 'health', 'shared', 'coordinator.js'));
  const { RedisHealthStore } = require(path.join(DIST, 'health', 'shared', 'redis-store.js'));
  const monitor = {
    name: 'web', type: 'http', description: '', method: 'GET', path: '/', port: 80, header: {}, timeout: 2, retries: 0,
    interval: opts.interval, expected_codes: '200', expected_body: null, follow_redirects: false, allow_insecure: false,
    consecutive_up: 1, consecutive_down: 1,
  };
  const targets = [];
  for (let i = 0; i < opts.targets; i++) {
    const origin = { name: `o${i}`, address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, enabled: true, weight: 1, port: null, priority: 10, header: {} };
    targets.push(makeTarget(targetKey(monitor, origin), monitor, origin, [{ pool: `p${i}`, origin: origin.name, monitor: 'web' }]));
  }
  const store = new HealthStore();
  let transitions = 0;
  store.onTransition(() => transitions++);
  const logger = { info() {}, warn() {}, error() {}, debug() {} };
  let shared = null;
  if (!opts.baseline) {
    const config = { url: opts.url, key_prefix: 'bench:', ttl: null, grace: 30, poll_interval: opts.poll, timeout: 2, tls: null };
    shared = new SharedHealth({ store, engine: new RedisHealthStore(config, logger), vantage: { pop: opts.pop, region: opts.region }, config, logger });
    shared.setTargets(targets);
  }
  // The feed: every target once per interval, evenly spread, paced by the clock (a late tick delivers more).
  const pass = { ok: true, reason: 'No failures', rttMs: 12.5, responseCode: 200, detail: '', tries: 1 };
  const fail = { ok: false, reason: 'Response code mismatch error', rttMs: 12.5, responseCode: 503, detail: 'HTTP 503', tries: 1 };
  const perMs = opts.targets / (opts.interval * 1000);
  let next = 0;
  let delivered = 0;
  const t0 = Date.now();
  const tick = setInterval(() => {
    const due = Math.floor((Date.now() - t0) * perMs);
    while (delivered < due) {
      delivered++;
      const t = targets[next];
      // 3 % of targets fail for instance 0 only (outvoted), 1 % of attempts fail anywhere (noise).
      const bad = (opts.index === 0 && next % 33 === 0) || Math.random() < 0.01;
      const now = Date.now();
      if (shared) shared.onResult(t, bad ? fail : pass, now);
      else store.record(t.key, bad ? fail : pass, t.monitor, now);
      next = (next + 1) % targets.length;
    }
  }, 10);
  process.on('message', (m) => {
    if (m === 'cpu') {
      const s = shared ? shared.stats() : null;
      process.send({ cpu: process.cpuUsage(), at: performance.now(), rss: process.memoryUsage().rss, transitions, stats: s && { mode: s.mode, vps: s.vantage_points.length, published: s.published_total, received: s.received_total, readErrors: s.read_errors_total, publishErrors: s.publish_errors_total } });
    } else if (m === 'stop') {
      clearInterval(tick);
      void (shared ? shared.stop() : Promise.resolve()).then(() => process.exit(0));
    }
  });
  process.send({ ready: true, startMs: Date.now() - t0 });
}

// ---- the driver -------------------------------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

function redisCommand(port, line) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('redis: no answer'));
    }, 3000);
    sock.on('connect', () => sock.write(`${line}\r\n`));
    sock.on('data', (d) => {
      buf += d.toString();
      // A bulk string reply: $<len>\r\n<data>\r\n
      const m = /^\$(\d+)\r\n/.exec(buf);
      if ((m && buf.length >= m[0].length + Number(m[1]) + 2) || (!m && buf.endsWith('\r\n') && !buf.startsWith('$'))) {
        clearTimeout(timer);
        sock.end();
        resolve(m ? buf.slice(m[0].length, m[0].length + Number(m[1])) : buf.trim());
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

async function redisInfo(port) {
  const text = await redisCommand(port, 'INFO');
  const out = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const { values } = parseArgs({
    options: {
      targets: { type: 'string', short: 'n', default: '10000' },
      instances: { type: 'string', short: 'v', default: '3' },
      interval: { type: 'string', short: 'i', default: '10' },
      warmup: { type: 'string', short: 'w', default: '20' },
      duration: { type: 'string', short: 'd', default: '60' },
      poll: { type: 'string', default: '1' },
      json: { type: 'string' },
      profile: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!fs.existsSync(path.join(DIST, 'health', 'shared', 'coordinator.js'))) {
    console.error('bench/shared-health.js: run `npm run build` first');
    return 2;
  }
  const targets = Number(values.targets);
  const count = Number(values.instances);
  const interval = Number(values.interval);
  const warmup = Number(values.warmup);
  const duration = Number(values.duration);
  const poll = Number(values.poll);

  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steerdns-bench-redis-'));
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  redis.on('error', (e) => {
    console.error(`redis-server: ${e.message} (Debian package redis-server)`);
    process.exit(2);
  });
  for (let i = 0; ; i++) {
    try {
      await redisCommand(port, 'PING');
      break;
    } catch {
      if (i > 100) throw new Error('redis-server did not start');
      await sleep(50);
    }
  }
  const url = `redis://127.0.0.1:${port}`;
  const children = [];
  const start = (o) =>
    new Promise((resolve) => {
      const execArgv = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values.profile)}`] : [];
      const child = fork(__filename, ['--child', JSON.stringify(o)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
      child.once('message', () => resolve(child));
      children.push(child);
    });
  const procs = [];
  for (let i = 0; i < count; i++) procs.push({ name: `VP${i + 1} (${REGIONS[i % REGIONS.length]})`, child: await start({ url, targets, interval, poll, index: i, pop: `VP${i + 1}`, region: REGIONS[i % REGIONS.length] }) });
  const base = { name: 'baseline (no shared health)', child: await start({ url, targets, interval, poll, index: -1, baseline: true }) };
  const ask = (child) => new Promise((resolve) => {
    child.once('message', resolve);
    child.send('cpu');
  });
  console.log(`${count} instances + baseline, ${targets} targets each at ${interval} s (${(targets / interval).toFixed(0)} results/s per instance), poll ${poll} s; warm-up ${warmup} s, measuring ${duration} s …`);
  await sleep(warmup * 1000);
  const all = [...procs, base];
  const before = await Promise.all(all.map((p) => ask(p.child)));
  const infoBefore = await redisInfo(port);
  const tBefore = Date.now();
  await sleep(duration * 1000);
  const after = await Promise.all(all.map((p) => ask(p.child)));
  const infoAfter = await redisInfo(port);
  const seconds = (Date.now() - tBefore) / 1000;

  const cpuPct = (a, b) => ((b.cpu.user - a.cpu.user + b.cpu.system - a.cpu.system) / 1e6 / seconds) * 100;
  const baseCpu = cpuPct(before[count], after[count]);
  const rows = procs.map((p, i) => {
    const c = cpuPct(before[i], after[i]);
    const s = after[i].stats;
    return { instance: p.name, cpu_pct: c, shared_cost_pct: c - baseCpu, rss_mb: after[i].rss / 1048576, mode: s.mode, vantage_points: s.vps, published_per_s: (s.published - before[i].stats.published) / seconds, received_per_s: (s.received - before[i].stats.received) / seconds, errors: s.readErrors + s.publishErrors, transitions: after[i].transitions - before[i].transitions };
  });
  const commands = (Number(infoAfter.total_commands_processed) - Number(infoBefore.total_commands_processed)) / seconds;
  const redisCpu = ((Number(infoAfter.used_cpu_user) + Number(infoAfter.used_cpu_sys) - Number(infoBefore.used_cpu_user) - Number(infoBefore.used_cpu_sys)) / seconds) * 100;
  const netIn = (Number(infoAfter.total_net_input_bytes) - Number(infoBefore.total_net_input_bytes)) / seconds;
  const netOut = (Number(infoAfter.total_net_output_bytes) - Number(infoBefore.total_net_output_bytes)) / seconds;

  console.log('');
  console.log('| instance | CPU % of a core | shared health (− baseline) | RSS MB | mode | vantage points | published/s | received/s | store errors | transitions |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.instance} | ${r.cpu_pct.toFixed(2)} | ${r.shared_cost_pct.toFixed(2)} | ${r.rss_mb.toFixed(0)} | ${r.mode} | ${r.vantage_points} | ${r.published_per_s.toFixed(0)} | ${r.received_per_s.toFixed(0)} | ${r.errors} | ${r.transitions} |`);
  console.log(`| ${base.name} | ${baseCpu.toFixed(2)} | — | ${(after[count].rss / 1048576).toFixed(0)} | — | — | — | — | — | ${after[count].transitions - before[count].transitions} |`);
  console.log('');
  console.log(`redis-server: ${commands.toFixed(1)} commands/s, CPU ${redisCpu.toFixed(2)} % of a core, network in ${(netIn / 1024).toFixed(0)} KB/s, out ${(netOut / 1024).toFixed(0)} KB/s, memory ${infoAfter.used_memory_human}`);
  console.log(`host: ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  if (values.json) fs.writeFileSync(values.json, JSON.stringify({ targets, instances: count, interval, poll, seconds, rows, baseline_cpu_pct: baseCpu, redis: { commands_per_s: commands, cpu_pct: redisCpu, net_in_bps: netIn, net_out_bps: netOut, used_memory: infoAfter.used_memory_human } }, null, 2));
  for (const c of children) c.send('stop');
  await sleep(1500);
  redis.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
  return 0;
}

if (process.argv[2] === '--child') instance(JSON.parse(process.argv[3]));
else main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
