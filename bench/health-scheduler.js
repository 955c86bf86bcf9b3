#!/usr/bin/env node
'use strict';
// Health scheduler benchmark (design §4: "monitors for 10,000 targets at 10 s intervals use a small fraction of a
// core"). Holds N probe targets (default 10,000) at one interval (default 10 s) against local servers — 10 TCP
// listeners and 10 HTTP servers on 127.0.20.x, in a separate process so that their CPU is not counted — for a
// fixed time (default 60 s), through the health module's public API (dist/health: makeTarget, targetKey,
// HealthScheduler, HealthStore), and reports the CPU of this process, memory, attempts/s, scheduler statistics
// and event-loop delay. Plain Node (CommonJS, no dependencies); run `npm run build` first.
//
//   node bench/health-scheduler.js                       # tcp probes, 10,000 targets, 10 s interval, 60 s
//   node bench/health-scheduler.js --probe http
//   node bench/health-scheduler.js --probe noop          # the scheduler and store alone (probes resolve at once)
//   node bench/health-scheduler.js --probe tcp -d 30 --targets 20000 --json out.json
//   node --expose-gc bench/health-scheduler.js --probe http -d 180   # heap after a full GC per line (leak check)
//   node bench/health-scheduler.js --help

const { fork } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { monitorEventLoopDelay, performance } = require('node:perf_hooks');
const { parseArgs } = require('node:util');

const ROOT = path.resolve(__dirname, '..');
const HEALTH = path.join(ROOT, 'dist', 'health', 'index.js');

const USAGE = `usage: node bench/health-scheduler.js [options]     (after npm run build)

  -p, --probe tcp|http|noop   what one try does (default tcp); noop resolves at once: the scheduler alone
  -n, --targets N             probe targets (default 10000)
  -i, --interval S            monitor interval in seconds (default 10)
  -d, --duration S            run time in seconds (default 60)
      --servers N             local TCP listeners and HTTP servers, targets spread over them (default 10)
      --base A.B.C            their addresses: A.B.C.1 … A.B.C.N (default 127.0.20)
      --concurrency N         scheduler concurrency (default: the scheduler's, 256)
      --start-spread MS       first attempts spread over this (default: the scheduler's, 1000 ms)
      --timeout S             monitor timeout (default 5)
      --sample S              seconds between progress lines (default 5)
      --json FILE             also write the results as JSON
  -h, --help

The report separates the start-up burst (every target probed within the first --start-spread ms) from the steady
state (from one interval + 2 s after start to the end), where the design figure applies.`;

// ---- the local servers (child process) -------------------------------------------------------------------

function serve(base, count) {
  const servers = [];
  const listen = (srv, host) =>
    new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ host, port: 0, backlog: 4096 }, () => resolve(srv.address().port));
    });
  (async () => {
    const tcp = [];
    const httpServers = [];
    for (let i = 1; i <= count; i++) {
      const host = `${base}.${i}`;
      const t = net.createServer((s) => {
        s.on('error', () => undefined);
        s.resume(); // the probe closes; allowHalfOpen is off, so we close too
      });
      servers.push(t);
      tcp.push({ host, port: await listen(t, host) });
      const h = http.createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '3' });
        res.end('ok\n');
      });
      h.keepAliveTimeout = 1000;
      h.on('clientError', (_e, s) => s.destroy());
      servers.push(h);
      httpServers.push({ host, port: await listen(h, host) });
    }
    process.send({ type: 'ready', tcp, http: httpServers });
  })().catch((err) => {
    process.send({ type: 'error', error: String(err && err.stack ? err.stack : err) });
    process.exit(1);
  });
  process.on('message', (m) => {
    if (m && m.type === 'cpu') process.send({ type: 'cpu', seq: m.seq, cpu: process.cpuUsage(), rss: process.memoryUsage().rss });
  });
  process.on('disconnect', () => process.exit(0));
}

// ---- the benchmark ---------------------------------------------------------------------------------------

function parse(argv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      probe: { type: 'string', short: 'p', default: 'tcp' },
      targets: { type: 'string', short: 'n', default: '10000' },
      interval: { type: 'string', short: 'i', default: '10' },
      duration: { type: 'string', short: 'd', default: '60' },
      servers: { type: 'string', default: '10' },
      base: { type: 'string', default: '127.0.20' },
      concurrency: { type: 'string' },
      'start-spread': { type: 'string' },
      timeout: { type: 'string', default: '5' },
      sample: { type: 'string', default: '5' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
      serve: { type: 'boolean', default: false }, // internal: run as the server child
    },
  });
  const num = (name, min) => {
    const v = Number(values[name]);
    if (!Number.isFinite(v) || v < min) throw new Error(`--${name} must be a number ≥ ${min}`);
    return v;
  };
  if (!['tcp', 'http', 'noop'].includes(values.probe)) throw new Error('--probe must be tcp, http or noop');
  if (!/^\d+\.\d+\.\d+$/.test(values.base)) throw new Error('--base must look like 127.0.20');
  return {
    help: values.help,
    serve: values.serve,
    probe: values.probe,
    targets: Math.floor(num('targets', 1)),
    interval: num('interval', 1),
    duration: num('duration', 1),
    servers: Math.floor(num('servers', 1)),
    base: values.base,
    concurrency: values.concurrency === undefined ? undefined : Math.floor(num('concurrency', 1)),
    startSpread: values['start-spread'] === undefined ? undefined : num('start-spread', 0),
    timeout: num('timeout', 0.1),
    sample: num('sample', 1),
    json: values.json,
  };
}

function monitor(type, timeout, interval) {
  return {
    name: 'bench',
    type,
    description: '',
    method: 'GET',
    path: '/health',
    port: null, // the endpoint's port
    header: {},
    timeout,
    retries: 0,
    interval,
    expected_codes: '200',
    expected_body: null,
    follow_redirects: false,
    allow_insecure: false,
    consecutive_up: 1,
    consecutive_down: 1,
  };
}

const ms = (ns) => Math.max(0, ns / 1e6);
const mb = (b) => Math.round((b / 1048576) * 10) / 10;
const pct = (cpuUs, wallMs) => (wallMs > 0 ? (cpuUs / 1000 / wallMs) * 100 : 0);
const r1 = (x) => Math.round(x * 10) / 10;
const r2 = (x) => Math.round(x * 100) / 100;

async function main() {
  const o = parse(process.argv.slice(2));
  if (o.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (o.serve) {
    serve(o.base, o.servers);
    return -1;
  }
  if (!fs.existsSync(HEALTH)) {
    process.stderr.write(`${HEALTH} not found: run \`npm run build\` first\n`);
    return 2;
  }
  const health = require(HEALTH);
  const { makeTarget, targetKey, HealthScheduler, HealthStore } = health;

  // Local servers in a child process (their CPU is reported separately).
  let child = null;
  let endpoints = [];
  if (o.probe !== 'noop') {
    child = fork(__filename, ['--serve', '--base', o.base, '--servers', String(o.servers)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const ready = await new Promise((resolve, reject) => {
      child.once('message', (m) => (m.type === 'ready' ? resolve(m) : reject(new Error(m.error))));
      child.once('exit', (code) => reject(new Error(`server process exited with ${code}`)));
    });
    endpoints = o.probe === 'tcp' ? ready.tcp : ready.http;
  } else {
    for (let i = 1; i <= o.servers; i++) endpoints.push({ host: `${o.base}.${i}`, port: 9 });
  }
  let cpuSeq = 0;
  const childCpu = () =>
    child
      ? new Promise((resolve) => {
          const seq = ++cpuSeq;
          const on = (m) => {
            if (m.type === 'cpu' && m.seq === seq) {
              child.off('message', on);
              resolve(m);
            }
          };
          child.on('message', on);
          child.send({ type: 'cpu', seq });
        })
      : Promise.resolve({ cpu: { user: 0, system: 0 }, rss: 0 });

  // Targets: one monitor per type, one endpoint object per target, spread round-robin over the servers. The
  // servers are few, so the natural key (type, address:port, monitor hash) repeats: a suffix makes each target
  // distinct, as 10,000 endpoints would be.
  const m = monitor(o.probe === 'noop' ? 'tcp' : o.probe, o.timeout, o.interval);
  const targets = [];
  for (let i = 0; i < o.targets; i++) {
    const ep = endpoints[i % endpoints.length];
    const origin = { name: `o${i}`, address: ep.host, enabled: true, weight: 1, port: ep.port, priority: 10, header: {} };
    const key = `${targetKey(m, origin)} bench#${i}`;
    targets.push(makeTarget(key, m, origin, [{ pool: `pool${i % 1000}`, origin: origin.name, monitor: m.name }]));
  }

  const store = new HealthStore();
  let transitions = 0;
  store.onTransition(() => transitions++);
  const failures = new Map();
  let rttSum = 0;
  let rttN = 0;
  const noop = () => Promise.resolve({ ok: true, reason: 'No failures', rttMs: 0, responseCode: null, detail: '' });
  const scheduler = new HealthScheduler(store, {
    concurrency: o.concurrency,
    startSpreadMs: o.startSpread,
    probe: o.probe === 'noop' ? noop : undefined,
    onAttempt: (_t, r) => {
      if (!r.ok) failures.set(r.reason, (failures.get(r.reason) ?? 0) + 1);
      else if (r.rttMs !== null) {
        rttSum += r.rttMs;
        rttN++;
      }
    },
  });

  const gcBeforeSample = typeof global.gc === 'function';
  const resolution = 10;
  const eldAll = monitorEventLoopDelay({ resolution });
  const eldSteady = monitorEventLoopDelay({ resolution });
  eldAll.enable();
  const lag = (h, p) => r2(Math.max(0, ms(h.percentile(p)) - resolution));

  const steadyFrom = Math.min(o.duration * 1000, o.interval * 1000 + 2000);
  process.stdout.write(
    `health scheduler bench: probe=${o.probe} targets=${o.targets} interval=${o.interval}s duration=${o.duration}s ` +
      `servers=${o.probe === 'noop' ? 0 : endpoints.length} (${o.base}.1-${o.servers}) concurrency=${o.concurrency ?? 'default (256)'} ` +
      `node=${process.version} cpus=${os.cpus().length}\n` +
      `expected steady rate: ${r1(o.targets / o.interval)} attempts/s; steady state measured from t=${steadyFrom / 1000}s\n\n`,
  );
  if (gcBeforeSample) process.stdout.write('(--expose-gc: a full GC runs before each progress line; its CPU is counted)\n');
  process.stdout.write('    t   attempts/s   cpu%   srv cpu%   rss MB  heap MB  inflight queued  skipped  lag p99 ms\n');

  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const srv0 = await childCpu();
  scheduler.setTargets(targets);
  const setTargetsMs = performance.now() - t0;

  let last = { t: t0, cpu: process.cpuUsage(), srv: srv0.cpu, attempts: 0 };
  let steady = null;
  let peakRss = 0;
  let peakHeap = 0;
  let maxQueued = 0;
  let maxInFlight = 0;
  const windowEld = monitorEventLoopDelay({ resolution });
  windowEld.enable();

  const sampleMs = o.sample * 1000;
  const end = t0 + o.duration * 1000;
  const poll = setInterval(() => {
    const s = scheduler.stats();
    if (s.queued > maxQueued) maxQueued = s.queued;
    if (s.inFlight > maxInFlight) maxInFlight = s.inFlight;
  }, 50);

  // Sample on a clock, not on a drifting timer.
  let nextSample = t0 + sampleMs;
  for (;;) {
    const now = performance.now();
    const wait = Math.min(nextSample, end, steady === null ? t0 + steadyFrom : Infinity) - now;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t = performance.now();
    if (steady === null && t >= t0 + steadyFrom) {
      eldSteady.enable();
      steady = { t, cpu: process.cpuUsage(), srv: (await childCpu()).cpu, attempts: scheduler.stats().attemptsCompleted, skipped: scheduler.stats().roundsSkipped };
    }
    if (t >= nextSample || t >= end) {
      const s = scheduler.stats();
      const cpu = process.cpuUsage();
      const srv = (await childCpu()).cpu;
      if (gcBeforeSample) global.gc(); // node --expose-gc: heap figures after a full collection (a leak shows as a trend)
      const mem = process.memoryUsage();
      peakRss = Math.max(peakRss, mem.rss);
      peakHeap = Math.max(peakHeap, mem.heapUsed);
      const wall = t - last.t;
      const row = [
        ((t - t0) / 1000).toFixed(0).padStart(5),
        r1(((s.attemptsCompleted - last.attempts) / wall) * 1000).toFixed(1).padStart(12),
        r1(pct(cpu.user + cpu.system - last.cpu.user - last.cpu.system, wall)).toFixed(1).padStart(6),
        r1(pct(srv.user + srv.system - last.srv.user - last.srv.system, wall)).toFixed(1).padStart(10),
        String(mb(mem.rss)).padStart(8),
        String(mb(mem.heapUsed)).padStart(8),
        String(s.inFlight).padStart(9),
        String(s.queued).padStart(6),
        String(s.roundsSkipped).padStart(8),
        lag(windowEld, 99).toFixed(2).padStart(11),
      ];
      process.stdout.write(`${row.join(' ')}\n`);
      windowEld.reset();
      last = { t, cpu, srv, attempts: s.attemptsCompleted };
      nextSample += sampleMs;
    }
    if (t >= end) break;
  }

  const tEnd = performance.now();
  const cpuEnd = process.cpuUsage();
  const srvEnd = (await childCpu()).cpu;
  const stats = scheduler.stats();
  clearInterval(poll);
  eldAll.disable();
  eldSteady.disable();
  windowEld.disable();
  scheduler.stop();
  const mem = process.memoryUsage();

  let healthy = 0;
  let unhealthy = 0;
  for (const t of targets) {
    const st = store.peek(t.key);
    if (st && st.status === 'healthy') healthy++;
    else if (st && st.status === 'unhealthy') unhealthy++;
  }
  const allWall = tEnd - t0;
  const st = steady ?? { t: t0, cpu: cpu0, srv: srv0.cpu, attempts: 0, skipped: 0 };
  const steadyWall = tEnd - st.t;
  const result = {
    settings: { probe: o.probe, targets: o.targets, interval_s: o.interval, duration_s: o.duration, servers: o.probe === 'noop' ? 0 : endpoints.length, concurrency: o.concurrency ?? 256, timeout_s: o.timeout, start_spread_ms: o.startSpread ?? 1000 },
    machine: { node: process.version, cpus: os.cpus().length, cpu_model: os.cpus()[0] ? os.cpus()[0].model : '', loadavg_end: os.loadavg().map(r2) },
    set_targets_ms: r1(setTargetsMs),
    whole_run: {
      seconds: r1(allWall / 1000),
      cpu_percent_of_one_core: r1(pct(cpuEnd.user + cpuEnd.system - cpu0.user - cpu0.system, allWall)),
      server_process_cpu_percent: r1(pct(srvEnd.user + srvEnd.system - srv0.cpu.user - srv0.cpu.system, allWall)),
      attempts: stats.attemptsCompleted,
      attempts_per_s: r1((stats.attemptsCompleted / allWall) * 1000),
      event_loop_lag_ms: { p50: lag(eldAll, 50), p99: lag(eldAll, 99), max: r2(Math.max(0, ms(eldAll.max) - resolution)) },
    },
    steady_state: {
      from_s: r1((st.t - t0) / 1000),
      seconds: r1(steadyWall / 1000),
      cpu_percent_of_one_core: r1(pct(cpuEnd.user + cpuEnd.system - st.cpu.user - st.cpu.system, steadyWall)),
      user_percent: r1(pct(cpuEnd.user - st.cpu.user, steadyWall)),
      system_percent: r1(pct(cpuEnd.system - st.cpu.system, steadyWall)),
      server_process_cpu_percent: r1(pct(srvEnd.user + srvEnd.system - st.srv.user - st.srv.system, steadyWall)),
      attempts_per_s: r1(((stats.attemptsCompleted - st.attempts) / steadyWall) * 1000),
      cpu_us_per_attempt: r1((cpuEnd.user + cpuEnd.system - st.cpu.user - st.cpu.system) / Math.max(1, stats.attemptsCompleted - st.attempts)),
      rounds_skipped: stats.roundsSkipped - st.skipped,
      event_loop_lag_ms: { p50: lag(eldSteady, 50), p99: lag(eldSteady, 99), max: r2(Math.max(0, ms(eldSteady.max) - resolution)) },
    },
    scheduler: { ...stats, maxStartDelayMs: r1(stats.maxStartDelayMs), maxQueuedSeen: maxQueued, maxInFlightSeen: maxInFlight },
    memory_mb: { rss_end: mb(mem.rss), rss_peak: mb(peakRss), heap_used_end: mb(mem.heapUsed), heap_used_peak: mb(peakHeap), heap_total_end: mb(mem.heapTotal) },
    health: { healthy, unhealthy, unknown: o.targets - healthy - unhealthy, transitions, failures: Object.fromEntries(failures), mean_rtt_ms: rttN ? r2(rttSum / rttN) : null },
  };

  const s = result.steady_state;
  const w = result.whole_run;
  process.stdout.write(
    `\nsteady state (t=${s.from_s}–${r1(allWall / 1000)} s): ${s.attempts_per_s} attempts/s, CPU ${s.cpu_percent_of_one_core} % of one core ` +
      `(user ${s.user_percent}, sys ${s.system_percent}; ${s.cpu_us_per_attempt} µs/attempt), local servers ${s.server_process_cpu_percent} %, ` +
      `event-loop lag p50 ${s.event_loop_lag_ms.p50} ms p99 ${s.event_loop_lag_ms.p99} ms max ${s.event_loop_lag_ms.max} ms, rounds skipped ${s.rounds_skipped}\n` +
      `whole run (start-up burst included): ${w.attempts} attempts (${w.attempts_per_s}/s), CPU ${w.cpu_percent_of_one_core} %, ` +
      `lag p50 ${w.event_loop_lag_ms.p50} ms p99 ${w.event_loop_lag_ms.p99} ms max ${w.event_loop_lag_ms.max} ms\n` +
      `scheduler: maxStartDelayMs ${result.scheduler.maxStartDelayMs} (start-up burst included), roundsSkipped ${stats.roundsSkipped}, ` +
      `max queued ${maxQueued}, max in flight ${maxInFlight}; setTargets(${o.targets}) ${result.set_targets_ms} ms\n` +
      `memory: rss ${result.memory_mb.rss_end} MB (peak ${result.memory_mb.rss_peak}), heap used ${result.memory_mb.heap_used_end} MB (peak ${result.memory_mb.heap_used_peak})\n` +
      `health: ${healthy} healthy, ${unhealthy} unhealthy, ${result.health.unknown} unknown; failures ${JSON.stringify(result.health.failures)}` +
      `${result.health.mean_rtt_ms !== null ? `; mean RTT ${result.health.mean_rtt_ms} ms` : ''}\n`,
  );
  if (o.json) fs.writeFileSync(o.json, `${JSON.stringify(result, null, 2)}\n`);
  if (child) child.disconnect();
  // Probes that were in flight finish on their own; nothing else keeps the loop alive.
  return unhealthy > 0 || failures.size > 0 ? 1 : 0;
}

main().then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
    process.exit(2);
  },
);
