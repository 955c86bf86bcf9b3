// The signing step in process (decode → authority → sign → encode, no sockets): which RRsets get signatures,
// the compact-denial NSEC records, referrals, the cache, and DO=0 answers left exactly as they were.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as dnsPacket from 'dns-packet';
import { loadConfigText } from '../../src/config/load';
import { QueryContext, SigningCounter } from '../../src/dns/context';
import { handleQuery } from '../../src/dns/handler';
import { RateLimiter, RrlKind, rrlSettings } from '../../src/dns/rrl';
import type { RrlConfig } from '../../src/config/types';
import { algorithm } from '../../src/dnssec/algorithms';
import { canonicalName, canonicalNameOfKey, signingInput } from '../../src/dnssec/canonical';
import { generateKey, readZoneKeys } from '../../src/dnssec/keyfile';
import { emptyTiming, FLAGS_KSK, FLAGS_ZSK } from '../../src/dnssec/keys';
import { noHostnames } from '../../src/lb/views';
import { buildRuntime, type Runtime } from '../../src/runtime';
import { nameOf } from '../../src/dns/wire/name';
import { RData } from '../../src/dns/wire/records';
import { tmpDir } from '../helpers/server';

const NOW = Math.floor(Date.now() / 1000);

function zoneYaml(keyDir: string, extra = ''): string {
  return `
server:
  listen: ["127.0.0.1:0"]
  http: null
zones:
  - name: example.test
    ns: [ns1.example.test]
    soa: { minimum: 60, ttl: 3600, serial: 2024010101 }
    ${keyDir ? `dnssec: { key_directory: ${keyDir}${extra} }` : ''}
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: www, type: A, values: [192.0.2.80, 192.0.2.81] }
      - { name: "@", type: MX, value: "10 mail" }
      - { name: mail, type: A, value: 192.0.2.25 }
      - { name: mail, type: AAAA, value: "2001:db8::25" }
      - { name: alias, type: CNAME, value: lb }
      - { name: "*.wild", type: TXT, value: "wild" }
      - { name: deep.ent, type: A, value: 192.0.2.9 }
      - { name: sub, type: NS, value: ns.sub }
      - { name: ns.sub, type: A, value: 192.0.2.54 }
      - { name: secure, type: NS, value: ns.secure }
      - { name: secure, type: DS, value: "12345 13 2 ${'ab'.repeat(32)}" }
      - { name: ns.secure, type: A, value: 192.0.2.55 }
      - { name: big, type: TXT, value: "${'x'.repeat(400)}" }
pools:
  p: { origins: [ { name: a, address: 192.0.2.10 }, { name: b, address: 192.0.2.11 }, { name: c, address: "2001:db8::11" } ] }
load_balancers:
  - { name: lb.example.test, default_pools: [p] }
  - { name: "*.lbwild.example.test", default_pools: [p] }
`;
}

function keysFor(dir: string, mode: 'csk' | 'ksk+zsk', alg = 13): void {
  mkdirSync(dir, { recursive: true });
  const t = emptyTiming();
  t.publish = NOW - 7200;
  t.activate = NOW - 7200;
  if (mode === 'csk') generateKey(dir, 'example.test', algorithm(alg)!, FLAGS_KSK, t);
  else {
    generateKey(dir, 'example.test', algorithm(alg)!, FLAGS_KSK, t);
    generateKey(dir, 'example.test', algorithm(alg)!, FLAGS_ZSK, t);
  }
}

function build(yaml: string, dir = tmpDir()): { runtime: Runtime | null; problems: string[] } {
  const file = path.join(dir, 'steerdns.yaml');
  writeFileSync(file, yaml);
  const { config, problems } = loadConfigText(yaml, file, file);
  if (!config) return { runtime: null, problems: problems.map((p) => p.message) };
  const r = buildRuntime(config, { store: null, hostnames: noHostnames });
  return { runtime: r.runtime, problems: r.problems.map((p) => `${p.severity}: ${p.message}`) };
}

function ask(ctx: QueryContext, rt: Runtime, name: string, type: string, o: { do?: boolean; edns?: boolean } = {}): Buffer {
  const edns = o.edns ?? o.do ?? true;
  const q = dnsPacket.encode({
    type: 'query', id: 7, flags: 0,
    questions: [{ type: type as dnsPacket.RecordType, name, class: 'IN' }],
    additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: o.do ? dnsPacket.DNSSEC_OK : 0 } as unknown as dnsPacket.Answer] : [],
  });
  const out = handleQuery(ctx, rt, q, '127.0.0.1', 'udp');
  if (!out) throw new Error('no answer');
  return Buffer.from(out);
}

type Rr = { name: string; type: string; ttl: number; data: unknown };
const TYPE_CODES: Record<string, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, HINFO: 13, MX: 15, TXT: 16, AAAA: 28, SRV: 33, DS: 43, NSEC: 47, DNSKEY: 48 };
const packetAnswer = (dnsPacket as unknown as { answer: { encode(a: unknown): Buffer } }).answer;
const decode = (b: Buffer) => dnsPacket.decode(b);
const types = (rrs: dnsPacket.Answer[] | undefined) => (rrs ?? []).map((r) => r.type);
const rrs = (list: dnsPacket.Answer[] | undefined): Rr[] => (list ?? []) as unknown as Rr[];

/** Checks every RRSIG of a decoded section against the zone's keys (our own verifier: delv and Unbound do it independently elsewhere). */
function verifyAll(section: dnsPacket.Answer[] | undefined, keyDir: string): number {
  const all = rrs(section);
  const keys = readZoneKeys(keyDir, 'example.test', false).keys;
  let n = 0;
  for (const sig of all.filter((r) => r.type === 'RRSIG')) {
    const d = sig.data as { typeCovered: string; algorithm: number; labels: number; originalTTL: number; expiration: number; inception: number; keyTag: number; signersName: string; signature: Buffer };
    const covered = all.filter((r) => r.type === d.typeCovered && r.name.toLowerCase() === sig.name.toLowerCase());
    const rdata = covered.map((r) => new RData(packetAnswer.encode({ ...r, name: 'x' }).subarray(13)));
    const key = keys.find((k) => k.tag === d.keyTag);
    if (!key) throw new Error(`no key ${d.keyTag}`);
    const signer = canonicalName(nameOf(`${d.signersName}.`));
    const fields = Buffer.alloc(18 + signer.length);
    fields.writeUInt16BE(TYPE_CODES[d.typeCovered], 0);
    fields[2] = d.algorithm;
    fields[3] = d.labels;
    fields.writeUInt32BE(d.originalTTL, 4);
    fields.writeUInt32BE(d.expiration, 8);
    fields.writeUInt32BE(d.inception, 12);
    fields.writeUInt16BE(d.keyTag, 16);
    signer.copy(fields, 18);
    const owner = canonicalNameOfKey(sig.name.toLowerCase().replace(/\.$/, ''));
    const data = signingInput(fields, owner, fields.readUInt16BE(0), d.originalTTL, rdata);
    if (!key.algorithm.verify(key.publicKey, data, d.signature)) throw new Error(`bad signature over ${sig.name} ${d.typeCovered}`);
    n++;
  }
  return n;
}

describe('signed zone (CSK, ECDSA P-256)', () => {
  const dir = tmpDir();
  const keyDir = path.join(dir, 'keys');
  keysFor(keyDir, 'csk');
  const { runtime, problems } = build(zoneYaml(keyDir), dir);
  const rt = runtime as Runtime;
  const ctx = new QueryContext();

  test('builds without problems', () => {
    expect(problems).toEqual([]);
    expect(rt.signer).not.toBeNull();
  });

  test('DO=0 answers are the same bytes as from the zone unsigned', () => {
    const plain = build(zoneYaml('')).runtime as Runtime;
    const other = new QueryContext();
    for (const [name, type] of [['www.example.test', 'A'], ['nope.example.test', 'A'], ['www.example.test', 'TXT'], ['example.test', 'MX'], ['alias.example.test', 'A'], ['x.sub.example.test', 'A'], ['a.wild.example.test', 'TXT'], ['example.test', 'SOA']]) {
      for (const edns of [false, true]) {
        const signed = ask(ctx, rt, name, type, { edns });
        const unsigned = ask(other, plain, name, type, { edns });
        expect(signed.toString('hex')).toBe(unsigned.toString('hex'));
      }
    }
  });

  test('positive answers: each RRset followed by its RRSIG, signatures valid', () => {
    const p = decode(ask(ctx, rt, 'www.example.test', 'A', { do: true }));
    expect(types(p.answers)).toEqual(['A', 'A', 'RRSIG']);
    expect(verifyAll(p.answers, keyDir)).toBe(1);
    const mx = decode(ask(ctx, rt, 'example.test', 'MX', { do: true }));
    expect(types(mx.answers)).toEqual(['MX', 'RRSIG']);
    expect(types(mx.additionals)).toEqual(['A', 'RRSIG', 'AAAA', 'RRSIG', 'OPT']);
    expect(verifyAll(mx.answers, keyDir) + verifyAll(mx.additionals, keyDir)).toBe(3);
  });

  test('DNSKEY at the apex, signed', () => {
    const p = decode(ask(ctx, rt, 'example.test', 'DNSKEY', { do: true }));
    expect(types(p.answers)).toEqual(['DNSKEY', 'RRSIG']);
    expect(verifyAll(p.answers, keyDir)).toBe(1);
  });

  test('load-balanced answers, a CNAME into one, wildcards: signed under the name asked', () => {
    const p = decode(ask(ctx, rt, 'alias.example.test', 'A', { do: true }));
    expect(types(p.answers)).toEqual(['CNAME', 'RRSIG', 'A', 'A', 'RRSIG']);
    expect(verifyAll(p.answers, keyDir)).toBe(2);
    const w = decode(ask(ctx, rt, 'Any.Wild.example.test', 'TXT', { do: true }));
    expect(types(w.answers)).toEqual(['TXT', 'RRSIG']);
    expect((w.answers![1] as Rr & { data: { labels: number } }).data.labels).toBe(4); // as if the name existed
    expect(verifyAll(w.answers, keyDir)).toBe(1);
    const l = decode(ask(ctx, rt, 'x.lbwild.example.test', 'AAAA', { do: true }));
    expect(types(l.answers)).toEqual(['AAAA', 'RRSIG']);
    expect(verifyAll(l.answers, keyDir)).toBe(1);
  });

  test('NXDOMAIN becomes NOERROR with the NSEC of the name: next \\000.name, types RRSIG NSEC NXNAME (RFC 9824 §3.1)', () => {
    const raw = ask(ctx, rt, 'nope.example.test', 'A', { do: true });
    const p = decode(raw);
    expect(raw[3] & 0xf).toBe(0);
    expect(p.answers).toEqual([]);
    expect(types(p.authorities)).toEqual(['SOA', 'RRSIG', 'NSEC', 'RRSIG']);
    const nsec = rrs(p.authorities)[2] as Rr & { data: { nextDomain: string; rrtypes: string[] } };
    expect(nsec.name).toBe('nope.example.test');
    expect(nsec.data.nextDomain).toBe('\u0000.nope.example.test'); // dns-packet shows the \000 label as U+0000
    expect(nsec.data.rrtypes.sort()).toEqual(['NSEC', 'RRSIG', 'UNKNOWN_128'].sort());
    expect(nsec.ttl).toBe(60);
    expect(verifyAll(p.authorities, keyDir)).toBe(2);
  });

  test('NODATA: the NSEC lists the types at the name; an empty non-terminal only RRSIG and NSEC', () => {
    const p = decode(ask(ctx, rt, 'www.example.test', 'TXT', { do: true }));
    const nsec = p.authorities!.find((r) => r.type === 'NSEC') as Rr & { data: { rrtypes: string[] } };
    expect(nsec.data.rrtypes.sort()).toEqual(['A', 'NSEC', 'RRSIG']);
    const ent = decode(ask(ctx, rt, 'ent.example.test', 'A', { do: true }));
    expect((ent.authorities!.find((r) => r.type === 'NSEC') as Rr & { data: { rrtypes: string[] } }).data.rrtypes.sort()).toEqual(['NSEC', 'RRSIG']);
    const apex = decode(ask(ctx, rt, 'example.test', 'TXT', { do: true }));
    expect((apex.authorities!.find((r) => r.type === 'NSEC') as Rr & { data: { rrtypes: string[] } }).data.rrtypes.sort()).toEqual(['DNSKEY', 'MX', 'NS', 'NSEC', 'RRSIG', 'SOA']);
    // A load balancer's name: the types it serves, without the one asked (an AAAA NODATA must not list AAAA).
    const lb = decode(ask(ctx, rt, 'lb.example.test', 'TXT', { do: true }));
    expect((lb.authorities!.find((r) => r.type === 'NSEC') as Rr & { data: { rrtypes: string[] } }).data.rrtypes.sort()).toEqual(['A', 'AAAA', 'NSEC', 'RRSIG']);
    expect(verifyAll(lb.authorities, keyDir)).toBe(2);
  });

  test('referrals: the DS and its RRSIG, or the NSEC proving there is none; NS and glue unsigned', () => {
    const secure = decode(ask(ctx, rt, 'www.secure.example.test', 'A', { do: true }));
    expect(types(secure.authorities)).toEqual(['NS', 'DS', 'RRSIG']);
    expect(types(secure.additionals)).toEqual(['A', 'OPT']);
    expect(verifyAll(secure.authorities, keyDir)).toBe(1);
    const insecure = decode(ask(ctx, rt, 'www.sub.example.test', 'A', { do: true }));
    expect(types(insecure.authorities)).toEqual(['NS', 'NSEC', 'RRSIG']);
    const nsec = insecure.authorities![1] as Rr & { data: { rrtypes: string[] } };
    expect(nsec.name).toBe('sub.example.test');
    expect(nsec.data.rrtypes.sort()).toEqual(['NS', 'NSEC', 'RRSIG']);
    expect(verifyAll(insecure.authorities, keyDir)).toBe(1);
    // DS asked directly at the cut: answered from this (the parent) side.
    const ds = decode(ask(ctx, rt, 'secure.example.test', 'DS', { do: true }));
    expect(types(ds.answers)).toEqual(['DS', 'RRSIG']);
  });

  test('sizes: a signed answer that does not fit the UDP payload size gets TC (RFC 4035 §3.1.1); TCP carries it whole', () => {
    const query = (udpSize: number) => dnsPacket.encode({
      type: 'query', id: 9, flags: 0,
      questions: [{ type: 'TXT', name: 'big.example.test', class: 'IN' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: udpSize, flags: dnsPacket.DNSSEC_OK } as unknown as dnsPacket.Answer],
    });
    const udp = Buffer.from(handleQuery(ctx, rt, query(512), '127.0.0.1', 'udp') as Uint8Array);
    expect(udp.length).toBeLessThanOrEqual(512);
    expect(udp.readUInt16BE(2) & 0x0200).toBe(0x0200);
    // Whole RRsets only: the TXT fits, its RRSIG does not; TC tells the resolver to ask again over TCP.
    expect(types(decode(udp).answers)).toEqual(['TXT']);
    const roomy = decode(Buffer.from(handleQuery(ctx, rt, query(1232), '127.0.0.1', 'udp') as Uint8Array));
    expect(types(roomy.answers)).toEqual(['TXT', 'RRSIG']);
    const tcp = Buffer.from(handleQuery(ctx, rt, query(512), '127.0.0.1', 'tcp') as Uint8Array).subarray(2);
    expect(tcp.readUInt16BE(2) & 0x0200).toBe(0);
    expect(types(decode(tcp).answers)).toEqual(['TXT', 'RRSIG']);
    expect(verifyAll(decode(tcp).answers, keyDir)).toBe(1);
    // Unsigned, the same answer fits in 512 bytes: DO=0 is not truncated.
    const plain = Buffer.from(ask(ctx, rt, 'big.example.test', 'TXT', { edns: false }));
    expect(plain.readUInt16BE(2) & 0x0200).toBe(0);
  });

  test('ANY stays minimal: the RFC 8482 HINFO, signed', () => {
    const p = decode(ask(ctx, rt, 'www.example.test', 'ANY', { do: true }));
    expect(types(p.answers)).toEqual(['HINFO', 'RRSIG']);
    expect(verifyAll(p.answers, keyDir)).toBe(1);
  });

  test('NXNAME is not a question: FORMERR (RFC 9824 §3.5)', () => {
    const q = dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'A', name: 'www.example.test', class: 'IN' }] });
    q.writeUInt16BE(128, q.length - 4);
    const out = handleQuery(ctx, rt, q, '127.0.0.1', 'udp') as Uint8Array;
    expect(out[3] & 0xf).toBe(1);
  });

  test('the second time, from the cache: hits counted, the same signature bytes', () => {
    const c = new QueryContext();
    const first = decode(ask(c, rt, 'lb.example.test', 'A', { do: true }));
    const misses = c.signingStats[SigningCounter.Misses];
    const hits = c.signingStats[SigningCounter.Hits];
    const second = decode(ask(c, rt, 'lb.example.test', 'A', { do: true }));
    expect(c.signingStats[SigningCounter.Misses]).toBe(misses);
    expect(c.signingStats[SigningCounter.Hits]).toBe(hits + 1);
    const sig = (p: dnsPacket.DecodedPacket) => ((p.answers!.find((r) => r.type === 'RRSIG') as Rr).data as { signature: Buffer }).signature.toString('hex');
    expect(sig(second)).toBe(sig(first));
    // Rotation changes the order of the records, not the RRset: still the cached signature.
    expect(rrs(first.answers).filter((r) => r.type === 'A').length).toBe(2);
  });
});

describe('rate limiting of signed answers', () => {
  const dir = tmpDir();
  const keyDir = path.join(dir, 'keys');
  keysFor(keyDir, 'csk');
  const rt = build(zoneYaml(keyDir), dir).runtime as Runtime;

  test('a DO=1 random-subdomain flood is counted as NXDOMAIN of the zone (compact denial is NOERROR on the wire), and a slipped response carries no signature', () => {
    const ctx = new QueryContext();
    const now = 1000;
    ctx.now = now;
    const rrl: RrlConfig = { responses_per_second: 100, nxdomains_per_second: 2, errors_per_second: null, window: 5, slip: 2, ipv4_prefix_length: 24, ipv6_prefix_length: 56, exempt: [], log_only: false, max_table_size: 1024 };
    ctx.rrl = new RateLimiter(rrlSettings(rrl), now, 1);
    let answered = 0;
    let slipped = 0;
    for (let i = 0; i < 20; i++) {
      const q = dnsPacket.encode({
        type: 'query', id: i, flags: 0,
        questions: [{ type: 'A', name: `random${i}.example.test`, class: 'IN' }],
        additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: dnsPacket.DNSSEC_OK } as unknown as dnsPacket.Answer],
      });
      const out = handleQuery(ctx, rt, q, '127.0.0.9', 'udp');
      if (out === null) continue;
      const r = decode(Buffer.from(out));
      if (r.flag_tc) {
        slipped++;
        expect(ctx.outcome.rrlKind).toBe(RrlKind.Nxdomain);
        expect(types(r.answers)).toEqual([]);
        expect(types(r.authorities)).toEqual([]);
      } else {
        answered++;
        expect(types(r.authorities)).toContain('NSEC');
      }
    }
    // One account for every name (the zone): 2 a second plus the slip share, not 20 answers for 20 names.
    expect(answered).toBe(2);
    expect(slipped).toBeGreaterThan(0);
  });
});

describe('a signed zone beside an unsigned one', () => {
  const dir = tmpDir();
  const keyDir = path.join(dir, 'keys');
  keysFor(keyDir, 'csk');
  const other = `
  - name: other.test
    ns: [ns1.other.test]
    soa: { serial: 2024010101 }
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: www, type: A, value: 192.0.2.1 }
      - { name: sub, type: NS, value: ns.sub }
      - { name: sub, type: DS, value: "12345 13 2 ${'cd'.repeat(32)}" }
      - { name: alias, type: CNAME, value: www.example.test. }
pools:`;
  const mixed = build(zoneYaml(keyDir).replace('\npools:', other), dir).runtime as Runtime;
  const plain = build(zoneYaml('').replace('\npools:', other)).runtime as Runtime;

  test('DO=1 answers from the unsigned zone are unchanged: no RRSIG, NXDOMAIN stays, no DS in referrals', () => {
    const a = new QueryContext();
    const b = new QueryContext();
    for (const [name, type] of [['www.other.test', 'A'], ['nope.other.test', 'A'], ['www.other.test', 'TXT'], ['x.sub.other.test', 'A']]) {
      expect(ask(a, mixed, name, type, { do: true }).toString('hex')).toBe(ask(b, plain, name, type, { do: true }).toString('hex'));
    }
    // A CNAME from the unsigned zone into the signed one: only the signed zone's RRset gets its RRSIG.
    const p = decode(ask(a, mixed, 'alias.other.test', 'A', { do: true }));
    expect(types(p.answers)).toEqual(['CNAME', 'A', 'A', 'RRSIG']);
  });
});

describe('KSK + ZSK, Ed25519', () => {
  const dir = tmpDir();
  const keyDir = path.join(dir, 'keys');
  keysFor(keyDir, 'ksk+zsk', 15);
  const { runtime, problems } = build(zoneYaml(keyDir, ', keys: ksk+zsk, algorithm: 15'), dir);
  const rt = runtime as Runtime;
  const ctx = new QueryContext();
  const keys = readZoneKeys(keyDir, 'example.test', false).keys;
  const ksk = keys.find((k) => k.sep)!;
  const zsk = keys.find((k) => !k.sep)!;

  test('the KSK signs the DNSKEY RRset, the ZSK everything else', () => {
    expect(problems).toEqual([]);
    const p = decode(ask(ctx, rt, 'example.test', 'DNSKEY', { do: true }));
    expect(types(p.answers)).toEqual(['DNSKEY', 'DNSKEY', 'RRSIG']);
    expect(((p.answers![2] as Rr).data as { keyTag: number }).keyTag).toBe(ksk.tag);
    const a = decode(ask(ctx, rt, 'www.example.test', 'A', { do: true }));
    expect(((a.answers!.find((r) => r.type === 'RRSIG') as Rr).data as { keyTag: number; algorithm: number }).keyTag).toBe(zsk.tag);
    expect(verifyAll(p.answers, keyDir) + verifyAll(a.answers, keyDir)).toBe(2);
  });
});

describe('what the build refuses', () => {
  test('no keys, a private key readable by others, a private key that is not the public one', () => {
    const dir = tmpDir();
    const keyDir = path.join(dir, 'keys');
    mkdirSync(keyDir);
    expect(build(zoneYaml(keyDir), dir).problems.join('\n')).toMatch(/no keys for example.test/);
    keysFor(keyDir, 'csk');
    const key = readZoneKeys(keyDir, 'example.test', false).keys[0];
    chmodSync(`${key.path}.private`, 0o644);
    expect(build(zoneYaml(keyDir), dir).problems.join('\n')).toMatch(/accessible to group or others \(mode 0644\); run: chmod 600/);
    chmodSync(`${key.path}.private`, 0o600);
    expect(build(zoneYaml(keyDir), dir).problems).toEqual([]);
    // Another key's private half under this key's name.
    const other = tmpDir();
    keysFor(other, 'csk');
    const foreign = readZoneKeys(other, 'example.test', false).keys[0];
    const { readFileSync } = jest.requireActual<typeof import('node:fs')>('node:fs');
    writeFileSync(`${key.path}.private`, readFileSync(`${foreign.path}.private`), { mode: 0o600 });
    expect(build(zoneYaml(keyDir), dir).problems.join('\n')).toMatch(/does not belong to the public key/);
  });

  test('keys that are all inactive: an error at load', () => {
    const dir = tmpDir();
    const keyDir = path.join(dir, 'keys');
    mkdirSync(keyDir);
    const t = emptyTiming();
    t.publish = NOW - 7200;
    t.activate = NOW + 3600;
    generateKey(keyDir, 'example.test', algorithm(13)!, FLAGS_KSK, t);
    expect(build(zoneYaml(keyDir), dir).problems.join('\n')).toMatch(/no active key for example.test/);
  });
});
