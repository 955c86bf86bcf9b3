// Names (presentation ⇄ wire, keys, escapes) and RDATA parsing of static records.
import { RRType } from '../../src/dns/wire/constants';
import {
  isSubdomainKey, keyOfWire, labelCountOfKey, nameOf, parentKey, parseName, readQuestionName, skipName, WireName,
} from '../../src/dns/wire/name';
import { parseTxtStrings } from '../../src/dns/wire/rdata';
import { parseRData } from '../../src/dns/wire/rrtypes';
import { internalized } from '../../src/util/intern';
import { wireName } from './packets';

const origin = nameOf('Example.COM.');

describe('parseName', () => {
  test('absolute names keep their case on the wire and get a lowercase key', () => {
    const n = nameOf('WWW.Example.com.');
    expect(n.key).toBe('www.example.com');
    expect(n.wire).toEqual(wireName('WWW.Example.com'));
    expect(n.labelCount).toBe(3);
    expect(n.toString()).toBe('www.example.com.');
    expect(n.suffixKeys).toEqual(['www.example.com', 'example.com', 'com']);
    expect(n.suffixOffsets).toEqual([0, 4, 12]);
  });

  test('the key of any name is the key of its wire form (with and without escapes, relative and absolute)', () => {
    const labels = ['www', 'WWW', 'a-b', 'x_1', 'Mixed9', '*', 'a\\.b', 'sp\\032ace', 'q\\"', 'u', '\\065bc'];
    const root = nameOf('.');
    let seed = 7;
    const pick = () => labels[(seed = (seed * 1103515245 + 12345) & 0x7fffffff) % labels.length];
    for (let i = 0; i < 400; i++) {
      const text = Array.from({ length: 1 + (i % 4) }, pick).join('.') + (i % 3 === 0 ? '.' : '');
      for (const o of [undefined, origin, root]) {
        const n = parseName(text, o);
        if (typeof n === 'string') continue;
        expect(n.key).toBe(keyOfWire(n.wire, 0));
      }
    }
  });

  test('relative names are completed with the origin; "@" is the origin', () => {
    expect(nameOf('mail', origin).key).toBe('mail.example.com');
    expect(nameOf('a.b', origin).wire).toEqual(wireName('a.b.Example.COM'));
    expect(nameOf('@', origin)).toBe(origin);
    expect(parseName('@')).toMatch(/origin/);
  });

  test('the root', () => {
    const r = nameOf('.');
    expect(r.key).toBe('');
    expect(r.wire).toEqual(Buffer.from([0]));
    expect(r.toString()).toBe('.');
  });

  test('escapes: \\. inside a label, \\\\, \\DDD', () => {
    const n = nameOf('a\\.b.c\\\\d.\\065\\000x.example.');
    expect(n.wire).toEqual(wireName([Buffer.from('a.b'), Buffer.from('c\\d'), Buffer.from([0x41, 0x00, 0x78]), Buffer.from('example')]));
    expect(n.key).toBe('a\\.b.c\\\\d.a\\000x.example');
    expect(n.labelCount).toBe(4);
    expect(n.suffixKeys).toEqual(['a\\.b.c\\\\d.a\\000x.example', 'c\\\\d.a\\000x.example', 'a\\000x.example', 'example']);
    // A name ending in an escaped dot is relative.
    const rel = nameOf('x\\.', origin);
    expect(rel.key).toBe('x\\..example.com');
    expect(rel.labelCount).toBe(3);
  });

  test('a name ending in an escaped backslash and a dot is absolute; one ending in an escaped dot is relative', () => {
    const abs = nameOf('a\\\\.', origin); // a\\. : the label "a\" then the root
    expect(abs.wire).toEqual(wireName([Buffer.from('a\\')]));
    expect(abs.key).toBe('a\\\\');
    const rel = nameOf('a\\.', origin); // a\. : the label "a." under the origin
    expect(rel.wire).toEqual(wireName([Buffer.from('a.'), Buffer.from('Example'), Buffer.from('COM')]));
  });

  test('the key of the wire form round-trips through parseName', () => {
    for (const text of ['a\\.b.example.', 'x\\255y.\\\\.example.', '\\032space.example.']) {
      const n = nameOf(text);
      expect(nameOf(`${n.key}.`).wire).toEqual(n.wire);
    }
  });

  test.each([
    ['a..b.', /empty label/],
    ['.a.', /empty label/],
    ['a\\256.', /bad escape/],
    ['a\\25.', /bad escape/],
    ['a\\', /trailing backslash/],
    ['a b.', /must be escaped/],
    ['é.example.', /must be escaped/],
    [`${'x'.repeat(64)}.example.`, /longer than 63/],
  ])('%s is rejected', (text, msg) => {
    expect(parseName(text)).toMatch(msg);
  });

  test('255 bytes of wire form are allowed, 256 are not (with and without origin)', () => {
    const l = 'a'.repeat(61);
    expect(parseName(`${l}.${l}.${l}.${l}.abcde.`)).toBeInstanceOf(WireName);
    expect(parseName(`${l}.${l}.${l}.${l}.abcdef.`)).toMatch(/255/);
    // The origin "Example.COM." is 13 bytes: 3 × 62 + (1 + 55) + 13 = 255.
    expect(parseName(`${l}.${l}.${l}.${'b'.repeat(56)}`, origin)).toMatch(/255/);
    expect(parseName(`${l}.${l}.${l}.${'b'.repeat(55)}`, origin)).toBeInstanceOf(WireName);
  });
});

describe('keys', () => {
  test('keyOfWire folds ASCII case only and escapes the rest', () => {
    const w = wireName([Buffer.from('AbC'), Buffer.from([0xc4, 0x2e, 0x5c, 0x20, 0x7e])]);
    expect(keyOfWire(w, 0)).toBe('abc.\\196\\.\\\\\\032~');
  });

  test('parentKey, labelCountOfKey and isSubdomainKey respect escaped dots', () => {
    expect(parentKey('a.b.c')).toBe('b.c');
    expect(parentKey('c')).toBe('');
    expect(parentKey('a\\.b.c')).toBe('c');
    expect(parentKey('a\\\\.b')).toBe('b'); // an escaped backslash, then a real dot
    expect(labelCountOfKey('')).toBe(0);
    expect(labelCountOfKey('a\\.b.c')).toBe(2);
    expect(labelCountOfKey('a\\046b.c')).toBe(2);
    expect(isSubdomainKey('www.example.com', 'example.com')).toBe(true);
    expect(isSubdomainKey('example.com', 'example.com')).toBe(true);
    expect(isSubdomainKey('badexample.com', 'example.com')).toBe(false);
    // "x.a\.example.com" is x / "a.example" / com: not under example.com.
    expect(isSubdomainKey('x.a\\.example.com', 'example.com')).toBe(false);
    expect(isSubdomainKey('a\\\\.example.com', 'example.com')).toBe(true); // "a\\" then a real dot
    expect(isSubdomainKey('anything', '')).toBe(true);
  });

  test('readQuestionName gives the same key as keyOfWire', () => {
    const out = { key: '', labels: 0 };
    for (const name of [[Buffer.from('WWW'), Buffer.from('Example')], [Buffer.from([1, 2, 0x2e]), Buffer.from('x')], []]) {
      const w = wireName(name);
      expect(readQuestionName(w, 0, w.length, out)).toBe(w.length);
      expect(out.key).toBe(keyOfWire(w, 0));
      expect(out.labels).toBe(name.length);
    }
  });

  test('readQuestionName gives the same key the first, second and later times a name is read', () => {
    // The second reading swaps the cached key for its internalized twin; names that are property-like or
    // array-index-like must come back unchanged.
    const out = { key: '', labels: 0 };
    for (const labels of [['__proto__'], ['123'], ['4294967295'], ['constructor'], ['Mixed', 'CASE', 'test'], ['a', 'b']]) {
      const w = wireName(labels.map((l) => Buffer.from(l)));
      for (let i = 0; i < 3; i++) {
        expect(readQuestionName(w, 0, w.length, out)).toBe(w.length);
        expect(out.key).toBe(labels.join('.').toLowerCase());
      }
    }
  });

  test('internalized returns an equal string for any key, property-like names included', () => {
    for (const s of ['', '__proto__', 'constructor', 'toString', '123', '-1', '1.5', 'www.example.com', '\\032.x']) {
      expect(internalized(s)).toBe(s);
      expect(internalized(s).length).toBe(s.length);
    }
  });

  test('skipName handles pointers, rejects overruns', () => {
    expect(skipName(Buffer.from([1, 0x61, 0xc0, 0x0c]), 0, 4)).toBe(4);
    expect(skipName(Buffer.from([1, 0x61, 0xc0]), 0, 3)).toBe(-1);
    expect(skipName(Buffer.from([5, 0x61]), 0, 2)).toBe(-1);
    expect(skipName(Buffer.from([0x41, 0x61]), 0, 2)).toBe(-1);
  });
});

describe('RDATA from presentation text', () => {
  const hex = (r: ReturnType<typeof parseRData>): string => {
    if (typeof r === 'string') throw new Error(r);
    return Buffer.concat([r.head, r.name?.wire ?? Buffer.alloc(0), r.name2?.wire ?? Buffer.alloc(0), r.tail ?? Buffer.alloc(0)]).toString('hex');
  };

  test('A, AAAA', () => {
    expect(hex(parseRData(RRType.A, '192.0.2.1', origin))).toBe('c0000201');
    expect(hex(parseRData(RRType.AAAA, '2001:db8::1', origin))).toBe('20010db8000000000000000000000001');
    expect(parseRData(RRType.A, '192.0.2.256', origin)).toMatch(/not an IPv4/);
    expect(parseRData(RRType.A, '2001:db8::1', origin)).toMatch(/not an IPv4/);
    expect(parseRData(RRType.AAAA, '192.0.2.1', origin)).toMatch(/not an IPv6/);
  });

  test('MX, SRV (names relative to the origin unless absolute), CNAME, PTR, NS', () => {
    const mx = parseRData(RRType.MX, '10 mail', origin);
    if (typeof mx === 'string') throw new Error(mx);
    expect(mx.head).toEqual(Buffer.from([0, 10]));
    expect(mx.name?.key).toBe('mail.example.com');
    expect(mx.compress).toBe(true);
    const srv = parseRData(RRType.SRV, '1 2 5060 sip.example.net.', origin);
    if (typeof srv === 'string') throw new Error(srv);
    expect(srv.head).toEqual(Buffer.from([0, 1, 0, 2, 0x13, 0xc4]));
    expect(srv.name?.key).toBe('sip.example.net');
    expect(srv.compress).toBe(false); // RFC 2782
    expect((parseRData(RRType.SRV, '0 0 0 .', origin) as { name: WireName }).name.key).toBe('');
    expect(parseRData(RRType.MX, '10', origin)).toMatch(/preference/);
    expect(parseRData(RRType.MX, '70000 mail', origin)).toMatch(/0 to 65535/);
    expect(parseRData(RRType.SRV, '1 2 mail', origin)).toMatch(/priority/);
    expect(parseRData(RRType.CNAME, 'a b', origin)).toMatch(/one domain name/);
    expect((parseRData(RRType.PTR, 'host.example.net.', origin) as { name: WireName }).name.key).toBe('host.example.net');
    expect(parseRData(RRType.NS, 'bad..name', origin)).toMatch(/empty label/);
  });

  test('TXT: quoted strings, escapes, long text split into 255-byte strings', () => {
    expect(parseTxtStrings('"hello" "world"')).toEqual([Buffer.from('hello'), Buffer.from('world')]);
    expect(parseTxtStrings('"a \\"quoted\\" \\\\ word" "\\065\\066"')).toEqual([Buffer.from('a "quoted" \\ word'), Buffer.from('AB')]);
    expect(parseTxtStrings('v=spf1 -all')).toEqual([Buffer.from('v=spf1 -all')]);
    expect(parseTxtStrings('""')).toEqual([Buffer.alloc(0)]);
    const long = 'x'.repeat(600);
    const parts = parseTxtStrings(long) as Buffer[];
    expect(parts.map((p) => p.length)).toEqual([255, 255, 90]);
    expect(Buffer.concat(parts).toString()).toBe(long);
    const q = parseTxtStrings(`"${'y'.repeat(256)}" "z"`) as Buffer[];
    expect(q.map((p) => p.length)).toEqual([255, 1, 1]);
    expect(parseTxtStrings('"open')).toMatch(/unterminated/);
    expect(parseTxtStrings('"a" b')).toMatch(/quoted string/);
    expect(parseTxtStrings('"\\300"')).toMatch(/bad escape/);
    expect(parseTxtStrings('x'.repeat(65536))).toMatch(/65535/);
    const rd = parseRData(RRType.TXT, long, origin);
    if (typeof rd === 'string') throw new Error(rd);
    expect(rd.head.length).toBe(603);
    expect([rd.head[0], rd.head[256], rd.head[512]]).toEqual([255, 255, 90]);
  });

  test('CAA', () => {
    const r = parseRData(RRType.CAA, '0 issue "letsencrypt.org"', origin);
    if (typeof r === 'string') throw new Error(r);
    expect(r.head).toEqual(Buffer.concat([Buffer.from([0, 5]), Buffer.from('issue'), Buffer.from('letsencrypt.org')]));
    expect(hex(parseRData(RRType.CAA, '128 iodef mailto:a@example.com', origin)).startsWith('800569')).toBe(true);
    expect(parseRData(RRType.CAA, 'issue "x"', origin)).toMatch(/flags/);
    expect(parseRData(RRType.CAA, '256 issue "x"', origin)).toMatch(/flags/);
    expect(parseRData(RRType.CAA, '0 abcdefghijklmnop "x"', origin)).toMatch(/15/);
  });
});
