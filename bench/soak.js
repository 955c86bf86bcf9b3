'use strict';
// steerdns soak test: the server under steady load for a long time, with everything that changes state happening
// on the side, and a verdict on whether its resources stay flat. Not part of the test suite. Run after
// `npm run build`; needs dnsperf. Loopback only (127.0.0.1 for DNS, 127.0.31.x for the origins).
//
//   node bench/soak.js                      # one hour at half of peak (peak measured first, 5 s)
//   node bench/soak.js --duration 300       # five minutes
//   node bench/soak.js --rate 20000 --reload-every 30 --flap-every 5 --sample 10 --workers 2 --out soak.json
//
// What runs for --duration seconds:
//   - dnsperf at --rate queries/s (default: half of a 5 s closed-loop peak run), static names and a load-balanced
//     name, with and without ECS;
//   - a load balancer over two HTTP origins on 127.0.31.1/127.0.31.2 monitored every second; the first origin
//     flaps (answers 503, then 200 again) every --flap-every seconds;
//   - a reload every --reload-every seconds: a TXT record changes and SIGHUP is sent; the new value must be served.
// Sampled every --sample seconds: RSS and open fds of the server processes (/proc), event-loop delay (p99 and max
// since the previous sample, steerdns_nodejs_eventloop_lag_* on /metrics, less the 10 ms resolution of the timer
// that measures it; the primary's loop in a cluster), and
// the server's query and reload counters. The report fits a line to each series after the first sample (start-up
// transient) and calls a series flat when its rise over the run, by that line, stays under a bound: RSS 10 % of its
// mean (at least 8 MB), fds 3, event-loop p99 2 ms.
const { spawn, spawnSync } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const HELP = `usage: node bench/soak.js [options]
      --duration S        seconds of load (default 3600)
      --rate Q            dnsperf queries per second (default: half of a 5 s peak run)
      --reload-every S    seconds between reloads (default 60)
      --flap-every S      seconds between origin flips up/down (default 15)
      --sample S          seconds between samples (default 10)
      --workers N         server.workers (default 1)
      --out FILE          also write the samples and the verdict as JSON
`;

function parseArgs(argv) {
  const o = { duration: 3600, rate: 0, reloadEvery: 60, flapEvery: 15, sample: 10, workers: 1, out: null };
  const num = (v, name) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) fail(`${name}: expected a number, got ${v}`);
    return n;
  };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--duration') o.duration = num(v(), a);
    else if (a === '--rate') o.rate = num(v(), a);
    else if (a === '--reload-every') o.reloadEvery = num(v(), a);
    else if (a === '--flap-every') o.flapEvery = num(v(), a);
    else if (a === '--sample') o.sample = Math.max(1, num(v(), a));
    else if (a === '--workers') o.workers = Math.max(1, Math.floor(num(v(), a)));
    else if (a === '--out') o.out = v();
    else if (a === '-h' || a === '--help') {
      process.stdout.write(HELP);
      process.exit(0);
    } else fail(`unknown option ${a}\n${HELP}`);
  }
  return o;
}

function fail(msg) {
  process.stderr.write(`soak: ${msg}\n`);
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ROOT = path.join(__dirname, '..');

// ---- the origins -------------------------------------------------------------------------------------------------

function startOrigin(address) {
  const state = { up: true, requests: 0 };
  const server = http.createServer((req, res) => {
    state.requests++;
    res.writeHead(state.up ? 200 : 503, { 'content-type': 'text/plain', connection: 'close' });
    res.end(state.up ? 'ok' : 'down');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => resolve({ server, state, address, port: server.address().port }));
  });
}

// ---- config ------------------------------------------------------------------------------------------------------

function configText(origins, version, workers) {
  return `server:
  listen: ["127.0.0.1:0"]
  http: "127.0.0.1:0"
  workers: ${workers}
zones:
  - name: soak.test
    ns: [ns1.soak.test]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: www, type: A, values: [192.0.2.1, 192.0.2.2] }
      - { name: mail, type: A, value: 192.0.2.25 }
      - { name: "@", type: MX, value: "10 mail" }
      - { name: ver, type: TXT, value: '"v${version}"' }
monitors:
  web: { type: http, path: /health, interval: 1, timeout: 1, retries: 0, expected_codes: "200" }
pools:
  main: { monitor: web, origins: [ { name: o1, address: ${origins[0].address}, port: ${origins[0].port} }, { name: o2, address: ${origins[1].address}, port: ${origins[1].port} } ] }
  backup: { origins: [ { name: b1, address: 192.0.2.200 } ] }
load_balancers:
  - { name: lb.soak.test, default_pools: [main, backup], ttl: 30 }
`;
}

// ---- the server --------------------------------------------------------------------------------------------------

function startServer(configPath) {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'serve', '-c', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d.toString();
    if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19)); // a bounded tail
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start:\n${stderr}`)), 20000);
    const check = () => {
      for (const line of stderr.split('\n')) {
        if (!line.includes('"steerdns started"')) continue;
        const rec = JSON.parse(line);
        if (rec.role === 'worker') continue;
        clearTimeout(timer);
        child.stderr.off('data', check);
        resolve({ child, dnsPort: Number(rec.listen[0].split(':').pop()), httpPort: Number(String(rec.http).split(':').pop()), log: () => stderr });
        return;
      }
    };
    child.stderr.on('data', check);
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}:\n${stderr}`)));
  });
}

function processTree(pid) {
  const out = [pid];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function fdCount(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

function getText(port, p) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`${p}: timeout`)));
    req.on('error', reject);
  });
}

/** Sum of the samples of one metric family whose labels include `labels`. */
function metric(text, name, labels = {}) {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = {};
    for (const l of (m[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have[l[1]] = l[2];
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
      sum += Number(m[3]);
      found = true;
    }
  }
  return found ? sum : null;
}

/** prom-client measures the delay with a 10 ms timer (its default precision): what is past that is lag. */
function lag(seconds) {
  return seconds === null ? null : Math.max(0, seconds - 0.01);
}

// ---- a tiny DNS client (TXT of ver.soak.test) -----------------------------------------------------------------------

function askTxt(port, name) {
  const labels = name.split('.');
  const q = Buffer.concat([Buffer.from([0x42, 0x42, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0, 0, 16, 0, 1])]);
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      resolve(null);
    }, 1000);
    sock.on('message', (m) => {
      clearTimeout(timer);
      sock.close();
      // The TXT string "v<N>" is in the answer after the echoed question.
      const v = /v(\d+)/.exec(m.toString('latin1', q.length));
      resolve(v ? Number(v[1]) : null);
    });
    sock.send(q, port, '127.0.0.1');
  });
}

// ---- dnsperf -----------------------------------------------------------------------------------------------------

function queryFile(dir) {
  const file = path.join(dir, 'queries.txt');
  const lines = ['www.soak.test A', 'mail.soak.test A', 'soak.test MX', 'lb.soak.test A', 'lb.soak.test AAAA', 'nope.soak.test A', 'ver.soak.test TXT', 'lb.soak.test A'];
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

function runDnsperf(args) {
  const child = spawn('dnsperf', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d.toString()));
  child.stderr.on('data', (d) => (out += d.toString()));
  const done = new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
  return { child, done };
}

function dnsperfSummary(out) {
  const num = (re) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : null;
  };
  return {
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    qps: num(/Queries per second:\s+([\d.]+)/),
    avgLatencyS: num(/Average Latency \(s\):\s+([\d.]+)/),
  };
}

// ---- the verdict -------------------------------------------------------------------------------------------------

/** Least-squares slope (per second) of ys over xs. */
function slope(xs, ys) {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function verdict(samples) {
  const s = samples.slice(1); // the first sample is start-up
  const t = s.map((x) => x.t);
  const span = t.length > 1 ? t[t.length - 1] - t[0] : 0;
  const series = (key, bound) => {
    const ys = s.map((x) => x[key]).filter((v) => v !== null && Number.isFinite(v));
    if (ys.length < 3) return { flat: null, reason: 'too few samples' };
    const ts = s.filter((x) => x[key] !== null && Number.isFinite(x[key])).map((x) => x.t);
    const k = slope(ts, ys);
    const rise = k * span;
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    const limit = bound(mean);
    return { mean, min: Math.min(...ys), max: Math.max(...ys), slopePerHour: k * 3600, riseOverRun: rise, bound: limit, flat: rise <= limit };
  };
  return {
    rss: series('rss', (mean) => Math.max(0.1 * mean, 8 * 1024 * 1024)),
    fds: series('fds', () => 3),
    lagP99: series('lagP99', () => 0.002),
  };
}

// ---- main --------------------------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv);
  if (spawnSync('sh', ['-c', 'command -v dnsperf']).status !== 0) fail('dnsperf is not installed (apt-get install -y dnsperf)');
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli.js'))) fail('run `npm run build` first');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steerdns-soak-'));
  const origins = [await startOrigin('127.0.31.1'), await startOrigin('127.0.31.2')];
  let version = 1;
  const configPath = path.join(dir, 'steerdns.yaml');
  fs.writeFileSync(configPath, configText(origins, version, opts.workers));
  const srv = await startServer(configPath);
  const stop = async () => {
    srv.child.kill('SIGTERM');
    await new Promise((r) => (srv.child.exitCode !== null ? r() : srv.child.once('exit', r)));
    for (const o of origins) o.server.close();
  };
  process.on('SIGINT', () => void stop().then(() => process.exit(130)));
  const queries = queryFile(dir);
  const base = ['-s', '127.0.0.1', '-p', String(srv.dnsPort), '-d', queries];

  try {
    await sleep(2000); // first health results
    let rate = opts.rate;
    let peak = null;
    if (!rate) {
      const p = runDnsperf([...base, '-l', '5', '-c', '10', '-q', '100']);
      peak = dnsperfSummary((await p.done).out).qps;
      if (!peak) fail('the peak run gave no qps');
      rate = Math.max(100, Math.round(peak / 2));
    }
    process.stdout.write(`soak: ${opts.duration} s at ${rate} q/s${peak ? ` (half of a ${Math.round(peak)} q/s peak)` : ''}, reload every ${opts.reloadEvery} s, origin flap every ${opts.flapEvery} s, workers ${opts.workers}\n`);
    const perf = runDnsperf([...base, '-l', String(opts.duration), '-Q', String(rate), '-c', '4', '-q', '200']);

    const started = Date.now();
    const samples = [];
    const events = { reloads: 0, reloadsServed: 0, flaps: 0 };
    let nextReload = opts.reloadEvery;
    let nextFlap = opts.flapEvery;
    let nextSample = 0;
    process.stdout.write('     t      rss MB   fds   lag p99 ms   lag max ms   queries      reloads ok/fail\n');
    for (;;) {
      const t = (Date.now() - started) / 1000;
      if (t >= opts.duration) break;
      if (opts.flapEvery > 0 && t >= nextFlap) {
        origins[0].state.up = !origins[0].state.up;
        events.flaps++;
        nextFlap += opts.flapEvery;
      }
      if (opts.reloadEvery > 0 && t >= nextReload) {
        version++;
        fs.writeFileSync(configPath, configText(origins, version, opts.workers));
        srv.child.kill('SIGHUP');
        events.reloads++;
        nextReload += opts.reloadEvery;
        const want = version;
        void (async () => {
          for (let i = 0; i < 50; i++) {
            await sleep(200);
            if ((await askTxt(srv.dnsPort, 'ver.soak.test')) === want) {
              events.reloadsServed++;
              return;
            }
          }
        })();
      }
      if (t >= nextSample) {
        nextSample += opts.sample;
        const pids = processTree(srv.child.pid);
        let text = '';
        try {
          text = await getText(srv.httpPort, '/metrics');
        } catch {
          // counted as a missing sample below
        }
        const sample = {
          t: Math.round(t),
          rss: pids.reduce((a, p) => a + rssBytes(p), 0),
          fds: pids.reduce((a, p) => a + fdCount(p), 0),
          lagP99: lag(metric(text, 'steerdns_nodejs_eventloop_lag_p99_seconds')),
          lagMax: lag(metric(text, 'steerdns_nodejs_eventloop_lag_max_seconds')),
          queries: metric(text, 'steerdns_queries_total'),
          reloadsOk: metric(text, 'steerdns_config_reloads_total', { result: 'success' }),
          reloadsFailed: metric(text, 'steerdns_config_reloads_total', { result: 'failure' }),
        };
        samples.push(sample);
        const ms = (v) => (v === null ? '     -' : (v * 1000).toFixed(2).padStart(6));
        process.stdout.write(`${String(sample.t).padStart(6)}  ${(sample.rss / 1048576).toFixed(1).padStart(8)}  ${String(sample.fds).padStart(4)}  ${ms(sample.lagP99).padStart(11)}  ${ms(sample.lagMax).padStart(11)}  ${String(sample.queries ?? '-').padStart(10)}   ${sample.reloadsOk ?? '-'}/${sample.reloadsFailed ?? '-'}\n`);
      }
      await sleep(250);
    }
    const result = await perf.done;
    const load = dnsperfSummary(result.out);
    await sleep(1500);
    const v = verdict(samples);
    const flat = [v.rss.flat, v.fds.flat, v.lagP99.flat].every((x) => x !== false);
    const mb = (x) => (x / 1048576).toFixed(1);
    process.stdout.write(`\ndnsperf: sent ${load.sent}, completed ${load.completed}, lost ${load.lost}, ${load.qps} q/s, average latency ${load.avgLatencyS !== null ? (load.avgLatencyS * 1000).toFixed(2) : '-'} ms\n`);
    process.stdout.write(`reloads: ${events.reloads} sent, ${events.reloadsServed} served the new record in time; origin flips: ${events.flaps}\n`);
    process.stdout.write(`RSS: ${mb(v.rss.min)}–${mb(v.rss.max)} MB, slope ${mb(v.rss.slopePerHour)} MB/h, rise over the run ${mb(v.rss.riseOverRun)} MB (bound ${mb(v.rss.bound)}): ${v.rss.flat ? 'flat' : 'NOT flat'}\n`);
    process.stdout.write(`fds: ${v.fds.min}–${v.fds.max}, slope ${v.fds.slopePerHour.toFixed(1)}/h, rise ${v.fds.riseOverRun.toFixed(1)} (bound ${v.fds.bound}): ${v.fds.flat ? 'flat' : 'NOT flat'}\n`);
    if (v.lagP99.flat !== null) process.stdout.write(`event-loop p99: ${(v.lagP99.min * 1000).toFixed(2)}–${(v.lagP99.max * 1000).toFixed(2)} ms, slope ${(v.lagP99.slopePerHour * 1000).toFixed(2)} ms/h: ${v.lagP99.flat ? 'flat' : 'NOT flat'}\n`);
    process.stdout.write(`verdict: ${flat ? 'FLAT' : 'NOT FLAT'}\n`);
    if (opts.out) fs.writeFileSync(opts.out, JSON.stringify({ options: opts, rate, peak, load, events, samples, verdict: v, flat }, null, 2));
    await stop();
    process.exit(flat && events.reloadsServed === events.reloads ? 0 : 1);
  } catch (err) {
    await stop();
    throw err;
  }
}

main().catch((err) => {
  process.stderr.write(`soak: ${err.stack || err}\n`);
  process.exit(2);
});
