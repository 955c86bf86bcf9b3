// The DNSSEC building blocks against the RFCs' own examples: key tags (RFC 4034 §5.4), ECDSA P-256 keys, DS and a
// signature (RFC 6605 §6.1), Ed25519 keys, DS and a deterministic signature (RFC 8080 §6.1), the type bitmap
// (RFC 4034 §4.3) and compact denial's next name (RFC 9824 §3.1).
import { algorithm } from '../../src/dnssec/algorithms';
import { canonicalName, canonicalNameOfKey, rrsigLabels, signingInput } from '../../src/dnssec/canonical';
import { parseDnskeyFile, parsePrivate } from '../../src/dnssec/keyfile';
import { keyTag, ZoneKey, emptyTiming } from '../../src/dnssec/keys';
import { successor, typeBitmap } from '../../src/dnssec/nsec';
import { RRType } from '../../src/dns/wire/constants';
import { nameOf } from '../../src/dns/wire/name';
import { parseRData } from '../../src/dns/wire/rrtypes';

function rrsigFields(type: number, alg: number, labels: number, ttl: number, expiration: number, inception: number, tag: number, signer: string): Buffer {
  const name = canonicalName(nameOf(signer));
  const f = Buffer.alloc(18 + name.length);
  f.writeUInt16BE(type, 0);
  f[2] = alg;
  f[3] = labels;
  f.writeUInt32BE(ttl, 4);
  f.writeUInt32BE(expiration, 8);
  f.writeUInt32BE(inception, 12);
  f.writeUInt16BE(tag, 16);
  name.copy(f, 18);
  return f;
}

/** YYYYMMDDHHMMSS → seconds. */
function t(s: string): number {
  return Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8), +s.slice(8, 10), +s.slice(10, 12), +s.slice(12, 14)) / 1000;
}

test('key tag of the RFC 4034 §5.4 DNSKEY is 60485', () => {
  const pub = Buffer.from('AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==', 'base64');
  const rdata = Buffer.concat([Buffer.from([1, 0, 3, 5]), pub]);
  expect(keyTag(rdata)).toBe(60485);
});

describe('ECDSA P-256 (RFC 6605 §6.1)', () => {
  const alg = algorithm(13)!;
  const priv = parsePrivate('Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: GU6SnQ/Ou+xC5RumuIUIuJZteXT2z0O/ok1s38Et6mQ=\n', 'x');
  const pubText = 'example.net. 3600 IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==';

  test('private key → public key, key tag 55648, DS', () => {
    if (typeof priv === 'string') throw new Error(priv);
    const key = alg.privateKey(priv.raw!);
    const pub = parseDnskeyFile(pubText, 'example.net');
    if (typeof pub === 'string') throw new Error(pub);
    expect(alg.publicKey(key).equals(pub.publicKey)).toBe(true);
    const zk = new ZoneKey('example.net', alg, 257, pub.publicKey, key, emptyTiming(), '');
    expect(zk.tag).toBe(55648);
    expect(zk.ds(nameOf('example.net.')).head.subarray(4).toString('hex')).toBe('b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17');
  });

  test('the RFC\'s signature of www.example.net A verifies against our signing input; ours verify too', () => {
    const pub = parseDnskeyFile(pubText, 'example.net');
    if (typeof pub === 'string' || typeof priv === 'string') throw new Error('parse');
    const owner = canonicalName(nameOf('www.example.net.'));
    const rd = parseRData(RRType.A, '192.0.2.1', nameOf('example.net.'));
    if (typeof rd === 'string') throw new Error(rd);
    const fields = rrsigFields(RRType.A, 13, 3, 3600, t('20100909100439'), t('20100812100439'), 55648, 'example.net.');
    const data = signingInput(fields, owner, RRType.A, 3600, [rd]);
    const sig = Buffer.from('qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw==', 'base64');
    expect(alg.verify(pub.publicKey, data, sig)).toBe(true);
    const flipped = Buffer.from(sig);
    flipped[10] ^= 1;
    expect(alg.verify(pub.publicKey, data, flipped)).toBe(false);
    const ours = alg.sign(alg.privateKey(priv.raw!), data);
    expect(ours.length).toBe(64);
    expect(alg.verify(pub.publicKey, data, ours)).toBe(true);
  });
});

describe('Ed25519 (RFC 8080 §6.1)', () => {
  const alg = algorithm(15)!;
  test('key, DS and the exact signature of example.com MX', () => {
    const priv = parsePrivate('Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\nPrivateKey: ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=\n', 'x');
    if (typeof priv === 'string') throw new Error(priv);
    const key = alg.privateKey(priv.raw!);
    const pub = alg.publicKey(key);
    expect(pub.toString('base64')).toBe('l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=');
    const zk = new ZoneKey('example.com', alg, 257, pub, key, emptyTiming(), '');
    expect(zk.tag).toBe(3613);
    expect(zk.ds(nameOf('example.com.')).head.subarray(4).toString('hex')).toBe('3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b');
    // Upper case in the owner and the RDATA name: the canonical form lowercases both (RFC 4034 §6.2).
    const owner = canonicalName(nameOf('Example.COM.'));
    const mx = parseRData(RRType.MX, '10 Mail.Example.com.', nameOf('example.com.'));
    if (typeof mx === 'string') throw new Error(mx);
    const fields = rrsigFields(RRType.MX, 15, 2, 3600, 1440021600, 1438207200, 3613, 'example.com.');
    const sig = alg.sign(key, signingInput(fields, owner, RRType.MX, 3600, [mx]));
    expect(sig.toString('base64')).toBe('oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==');
  });
});

test('signing input: records in canonical order whatever the order given (RFC 4034 §6.3)', () => {
  const origin = nameOf('example.');
  const a = [parseRData(RRType.A, '192.0.2.2', origin), parseRData(RRType.A, '192.0.2.1', origin), parseRData(RRType.A, '10.0.0.1', origin)];
  const owner = canonicalName(nameOf('x.example.'));
  const f = Buffer.from([1, 2, 3]);
  const one = signingInput(f, owner, RRType.A, 60, a as never);
  const two = signingInput(f, owner, RRType.A, 60, [...a].reverse() as never);
  expect(one.equals(two)).toBe(true);
  const firstRdata = one.subarray(3 + owner.length + 10, 3 + owner.length + 14);
  expect([...firstRdata]).toEqual([10, 0, 0, 1]);
});

test('type bitmap: RFC 4034 §4.3 example (A MX RRSIG NSEC TYPE1234)', () => {
  expect(typeBitmap([1, 15, 46, 47, 1234]).toString('hex')).toBe(`0006400100000003041b${'00'.repeat(26)}20`);
  // RFC 9824: NXNAME (128) sits in window 0, bit 128.
  expect(typeBitmap([46, 47, 128]).toString('hex')).toBe('0011' + '000000000003' + '00000000000000000000' + '80');
});

test('next name of compact denial: \\000.owner, or a bigger name of at most 255 octets', () => {
  const owner = canonicalNameOfKey('nx.example');
  expect(successor(owner).equals(Buffer.concat([Buffer.from([1, 0]), owner]))).toBe(true);
  const long = canonicalNameOfKey(`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`);
  expect(long.length).toBe(255);
  const next = successor(long);
  expect(next.length).toBeLessThanOrEqual(255);
  expect(next[63]).toBe('a'.charCodeAt(0) + 1);
  expect(next.subarray(64).equals(long.subarray(64))).toBe(true);
});

test('RRSIG labels do not count a leading wildcard or the root', () => {
  expect(rrsigLabels(canonicalNameOfKey('www.example.com'))).toBe(3);
  expect(rrsigLabels(canonicalNameOfKey('*.example.com'))).toBe(2);
  expect(rrsigLabels(Buffer.from([0]))).toBe(0);
});

test('canonical wire of a question key, escapes included, equals the parsed name lowercased', () => {
  for (const key of ['www.example.com', 'a\\.b.example', 'x\\\\y.example', '\\000.\\255z.example', 'com', '']) {
    const parsed = canonicalName(nameOf(key === '' ? '.' : `${key}.`));
    expect(canonicalNameOfKey(key).toString('hex')).toBe(parsed.toString('hex'));
  }
});
