// Config problems as `check` reports them: every problem at its file:line:col, with a message that says what
// is wrong (and "did you mean" for near-misses). Loaded in-process here; check-cli.test.ts runs the real CLI.
import * as path from 'node:path';
import { formatProblem, loadConfigText } from '../../src/config/load';
import { checkRuntime } from '../../src/runtime';

async function problems(yaml: string): Promise<string[]> {
  const { config, problems: p } = loadConfigText(yaml, 'cfg.yaml', path.join(__dirname, 'cfg.yaml'));
  const all = [...p];
  if (config) all.push(...(await checkRuntime(config)));
  return all.map(formatProblem);
}

/**
 * "cfg.yaml:LINE:COL: " for the first occurrence of `needle` on the line of `yaml` that contains `lineMark`
 * (the needle itself when no mark is given). Columns are 1-based; quoted values point inside the quotes.
 */
function at(yaml: string, needle: string, lineMark = needle): string {
  const lines = yaml.split('\n');
  const i = lines.findIndex((l) => l.includes(lineMark));
  if (i < 0) throw new Error(`no line with ${lineMark}`);
  const col = lines[i].indexOf(needle);
  if (col < 0) throw new Error(`no ${needle} on line ${i + 1}`);
  return `cfg.yaml:${i + 1}:${col + 1}: `;
}

const ZONE = `zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
`;
const POOL = 'pools: { p1: { origins: [ { address: 192.0.2.1 } ] } }\n';

test('a minimal config has no problems', async () => {
  expect(await problems(`server: { listen: ["127.0.0.1:0"], http: null }\n${ZONE}`)).toEqual([]);
});

describe('schema', () => {
  test('unknown keys, with "did you mean", at the key', async () => {
    let y = `server:\n  listn: ["127.0.0.1:0"]\n  http: null\n${ZONE}`;
    expect(await problems(y)).toEqual([`${at(y, 'listn')}unknown key "listn" (did you mean "listen"?)`]);
    y = `${ZONE}pools:\n  p1:\n    orgins: [ { address: 192.0.2.1 } ]\n`;
    expect(await problems(y)).toEqual([
      `${at(y, 'orgins')}unknown key "orgins" (did you mean "origins"?)`,
      `${at(y, 'orgins')}missing required key "origins"`,
    ]);
    // A key far from every known one gets no suggestion.
    y = `server: { http: null, zzzzzzzz: 1 }\n${ZONE}`;
    expect(await problems(y)).toEqual([`${at(y, 'zzzzzzzz')}unknown key "zzzzzzzz"`]);
    y = `${ZONE}      - { name: c, type: CNAME, value: a, vaule: b }\n`;
    expect(await problems(y)).toEqual([`${at(y, 'vaule')}unknown key "vaule" (did you mean "value"?)`]);
  });

  test('wrong types and ranges, at the value', async () => {
    const y = `server:\n  http: null\n  edns_udp_size: big\n  tcp: { idle_timeout: -1 }\n  workers: 1.5\n  identity: [a]\n${ZONE}`;
    expect(await problems(y)).toEqual([
      `${at(y, 'big')}expected an integer from 512 to 4096, got "big"`,
      `${at(y, '-1')}-1 is out of range: expected a number from 0.1 to 3600`,
      `${at(y, '1.5')}expected an integer from 1 to 64, got 1.5`,
      `${at(y, '[a]')}expected a non-empty string, got a list`,
    ]);
  });

  test('bad enum value with a suggestion; listen address syntax', async () => {
    let y = `server: { http: null, listen: "127.0.0.1" }\n${ZONE}`;
    expect(await problems(y)).toEqual([`${at(y, '127.0.0.1')}"127.0.0.1" is not an address:port (write IPv6 as [::1]:53)`]);
    y = `${ZONE}${POOL}load_balancers:\n  - { name: lb.example.com, default_pools: [p1], steering_policy: geoo }\n`;
    expect(await problems(y)).toEqual([
      `${at(y, 'geoo')}"geoo" is not one of "", off, geo, random, dynamic_latency, proximity, least_outstanding_requests, least_connections (did you mean "geo"?)`,
    ]);
  });

  test('unsupported record types and SOA records', async () => {
    let y = `${ZONE}      - { name: t, type: SOA, value: x }\n`;
    expect(await problems(y)).toEqual([`${at(y, 'SOA')}SOA comes from the zone's "soa" block, not from records`]);
    // Which types a static record may have is the record-type table's business (the zone compiler reports it).
    y = `${ZONE}      - { name: u, type: HTTPS, value: x }\n`;
    expect(await problems(y)).toEqual([`${at(y, 'HTTPS')}unsupported record type "HTTPS" (supported: A, NS, CNAME, PTR, MX, TXT, AAAA, SRV, DS, CAA)`]);
  });

  test('value and values together, or neither', async () => {
    const y = `${ZONE}      - { name: t, type: A }\n      - { name: u, type: A, value: 192.0.2.1, values: [192.0.2.2] }\n`;
    expect(await problems(y)).toEqual([
      `${at(y, '{ name: t')}give exactly one of "value" or "values"`,
      `${at(y, '{ name: u')}give exactly one of "value" or "values"`,
    ]);
  });

  test('YAML syntax errors and duplicate keys have positions', async () => {
    const p = await problems(`server: { http: null\n${ZONE}`);
    expect(p.length).toBeGreaterThan(0);
    expect(p[0]).toMatch(/^cfg\.yaml:\d+:\d+: /);
    const y = `server: { http: null, http: null }\n${ZONE}`;
    expect(await problems(y)).toEqual(['cfg.yaml:1:23: duplicate key "http"']);
  });

  test('duplicate origin names and addresses in a pool, at the later origin (small and big pools)', async () => {
    for (const extra of [0, 30]) {
      const more = Array.from({ length: extra }, (_, i) => `{ address: 192.0.2.${100 + i} }`).join(', ');
      const y = `${ZONE}pools:\n  p1:\n    origins: [ { name: a, address: 192.0.2.1 }, ${more}${extra ? ', ' : ''}{ name: a, address: 192.0.2.2 }, { name: c, address: 192.0.2.1 } ]\n`;
      expect(await problems(y)).toEqual([
        `${at(y, '{ name: a, address: 192.0.2.2')}duplicate origin name "a" in pool "p1"`,
        `${at(y, '{ name: c')}origin address 192.0.2.1 appears twice in pool "p1"`,
      ]);
    }
  });

  test('empty file, missing zones', async () => {
    expect(await problems('')).toEqual(['cfg.yaml:1:1: the config file is empty']);
    expect(await problems('server: { http: null }\n')).toEqual(['cfg.yaml:1:1: missing required key "zones"']);
  });

  test('proxied: true is an error; proxied-only Cloudflare fields are warnings', async () => {
    const y = `${ZONE}${POOL}load_balancers:\n  - { name: lb.example.com, default_pools: [p1], proxied: true, session_affinity: cookie }\n`;
    const p = await problems(y);
    expect(p).toContain(`${at(y, 'true')}proxied: true is not possible: steerdns is a DNS-only (gray-cloud) load balancer`);
    expect(p).toContain(`${at(y, 'session_affinity')}warning: "session_affinity" is ignored: session affinity is not supported by DNS-only load balancers (see DNS persistence in the README)`);
    expect(p.filter((l) => !l.includes('warning:'))).toHaveLength(1);
  });
});

describe('references', () => {
  test('unknown pool / monitor / fallback with suggestions; LB outside every zone', async () => {
    const y = `server: { http: null }
${ZONE}monitors:
  webb: { type: http }
pools:
  p1:
    monitor: web
    origins: [ { address: 192.0.2.10 } ]
load_balancers:
  - { name: lb.example.com, default_pools: [p2] }
  - { name: lb.example.net, default_pools: [p1] }
  - { name: www.example.com, default_pools: [p1], fallback_pool: pp1 }
`;
    expect(await problems(y)).toEqual([
      `${at(y, 'web', 'monitor: web')}pool "p1" refers to unknown monitor "web" (did you mean "webb"?)`,
      `${at(y, 'p2')}load balancer "lb.example.com" default_pools refers to unknown pool "p2" (did you mean "p1"?)`,
      `${at(y, 'lb.example.net')}load balancer "lb.example.net" is not inside any configured zone (example.com)`,
      `${at(y, 'pp1')}load balancer "www.example.com" fallback_pool refers to unknown pool "pp1" (did you mean "p1"?)`,
    ]);
  });

  test('unknown pools in pool maps and rule overrides: the message says which field, key and rule', async () => {
    const y = `server: { http: null }
${ZONE}${POOL}load_balancers:
  - name: lb.example.com
    default_pools: [p1]
    steering_policy: random
    region_pools: { WNAM: [p1, westward] }
    rules:
      - name: six
        condition: "dns.qry.type == 28"
        overrides: { default_pools: [sixth], country_pools: { DE: [german] }, fallback_pool: lastly }
`;
    expect(await problems(y)).toEqual([
      `${at(y, 'westward')}load balancer "lb.example.com" region_pools.WNAM refers to unknown pool "westward"`,
      `${at(y, 'sixth')}load balancer "lb.example.com" rules[0] "six" overrides.default_pools refers to unknown pool "sixth"`,
      `${at(y, 'lastly')}load balancer "lb.example.com" rules[0] "six" overrides.fallback_pool refers to unknown pool "lastly"`,
      `${at(y, 'german')}load balancer "lb.example.com" rules[0] "six" overrides.country_pools.DE refers to unknown pool "german"`,
    ]);
  });

  test('zones and load balancers defined twice', async () => {
    const y = `${ZONE}  - name: example.com # again\n    ns: [ns1.example.com]\n${POOL}load_balancers:\n  - { name: lb.example.com, default_pools: [p1] }\n  - { name: lb.example.com, default_pools: [p1] } # again\n`;
    const p = await problems(y);
    expect(p).toContain(`${at(y, 'example.com', '# again')}zone "example.com" is defined twice`);
    expect(p).toContain(`${at(y, 'lb.example.com', '} # again')}load balancer "lb.example.com" is defined twice`);
  });
});

describe('records (compiled by the DNS layer)', () => {
  test('bad values, names outside the zone, misplaced wildcards, apex NS, CNAME conflicts', async () => {
    const y = `server: { http: null }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: www, type: A, value: 999.1.1.1 }
      - { name: mx, type: MX, value: "10" }
      - { name: www.other.org., type: A, value: 192.0.2.1 }
      - { name: srv, type: SRV, values: ["1 2 3 a", "1 2 x b"] }
      - { name: c, type: CNAME, values: [a, b] }
      - { name: d, type: CNAME, value: a }
      - { name: d, type: TXT, value: a }
      - { name: aaaa, type: AAAA, value: 192.0.2.1 }
      - { name: "a.*", type: A, value: 192.0.2.1 }
      - { name: "@", type: NS, value: ns9 }
      - { name: t, type: TXT, value: '"unterminated' }
      - { name: caa, type: CAA, value: 'issue "x"' }
      - { name: "bad..name", type: A, value: 192.0.2.1 }
      - { name: n, type: CNAME, value: "a..b" }
      - { name: "*.deleg", type: NS, value: ns1 }
`;
    expect((await problems(y)).sort()).toEqual([
      `${at(y, '999.1.1.1')}A www: "999.1.1.1" is not an IPv4 address`,
      `${at(y, '10', 'name: mx')}MX mx: expected "<preference> <exchange>", got "10"`,
      `${at(y, 'www.other.org.')}"www.other.org." is outside the zone "example.com" (names are relative to the zone unless they end with ".")`,
      `${at(y, '1 2 x b')}SRV srv: port must be an integer from 0 to 65535`,
      `${at(y, 'c', 'name: c,')}c.example.com. has more than one CNAME`,
      `${at(y, 'd', 'name: d, type: CNAME')}d.example.com. has a CNAME and other records; a CNAME must be alone at its name`,
      `${at(y, '192.0.2.1', 'name: aaaa')}AAAA aaaa: "192.0.2.1" is not an IPv6 address`,
      `${at(y, 'a.*')}"a.*": a wildcard must be the first label`,
      `${at(y, 'NS', '"@", type: NS')}apex NS records come from the zone's "ns" list`,
      `${at(y, '"unterminated')}TXT t: unterminated quoted string`,
      `${at(y, 'issue "x"')}CAA caa: expected "<flags> <tag> <value>", e.g. 0 issue "letsencrypt.org", got "issue "x""`,
      `${at(y, 'bad..name')}empty label in "bad..name"`,
      `${at(y, 'a..b')}CNAME n: target: empty label in "a..b"`,
      `${at(y, 'NS', '*.deleg')}a wildcard cannot be a delegation point (RFC 4592 §4.2)`,
    ].sort());
  });

  test('a name with an escaped dot that only looks like it is inside the zone is outside it', async () => {
    // x / "a.example" / com: not a name under example.com.
    const y = `${ZONE}      - { name: 'x.a\\.example.com.', type: A, value: 192.0.2.1 }\n`;
    expect(await problems(y)).toEqual([`${at(y, 'x.a')}"x.a\\.example.com." is outside the zone "example.com" (names are relative to the zone unless they end with ".")`]);
  });

  test('a load balancer at or below a delegation point is an error', async () => {
    const y = `${ZONE}      - { name: sub, type: NS, value: ns.sub }
${POOL}load_balancers:
  - { name: lb.sub.example.com, default_pools: [p1] }
  - { name: sub.example.com, default_pools: [p1] }
  - { name: "*.sub.example.com", default_pools: [p1] }
  - { name: lb.example.com, default_pools: [p1] }
`;
    const msg = (n: string) => `"${n}" is at or below the delegation point "sub.example.com."; its answers would never be authoritative`;
    expect(await problems(y)).toEqual([
      `${at(y, 'lb.sub.example.com')}${msg('lb.sub.example.com')}`,
      `${at(y, 'sub.example.com', '{ name: sub.example.com')}${msg('sub.example.com')}`,
      `${at(y, '*.sub.example.com')}${msg('*.sub.example.com')}`,
    ]);
  });

  test('warnings alone do not make a config invalid', async () => {
    const y = `${ZONE}      - { name: x.example.com, type: A, value: 192.0.2.1 }\n`;
    const { config } = loadConfigText(y, 'cfg.yaml', path.join(__dirname, 'cfg.yaml'));
    expect(config).not.toBeNull();
    expect(await problems(y)).toEqual([
      `${at(y, 'x.example.com')}warning: "x.example.com" is relative to the zone, so it names x.example.com.example.com. (did you mean "x.example.com."?)`,
    ]);
  });
});
