// The fuzz targets and their structure-aware generators (fast-check arbitraries):
//   wire   — request bytes through decodeQuery + handleQuery (UDP and TCP) with a query context that has rate
//            limiting and cookies on, against a small runtime (wildcards, CNAME loop, delegation, load balancers
//            with rules, a big RRset). Nothing may throw; every response is a well-formed DNS response (QR, the
//            request's ID, within the UDP size, TCP length prefix right) that dns-packet decodes.
//   rules  — text through compileCondition: only ConditionError may escape; a compiled condition evaluates to a
//            boolean on any input.
//   config — text through loadConfigText: never throws, a refused config has an error problem; an accepted one
//            builds a runtime without throwing.
import * as os from 'node:os';
import * as path from 'node:path';
import * as dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { loadConfigText } from '../../src/config/load';
import { QueryContext } from '../../src/dns/context';
import { ServerCookies, secretFromHex } from '../../src/dns/cookies';
import { ClientInfo } from '../../src/dns/dynamic';
import { handleQuery } from '../../src/dns/handler';
import { RateLimiter, rrlSettings } from '../../src/dns/rrl';
import { compileCondition, ConditionError, type RuleInput } from '../../src/lb/rules/condition';
import { noHostnames } from '../../src/lb/views';
import { buildRuntime, type Runtime } from '../../src/runtime';
import { parseIp, type IpAddr } from '../../src/util/ip';
import { ecsOption, rawQuery, u16, wireName, type EdnsOpt, type RawQuery } from '../dns/packets';
import type { FuzzTarget } from './engine';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: false });
const bytes = (...xs: string[]): Uint8Array[] => xs.map((x) => enc.encode(x));

// ---- wire ------------------------------------------------------------------------------------------------------

const ZONE_YAML = `
server: { listen: ["127.0.0.1:0"], http: null, nsid: fuzz, identity: fuzz-id, edns_udp_size: 1232 }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: www, type: A, values: [192.0.2.1, 192.0.2.2] }
      - { name: www, type: AAAA, value: "2001:db8::1" }
      - { name: "@", type: MX, value: "10 mail" }
      - { name: "@", type: TXT, value: '"v=spf1 -all"' }
      - { name: mail, type: A, value: 192.0.2.25 }
      - { name: "*.w", type: CNAME, value: www }
      - { name: c, type: CNAME, value: d }
      - { name: d, type: CNAME, value: c }
      - { name: sub, type: NS, value: ns.sub }
      - { name: ns.sub, type: A, value: 192.0.2.99 }
      - { name: srv, type: SRV, value: "0 5 80 lb.example.com." }
      - { name: many, type: A, values: [${Array.from({ length: 80 }, (_, i) => `10.0.0.${i}`).join(', ')}] }
pools:
  p1: { origins: [ { address: 192.0.2.10 }, { address: "2001:db8::10" } ] }
  p2: { origins: [ { address: 192.0.2.20, weight: 2 }, { address: 192.0.2.21 } ] }
load_balancers:
  - name: lb.example.com
    default_pools: [p1, p2]
    rules:
      - { name: r1, condition: 'ip.src in {10.0.0.0/8 2001:db8::/32} or dns.qry.name.len > 20', overrides: { default_pools: [p2], ttl: 5 } }
      - { name: r2, condition: 'dns.qry.name matches "^x"', terminates: true }
  - { name: "*.lbw.example.com", default_pools: [p1], steering_policy: random }
`;

function buildFuzzRuntime(): Runtime {
  const { config, problems } = loadConfigText(ZONE_YAML, 'fuzz.yaml', path.join(os.tmpdir(), 'fuzz.yaml'));
  if (!config) throw new Error(problems.map((p) => p.message).join('\n'));
  const built = buildRuntime(config, { store: null, hostnames: noHostnames });
  if (!built.runtime) throw new Error(built.problems.map((p) => p.message).join('\n'));
  return built.runtime;
}

const T0 = 300_000_000; // the coarse clock (seconds since 2020)
const SECRET = secretFromHex('0f1e2d3c4b5a69788796a5b4c3d2e1f0');
const CLIENTS = ['127.0.0.2', '::1', '192.0.2.7', '10.1.2.3'];

/** A server cookie valid for `client` from 127.0.0.2 at T0 (the engine cannot find one by mutation). */
function validCookie(client: Buffer): Buffer {
  const c = new ServerCookies({ secret: SECRET, rotation: 0 }, T0);
  c.check(client, 0, 8, new ClientInfo('127.0.0.2', null, 'udp'), T0);
  const out = Buffer.alloc(24);
  for (let i = 0; i < 6; i++) out.writeInt32BE(c.response[i], 4 * i);
  return out;
}

const label = fc.oneof(
  fc.constantFrom('www', 'example', 'com', 'lb', 'lbw', 'sub', 'ns1', 'ns', '*', 'w', 'c', 'd', 'many', 'srv', 'mail', 'x', 'id', 'server', 'WwW', 'hostname', 'bind'),
  fc.uint8Array({ minLength: 0, maxLength: 12 }).map((b) => Buffer.from(b).toString('latin1')),
);
const qname = fc.array(label, { maxLength: 6 }).map((ls) => ls.map((l) => Buffer.from(l, 'latin1')));
const qtype = fc.oneof(fc.constantFrom(1, 2, 5, 6, 12, 15, 16, 28, 33, 41, 43, 65, 99, 128, 250, 251, 252, 255, 257), fc.integer({ min: 0, max: 65535 }));
const qclass = fc.oneof(fc.constantFrom(1, 1, 1, 3, 254, 255), fc.integer({ min: 0, max: 65535 }));

const ednsOption: fc.Arbitrary<EdnsOpt> = fc.oneof(
  fc.oneof(fc.constantFrom(8, 8, 16, 24, 40), fc.integer({ min: 0, max: 48 })).chain((len) => fc.uint8Array({ minLength: len, maxLength: len })).map((d) => ({ code: 10, data: Buffer.from(d) })),
  fc.uint8Array({ minLength: 8, maxLength: 8 }).map((c) => ({ code: 10, data: Buffer.concat([Buffer.from(c), validCookie(Buffer.from(c)).subarray(8)]) })),
  fc.record({ family: fc.constantFrom(1, 2, 3), source: fc.integer({ min: 0, max: 130 }), scope: fc.integer({ min: 0, max: 130 }), addr: fc.uint8Array({ maxLength: 17 }) })
    .map((e) => ecsOption(e.family, e.source, Buffer.from(e.addr), e.scope)),
  fc.constant({ code: 3, data: Buffer.alloc(0) }),
  fc.record({ code: fc.integer({ min: 0, max: 65535 }), data: fc.uint8Array({ maxLength: 8 }) }).map((o) => ({ code: o.code, data: Buffer.from(o.data) })),
);

const tsig = fc.record({
  owner: qname,
  alg: fc.constantFrom('hmac-sha256', 'hmac-md5.sig-alg.reg.int', ''),
  klass: fc.constantFrom(255, 255, 1),
  mac: fc.integer({ min: 0, max: 40 }),
  other: fc.integer({ min: 0, max: 6 }),
  extra: fc.constantFrom(0, 0, 0, 1),
}).map((t) => {
  const rdata = Buffer.concat([wireName(t.alg), Buffer.from([0, 0, 0x6b, 0x49, 0xd2, 0x00]), u16(300), u16(t.mac), Buffer.alloc(t.mac, 7), u16(0x4242), u16(0), u16(t.other), Buffer.alloc(t.other), Buffer.alloc(t.extra)]);
  return Buffer.concat([wireName(t.owner), u16(250), u16(t.klass), Buffer.alloc(4), u16(rdata.length), rdata]);
});

const query: fc.Arbitrary<Buffer> = fc.record({
  id: fc.integer({ min: 0, max: 65535 }),
  flags: fc.oneof(fc.constantFrom(0x0100, 0x0000, 0x0010, 0x0120, 0x1000, 0x2800, 0x8100), fc.integer({ min: 0, max: 0xffff })),
  questions: fc.array(fc.record({ name: qname, type: qtype, klass: qclass }), { minLength: 0, maxLength: 2 }),
  opt: fc.option(fc.record({ udpSize: fc.oneof(fc.constantFrom(0, 512, 1232, 4096, 65535), fc.integer({ min: 0, max: 65535 })), version: fc.constantFrom(0, 0, 0, 1, 255), do: fc.boolean(), options: fc.array(ednsOption, { maxLength: 4 }) }), { nil: undefined }),
  tsig: fc.option(tsig, { nil: undefined }),
}).map((q) => {
  const r: RawQuery = { id: q.id, flags: q.flags, questions: q.questions, opt: q.opt ?? null, extraAdditional: q.tsig ? [q.tsig] : [] };
  return rawQuery(r);
});

function wireTarget(): FuzzTarget {
  const rt = buildFuzzRuntime();
  const ctx = new QueryContext();
  ctx.now = T0;
  ctx.cookies = new ServerCookies({ secret: SECRET, rotation: 0 }, T0);
  ctx.rrl = new RateLimiter(rrlSettings({ responses_per_second: 5, nxdomains_per_second: 2, errors_per_second: 3, window: 3, slip: 2, ipv4_prefix_length: 24, ipv6_prefix_length: 56, exempt: ['10.0.0.0/8'], log_only: false, max_table_size: 64 }), T0);
  let n = 0;
  return {
    name: 'wire',
    maxLength: 1400,
    dictionary: [
      Uint8Array.from([0xc0, 0x0c]), Uint8Array.from([0, 41]), Uint8Array.from([0, 250]), Uint8Array.from([0, 10, 0, 8]), Uint8Array.from([0, 10, 0, 24]),
      Uint8Array.from([0, 8, 0, 7, 0, 1, 24, 0]), Uint8Array.from([0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0]), Uint8Array.from([0, 255]), Uint8Array.from([0, 3]),
      wireName('example.com'), wireName('www.example.com'), wireName('lb.example.com'), wireName('hmac-sha256'),
    ],
    generate: (seed, count) => fc.sample(query, { seed, numRuns: count }).map((b) => new Uint8Array(b)),
    run(input) {
      const pkt = Buffer.from(input);
      ctx.now = T0 + (++n >> 6); // a second every 64 inputs: accounts refill, cookies age
      const from = CLIENTS[n & 3];
      for (const transport of ['udp', 'tcp'] as const) {
        const out = handleQuery(ctx, rt, pkt, from, transport);
        if (out === null) {
          if (transport === 'tcp' && ctx.outcome.status === 'limited') throw new Error('a TCP answer was rate limited');
          if (ctx.outcome.status === 'answered') throw new Error('no answer, but the outcome says answered');
          continue;
        }
        let msg = Buffer.from(out);
        if (transport === 'tcp') {
          if (msg.readUInt16BE(0) !== msg.length - 2) throw new Error('TCP length prefix does not match');
          msg = msg.subarray(2);
        }
        if (msg.length < 12) throw new Error(`a ${msg.length}-byte response`);
        if ((msg[2] & 0x80) === 0) throw new Error('QR is not set');
        if (msg.readUInt16BE(0) !== pkt.readUInt16BE(0)) throw new Error('the ID is not the request\'s');
        const q = ctx.query;
        const limit = transport === 'tcp' ? 65535 : q.edns ? Math.min(Math.max(q.edns.udpSize, 512), rt.ednsUdpSize) : 512;
        if (msg.length > limit) throw new Error(`${msg.length} bytes over a ${limit}-byte limit`);
        dnsPacket.decode(msg); // an independent decoder reads every response
      }
    },
  };
}

// ---- rules -----------------------------------------------------------------------------------------------------

const FIELDS = ['dns.qry.name', 'dns.qry.name.len', 'dns.qry.type', 'dns.qry.qu', 'dns.rr.opt.client', 'dns.rr.opt.client.addr', 'ip.src', 'cf.load_balancer.name', 'cf.load_balancer.region'];
const field = fc.oneof(fc.constantFrom(...FIELDS), fc.constantFrom('http.host', 'ip.src.asnum', 'dns.qry.nam', 'x'));
const stringLiteral = fc.oneof(
  fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('"www.example.com"', '"^x.*$"', '"(a|b"', '"[z-a]"', '"\\\\d+"', '"a\\"b"', '"WNAM"', '"lb.example.com."', "'single'", '"unterminated', 'r#"raw"#'),
);
const literal = fc.oneof(
  stringLiteral,
  fc.integer({ min: -5, max: 70000 }).map(String),
  fc.constantFrom('1..10', '10..1', '0x1c', '1e3', '10.0.0.0/8', '192.0.2.1', '2001:db8::/32', '::1', '1.2.3.4..1.2.3.9', '300.1.1.1', '10.0.0.0/33', 'true', 'false'),
);
const setLiteral = fc.array(literal, { maxLength: 4 }).map((xs) => `{${xs.join(' ')}}`);
const operator = fc.constantFrom('==', 'eq', '!=', 'ne', '<', 'lt', '<=', 'le', '>', 'gt', '>=', 'ge', 'contains', 'matches', '~', 'in', '===', '=<');
const comparison = fc.tuple(field, operator, fc.oneof(literal, setLiteral)).map(([f, o, l]) => `${f} ${o} ${l}`);
const { expr } = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    comparison,
    fc.constantFrom('dns.qry.qu', 'dns.rr.opt.client', 'true', ''),
    tie('expr').map((e) => `not ${e}`),
    tie('expr').map((e) => `!${e}`),
    tie('expr').map((e) => `(${e})`),
    fc.tuple(tie('expr'), fc.constantFrom('and', '&&', 'or', '||', 'xor', '^^', 'AND'), tie('expr')).map(([a, o, b]) => `${a} ${o} ${b}`),
  ),
}));

function ip(text: string): IpAddr {
  return parseIp(text) as IpAddr;
}

const RULE_INPUTS: RuleInput[] = [
  { qname: 'www.example.com.', qnameLength: 16, qtype: 1, ecs: null, resolver: ip('192.0.2.1'), lbName: 'lb.example.com', region: 'WNAM' },
  { qname: 'x.', qnameLength: 2, qtype: 28, ecs: ip('10.1.0.0'), resolver: ip('2001:db8::1'), lbName: '*.example.com', region: null },
  { qname: '.', qnameLength: 1, qtype: 65535, ecs: ip('::'), resolver: ip('0.0.0.0'), lbName: '', region: '' },
];

function rulesTarget(): FuzzTarget {
  return {
    name: 'rules',
    maxLength: 600,
    dictionary: bytes(...FIELDS, ' and ', ' or ', ' not ', ' xor ', ' in ', ' matches ', ' contains ', '==', '!=', '<=', '{', '}', '(', ')', '"', '\\', '..', '/', '::', '.', ' ', '1', '0'),
    generate: (seed, count) => fc.sample(expr, { seed, numRuns: count }).map((s) => enc.encode(s)),
    run(input) {
      let cond;
      try {
        cond = compileCondition(dec.decode(input));
      } catch (err) {
        if (err instanceof ConditionError) return;
        throw err;
      }
      for (const ri of RULE_INPUTS) {
        const r = cond.test(ri);
        if (typeof r !== 'boolean') throw new Error(`a condition evaluated to ${typeof r}`);
      }
    },
  };
}

// ---- config ----------------------------------------------------------------------------------------------------

const domain = fc.constantFrom('example.com', 'lb.test', 'Example.COM.', 'bad..name', '*.x.test', '', 'a', 'www.example.com');
const anyScalar = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null), fc.double({ noNaN: false }));
const configObject = fc.record({
  server: fc.record({
    listen: fc.constantFrom(['127.0.0.1:0'], '127.0.0.1:99999', ['[::1]:0'], 'x', []),
    http: fc.constantFrom(null, 'off', '127.0.0.1:0', 5),
    edns_udp_size: fc.oneof(fc.constantFrom(512, 1232, 4096), fc.integer()),
    nsid: fc.option(fc.string({ maxLength: 300 })),
    rrl: fc.option(fc.record({
      responses_per_second: fc.oneof(fc.integer({ min: -1, max: 200000 }), anyScalar),
      nxdomains_per_second: fc.option(fc.integer({ min: -1, max: 20 })),
      window: fc.integer({ min: 0, max: 4000 }),
      slip: fc.integer({ min: -1, max: 11 }),
      ipv6_prefix_length: fc.integer({ min: 0, max: 129 }),
      exempt: fc.array(fc.constantFrom('10.0.0.0/8', '::/0', 'x', '1.2.3.4/40', '', 7), { maxLength: 3 }),
      log_only: anyScalar,
      max_table_size: fc.integer({ min: 0, max: 1_000_000 }),
    }, { requiredKeys: [] })),
    cookies: fc.option(fc.record({
      enabled: anyScalar,
      secret: fc.constantFrom(null, 'e5e973e5a6b2a43f48e7dc849e37bfcf', 'zz', '', 'E5E973E5A6B2A43F48E7DC849E37BFCF00'),
      rotation: fc.integer({ min: -1, max: 100000 }),
    }, { requiredKeys: [] })),
    unknown_key: anyScalar,
  }, { requiredKeys: [] }),
  zones: fc.array(fc.record({
    name: domain,
    ns: fc.array(domain, { maxLength: 2 }),
    soa: fc.option(fc.record({ minimum: fc.integer(), serial: anyScalar }, { requiredKeys: [] })),
    records: fc.array(fc.record({
      name: fc.constantFrom('@', 'www', '*', 'sub', 'a.b', 'x.example.com.', ''),
      type: fc.constantFrom('A', 'AAAA', 'CNAME', 'MX', 'SRV', 'TXT', 'CAA', 'NS', 'PTR', 'SOA', 'XX', 'a'),
      value: fc.oneof(fc.constantFrom('192.0.2.1', '::1', '10 mail', '0 5 80 t.example.com.', '"txt"', '0 issue "ca"', 'www', '999.1.1.1'), fc.string({ maxLength: 12 })),
      ttl: fc.option(fc.integer()),
    }, { requiredKeys: ['name', 'type'] }), { maxLength: 4 }),
  }, { requiredKeys: [] }), { maxLength: 2 }),
  pools: fc.dictionary(fc.constantFrom('p1', 'p2', 'P 3'), fc.record({
    origins: fc.array(fc.record({ address: fc.constantFrom('192.0.2.10', '2001:db8::1', 'host.example.com', 'bad', ''), weight: fc.oneof(fc.integer({ min: -1, max: 2000 }), anyScalar), enabled: fc.boolean() }, { requiredKeys: ['address'] }), { maxLength: 3 }),
    monitor: fc.option(fc.constantFrom('m1', 'nope')),
    latitude: fc.option(fc.double()),
  }, { requiredKeys: [] }), { maxKeys: 2 }),
  monitors: fc.option(fc.dictionary(fc.constantFrom('m1', 'm2'), fc.record({ type: fc.constantFrom('http', 'tcp', 'icmp_ping', 'x'), interval: fc.integer({ min: 0, max: 100 }), timeout: fc.integer({ min: 0, max: 100 }) }, { requiredKeys: [] }), { maxKeys: 2 })),
  load_balancers: fc.array(fc.record({
    name: domain,
    default_pools: fc.array(fc.constantFrom('p1', 'p2', 'nope'), { maxLength: 2 }),
    steering_policy: fc.constantFrom('off', 'geo', 'random', 'dynamic_latency', 'proximity', 'random_steering', ''),
    proxied: fc.constantFrom(false, true, 'x'),
    rules: fc.array(fc.record({ condition: expr, overrides: fc.record({ ttl: fc.integer(), default_pools: fc.array(fc.constantFrom('p1', 'x')) }, { requiredKeys: [] }) }, { requiredKeys: [] }), { maxLength: 2 }),
  }, { requiredKeys: [] }), { maxLength: 2 }),
}, { requiredKeys: [] });

function configTarget(): FuzzTarget {
  return {
    name: 'config',
    maxLength: 4096,
    dictionary: bytes('server:', '\n  ', '\n- ', ': ', '- ', '{', '}', '[', ']', ',', '"', "'", '&a ', '*a', '<<: ', '!!str ', '!!binary ', '~', 'null', 'true', '# ', '---\n', '...\n', 'rrl:', 'cookies:', 'zones:', 'records:', 'load_balancers:', 'pools:', 'origins:', 'condition: ', '\t', '%YAML 1.2\n'),
    generate: (seed, count) => fc.sample(configObject, { seed, numRuns: count }).map((o) => enc.encode(stringify(o))),
    run(input) {
      const r = loadConfigText(dec.decode(input), 'fuzz.yaml', path.join(os.tmpdir(), 'steerdns-fuzz', 'fuzz.yaml'));
      if (!Array.isArray(r.problems)) throw new Error('no problem list');
      const errors = r.problems.filter((p) => p.severity === 'error');
      if (r.config === null) {
        if (errors.length === 0) throw new Error('a config refused without an error');
        return;
      }
      if (errors.length > 0) return;
      // GeoIP files and state files are not for a fuzzer to open.
      if (r.config.server.geoip.databases.length > 0 || r.config.server.state_file !== null) return;
      buildRuntime(r.config, { store: null, hostnames: noHostnames });
    },
  };
}

export const TARGETS: Record<string, () => FuzzTarget> = { wire: wireTarget, rules: rulesTarget, config: configTarget };
