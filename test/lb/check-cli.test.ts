// `steerdns check -c FILE` on load-balancer mistakes: each problem printed as `file:line:col: message` pointing at
// the offending place (for rule expressions: into the expression), exit status 1; good files exit 0.
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, tmpDir } from '../helpers/server';

const CLI = path.join(ROOT, 'dist', 'cli.js');

/** Newest mtime under a directory (recursive). */
function newest(dir: string): number {
  let m = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    m = Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return m;
}

beforeAll(() => {
  // The CLI runs from dist/: build it when it is missing or older than the sources.
  let built = 0;
  try {
    built = statSync(CLI).mtimeMs;
  } catch {
    built = 0;
  }
  if (built < newest(path.join(ROOT, 'src'))) {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], { stdio: 'pipe' });
  }
}, 120000);

const dir = tmpDir('steerdns-check-');

function check(name: string, text: string): Promise<{ code: number; stdout: string; stderr: string; file: string }> {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, text);
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'check', '-c', file], { timeout: 20000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr, file });
    });
  });
}

/** 1-based line and column of the `nth` occurrence of `marker` in `text`. */
function locate(text: string, marker: string, nth = 1): { line: number; col: number } {
  let at = -1;
  for (let i = 0; i < nth; i++) {
    at = text.indexOf(marker, at + 1);
    if (at < 0) throw new Error(`marker ${marker} not found`);
  }
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  const col = at - before.lastIndexOf('\n');
  return { line, col };
}

const HEAD = `server: { listen: ["127.0.0.1:0"], http: null, pop: { code: LAX, country: US, region: WNAM, latitude: 34.05, longitude: -118.24 } }
zones:
  - name: example.com
    ns: [ns1.example.com]
monitors:
  m1: { type: http, interval: 1, timeout: 1, retries: 0 }
pools:
  P1: { origins: [ { name: a1, address: 192.0.2.1 } ] }
  P2: { latitude: 51.5, longitude: -0.1, origins: [ { name: b1, address: 192.0.2.2 } ] }
load_balancers:
  - name: lb.example.com
    default_pools: [P1, P2]
`;

interface Case {
  name: string;
  yaml: string;
  marker: string;
  nth?: number;
  /** Extra columns after the marker start. */
  shift?: number;
  message: RegExp;
}

const CASES: Case[] = [
  { name: 'dangling default pool', yaml: HEAD.replace('default_pools: [P1, P2]', 'default_pools: [P1, NOPE]'), marker: 'NOPE', message: /refers to unknown pool "NOPE"/ },
  { name: 'dangling fallback pool', yaml: `${HEAD}    fallback_pool: GONE\n`, marker: 'GONE', message: /fallback_pool refers to unknown pool "GONE"/ },
  { name: 'dangling pool in region_pools', yaml: `${HEAD}    region_pools: { WNAM: [P1, MISSING] }\n`, marker: 'MISSING', message: /region_pools\.WNAM refers to unknown pool "MISSING"/ },
  { name: 'dangling pool in a rule override', yaml: `${HEAD}    rules: [ { name: r, condition: "", overrides: { default_pools: [LOST] } } ]\n`, marker: 'LOST', message: /overrides\.default_pools refers to unknown pool "LOST"/ },
  { name: 'dangling pool in pool_weights', yaml: `${HEAD}    random_steering: { pool_weights: { P9: 0.5 } }\n`, marker: 'P9', message: /unknown pool "P9"/ },
  { name: 'unknown region', yaml: `${HEAD}    region_pools: { MARS: [P1] }\n`, marker: 'MARS', message: /unknown region "MARS"/ },
  { name: 'unknown region in a rule override', yaml: `${HEAD}    rules: [ { name: r, condition: "", overrides: { region_pools: { XNAM: [P1] } } } ]\n`, marker: 'XNAM', message: /unknown region "XNAM"/ },
  { name: 'bad country key (lower case)', yaml: `${HEAD}    country_pools: { usa: [P1] }\n`, marker: 'usa', message: /"usa" is not an ISO 3166-1 country code/ },
  { name: 'bad country key (unknown subdivision)', yaml: `${HEAD}    country_pools: { US-ZZ: [P1] }\n`, marker: 'US-ZZ', message: /"US-ZZ" is not an ISO 3166-1 country code or an ISO 3166-2 subdivision/ },
  { name: 'bad pool latitude', yaml: HEAD.replace('latitude: 51.5', 'latitude: 95'), marker: '95', message: /95 is out of range/ },
  { name: 'bad pool longitude', yaml: HEAD.replace('longitude: -0.1', 'longitude: -190'), marker: '-190', message: /-190 is out of range/ },
  { name: 'pool latitude without longitude', yaml: HEAD.replace(', longitude: -0.1', ''), marker: '{ latitude: 51.5', message: /set both latitude and longitude/ },
  { name: 'bad PoP coordinates', yaml: HEAD.replace('latitude: 34.05', 'latitude: 340.5'), marker: '340.5', message: /340\.5 is out of range/ },
  { name: 'bad rule expression (operator)', yaml: `${HEAD}    rules:\n      - { name: bad, condition: "dns.qry.type == == 28" }\n`, marker: '== 28', message: /rule "bad": .*"=="/ },
  { name: 'bad rule expression (unknown field)', yaml: `${HEAD}    rules:\n      - { name: typo, condition: 'dns.qry.nmae == "x."' }\n`, marker: 'dns.qry.nmae', message: /rule "typo": unknown field "dns\.qry\.nmae"; did you mean "dns\.qry\.name"\?/ },
  { name: 'bad rule expression (CIDR)', yaml: `${HEAD}    rules:\n      - { name: cidr, condition: "ip.src in {10.0.0.0/33}" }\n`, marker: '10.0.0.0/33', message: /rule "cidr": invalid CIDR: "10\.0\.0\.0\/33": the prefix length must be 0 to 32 for IPv4/ },
  { name: 'CIDR with host bits set', yaml: `${HEAD}    rules:\n      - { name: net, condition: "ip.src in {192.0.2.0/24 10.0.0.1/8}" }\n`, marker: '10.0.0.1/8', message: /rule "net": invalid CIDR: 10\.0\.0\.1\/8 has host bits set \(the network is 10\.0\.0\.0\/8\)/ },
  { name: 'bad rule expression (proxied-only field)', yaml: `${HEAD}    rules:\n      - { name: http, condition: 'dns.qry.type == 1 and http.host == "x"' }\n`, marker: 'http.host', message: /proxied-only/ },
  { name: 'proxied: true', yaml: `${HEAD}    proxied: true\n`, marker: 'true', message: /proxied: true is not possible/ },
  { name: 'fixed_response', yaml: `${HEAD}    rules:\n      - { name: fixed, condition: "", fixed_response: { status_code: 200 } }\n`, marker: 'fixed_response', message: /fixed_response .*DNS-only load balancers cannot use it/ },
  { name: 'steering_policy random_steering', yaml: `${HEAD}    steering_policy: random_steering\n`, marker: 'random_steering', message: /"random_steering" is not a steering policy.*use "random"/ },
  { name: 'monitor interval below 1 s', yaml: HEAD.replace('interval: 1, timeout: 1', 'interval: 0.5, timeout: 0.5'), marker: '0.5', message: /out of range/ },
];

describe('steerdns check rejects load-balancer mistakes with file:line:col', () => {
  // All files are checked at once (one CLI process each); the tests then read the results.
  let results: Promise<Awaited<ReturnType<typeof check>>[]>;
  beforeAll(() => {
    results = Promise.all(CASES.map((c) => check(c.name.replace(/\W+/g, '-'), c.yaml)));
  });
  CASES.forEach((c, i) => {
    test(c.name, async () => {
      const r = (await results)[i];
      const at = locate(c.yaml, c.marker, c.nth);
      const prefix = `${r.file}:${at.line}:${at.col + (c.shift ?? 0)}: `;
      const lines = r.stderr.split('\n').filter((l) => l.startsWith(prefix) && !l.startsWith(`${prefix}warning:`));
      if (lines.length === 0 || !lines.some((l) => c.message.test(l.slice(prefix.length)))) {
        throw new Error(`expected an error at ${prefix}matching ${c.message}; got:\n${r.stderr}`);
      }
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/: 1 error\n$/);
    });
  });
});

describe('steerdns check accepts', () => {
  test('the base config (exit 0, OK)', async () => {
    const r = await check('ok', HEAD);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/: OK/);
  });

  test('T36 geo steering with a custom rule: accepted with a warning at the rules', async () => {
    const yaml = `${HEAD}    steering_policy: geo\n    region_pools: { WNAM: [P2] }\n    rules: [ { name: r, condition: "dns.qry.type == 28", overrides: { default_pools: [P2] } } ]\n`;
    const r = await check('t36', yaml);
    expect(r.code).toBe(0);
    const at = locate(yaml, '[ { name: r,');
    expect(r.stderr).toContain(`${r.file}:${at.line}:${at.col}: warning: `);
    expect(r.stderr).toMatch(/incompatible with geo steering/);
    expect(r.stdout).toMatch(/: OK: .*, 1 warning\n$/);
  });

  test('T12 fallback_pool omitted is accepted', async () => {
    const r = await check('t12', HEAD);
    expect(r.code).toBe(0);
  });

  test('T60 monitor interval 1 s is accepted', async () => {
    const r = await check('t60', `${HEAD.replace('P1: { origins', 'P1: { monitor: m1, origins')}`);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/interval/);
  });
});

describe('steerdns check on hostile conditions (issue 11): exit 1, one file:line:col line, no stack trace', () => {
  const nested = `${'('.repeat(2000)}dns.qry.qu${')'.repeat(2000)}`;
  const nots = `${'not '.repeat(10000)}dns.qry.qu`;
  const ands = Array.from({ length: 10000 }, () => 'dns.qry.qu').join(' and ');
  const cases: Array<{ name: string; condition: string; at: number; message: string | RegExp }> = [
    { name: '2,000 nested parentheses', condition: nested, at: 32, message: 'parentheses nested more than 32 deep' },
    { name: '10,000 nots', condition: nots, at: 4096, message: `condition is ${nots.length} characters long; the limit is 4096 (split it into several rules)` },
    { name: 'a 10,000-term and', condition: ands, at: 4096, message: `condition is ${ands.length} characters long; the limit is 4096 (split it into several rules)` },
    { name: 'a backreference', condition: 'dns.qry.name matches "^(a)\\1"', at: 26, message: 'backreferences such as `\\1` are not supported (RE2 syntax)' },
    { name: 'a lookahead', condition: 'dns.qry.name matches "^www(?!-test)"', at: 26, message: 'lookahead `(?!…` is not supported (RE2 syntax)' },
    {
      name: 'a pattern too large once expanded',
      condition: 'dns.qry.name matches "(?:[a-z]{0,100}){0,100}"',
      at: 21,
      message: /^regular expression too large: about \d+ instructions once repetitions are expanded; the limit is 1000 /,
    },
  ];
  let results: Promise<Awaited<ReturnType<typeof check>>[]>;
  beforeAll(() => {
    results = Promise.all(cases.map((c, i) => check(`hostile-${i}`, `${HEAD}    rules:\n      - { name: hostile, condition: '${c.condition}' }\n`)));
  });
  cases.forEach((c, i) => {
    test(c.name, async () => {
      const r = (await results)[i];
      const yaml = `${HEAD}    rules:\n      - { name: hostile, condition: '${c.condition}' }\n`;
      const start = locate(yaml, `'${c.condition.slice(0, 20)}`);
      const lines = r.stderr.split('\n');
      expect(lines).toHaveLength(3);
      const prefix = `${r.file}:${start.line}:${start.col + 1 + c.at}: rule "hostile": `;
      expect(lines[0].startsWith(prefix)).toBe(true);
      const message = lines[0].slice(prefix.length);
      if (typeof c.message === 'string') expect(message).toBe(c.message);
      else expect(message).toMatch(c.message);
      expect(lines.slice(1)).toEqual([`${r.file}: 1 error`, '']);
      expect(r.stdout).toBe('');
      expect(r.code).toBe(1);
    });
  });
});
