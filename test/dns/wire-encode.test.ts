// Unit tests of the response encoder (src/dns/wire/encode.ts): header bits, name compression (checked by two
// independent decoders), whole-RRset truncation with TC and OPT kept, NSID/ECS echo, extended RCODE.
import { decodeQuery, emptyQuery, Query } from '../../src/dns/wire/decode';
import { Encoder, encodeHeaderOnly, EncodeOptions } from '../../src/dns/wire/encode';
import { Message, RData, RRset } from '../../src/dns/wire/records';
import { nameOf } from '../../src/dns/wire/name';
import { rdataA, rdataMx, rdataName, rdataSoa, rdataSrv, rdataTxt } from '../../src/dns/wire/rdata';
import { decodeBoth, lines } from './oracle';
import { COOKIE, ecsFor, NSID, rawQuery } from './packets';

const A = 1;
/** The encoder returns a plain Uint8Array view; the checks read it as a Buffer (same bytes, no copy). */
const encoder = new Encoder();
function encodeResponse(...args: Parameters<Encoder['encode']>): Buffer {
  const v = encoder.encode(...args);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}
const opts = (o: Partial<EncodeOptions> = {}): EncodeOptions => ({ limit: 512, ednsUdpSize: 1232, nsid: null, prefix: 0, now: 0, ...o });
const a = (ip: string): RData => rdataA(Uint8Array.from(ip.split('.').map(Number)));

function q(pkt: Buffer): Query {
  const r = decodeQuery(pkt, emptyQuery());
  expect(r.status).toBe('ok');
  return r;
}

function set(owner: string | null, type: number, ttl: number, rdata: RData[]): RRset {
  return { owner: owner === null ? null : nameOf(owner), type, ttl, rdata };
}

/** Every compression pointer in the message points backwards, at the start of a label, and no loop exists. */
function checkPointers(msg: Buffer): number {
  let pointers = 0;
  // Walk names by decoding the whole message with a strict reader of our own.
  const labelStarts = new Set<number>();
  const readName = (off: number): number => {
    let jumped = false;
    let end = -1;
    let hops = 0;
    for (;;) {
      const len = msg[off];
      if ((len & 0xc0) === 0xc0) {
        const target = ((len & 0x3f) << 8) | msg[off + 1];
        expect(target).toBeLessThan(off);
        expect(labelStarts.has(target)).toBe(true);
        pointers++;
        if (!jumped) end = off + 2;
        jumped = true;
        off = target;
        expect(++hops).toBeLessThan(128);
        continue;
      }
      expect(len & 0xc0).toBe(0);
      if (!jumped) labelStarts.add(off);
      if (len === 0) return jumped ? end : off + 1;
      off += len + 1;
    }
  };
  let off = 12;
  const [qd, an, ns, ar] = [msg.readUInt16BE(4), msg.readUInt16BE(6), msg.readUInt16BE(8), msg.readUInt16BE(10)];
  for (let i = 0; i < qd; i++) off = readName(off) + 4;
  for (let i = 0; i < an + ns + ar; i++) {
    off = readName(off);
    const type = msg.readUInt16BE(off);
    const rdlen = msg.readUInt16BE(off + 8);
    const rd = off + 10;
    if (type === 2 || type === 5 || type === 12) expect(readName(rd)).toBe(rd + rdlen);
    if (type === 15) expect(readName(rd + 2)).toBe(rd + rdlen);
    if (type === 6) readName(readName(rd));
    off = rd + rdlen;
  }
  expect(off).toBe(msg.length);
  return pointers;
}

describe('header', () => {
  test('ID, QR, opcode/RD/CD copied, RA never, AA as set, RCODE', () => {
    const query = q(rawQuery({ id: 0x4242, flags: 0x0100 | 0x0010 | 0x0020 }));
    const msg = new Message();
    msg.aa = true;
    msg.rcode = 3;
    const out = encodeResponse(query, rawQuery({ id: 0x4242, flags: 0x0130 }), msg, opts());
    expect(out.readUInt16BE(0)).toBe(0x4242);
    const flags = out.readUInt16BE(2);
    expect(flags & 0x8000).toBeTruthy(); // QR
    expect(flags & 0x0400).toBeTruthy(); // AA
    expect(flags & 0x0100).toBeTruthy(); // RD copied
    expect(flags & 0x0010).toBeTruthy(); // CD copied
    expect(flags & 0x0080).toBe(0); // RA
    expect(flags & 0x0020).toBe(0); // AD not copied
    expect(flags & 0xf).toBe(3);
    expect(out.readUInt16BE(4)).toBe(1);
  });

  test('TCP prefix is the message length', () => {
    const pkt = rawQuery();
    const msg = new Message();
    msg.answer.push(set(null, A, 60, [a('192.0.2.1')]));
    const out = encodeResponse(q(pkt), pkt, msg, opts({ prefix: 2, limit: 65535 }));
    expect(out.readUInt16BE(0)).toBe(out.length - 2);
    const n = decodeBoth(out.subarray(2));
    expect(lines(n.answer)).toEqual(['www.example.com A 192.0.2.1']);
  });

  test('encodeHeaderOnly: FORMERR without question, ID/opcode/RD kept, TCP prefix', () => {
    const out = encodeHeaderOnly(0x1111, 0x0100 | (2 << 11), 1, 2);
    expect(out.length).toBe(14);
    expect(out.readUInt16BE(0)).toBe(12);
    expect(out.readUInt16BE(2)).toBe(0x1111);
    expect(out.readUInt16BE(4)).toBe(0x8000 | (2 << 11) | 0x0100 | 1);
    expect(out.subarray(6).equals(Buffer.alloc(8))).toBe(true);
  });
});

describe('compression', () => {
  test('a one-A answer without OPT is 49 bytes', () => {
    const pkt = rawQuery({ questions: [{ name: 'www.example.com', type: A }] });
    const msg = new Message();
    msg.aa = true;
    msg.answer.push(set(null, A, 300, [a('192.0.2.1')]));
    const out = encodeResponse(q(pkt), pkt, msg, opts());
    expect(out.length).toBe(49);
    const n = decodeBoth(out);
    expect(n.answer).toEqual([{ name: 'www.example.com', type: 'A', klass: 1, ttl: 300, data: '192.0.2.1' }]);
  });

  test('the question keeps the client case (0x20); owners written as pointers to it', () => {
    const pkt = rawQuery({ questions: [{ name: 'wWw.ExAmPlE.cOm', type: A }] });
    const msg = new Message();
    msg.answer.push(set(null, A, 300, [a('192.0.2.1'), a('192.0.2.2')]));
    const out = encodeResponse(q(pkt), pkt, msg, opts());
    const n = decodeBoth(out);
    expect(n.question[0].name).toBe('wWw.ExAmPlE.cOm');
    expect(n.answer.map((r) => r.name)).toEqual(['wWw.ExAmPlE.cOm', 'wWw.ExAmPlE.cOm']);
    expect(out.length).toBe(33 + 2 * 16);
  });

  test('names in NS, CNAME, MX, SOA and owners of additional/authority records compress against the question and each other', () => {
    const pkt = rawQuery({ questions: [{ name: 'Example.com', type: 15 }] });
    const msg = new Message();
    msg.answer.push(set('example.com.', 15, 300, [rdataMx(10, nameOf('mail.example.com.')), rdataMx(20, nameOf('mx.example.net.'))]));
    msg.authority.push(set('example.com.', 2, 300, [rdataName(nameOf('ns1.example.com.')), rdataName(nameOf('ns2.example.net.'))]));
    msg.additional.push(set('mail.example.com.', A, 300, [a('192.0.2.25')]));
    msg.additional.push(set('ns1.example.com.', A, 300, [a('192.0.2.53')]));
    const out = encodeResponse(q(pkt), pkt, msg, opts());
    const n = decodeBoth(out);
    expect(lines(n.answer)).toEqual(['example.com MX 10 mail.example.com', 'example.com MX 20 mx.example.net']);
    expect(lines(n.authority)).toEqual(['example.com NS ns1.example.com', 'example.com NS ns2.example.net']);
    expect(lines(n.additional)).toEqual(['mail.example.com A 192.0.2.25', 'ns1.example.com A 192.0.2.53']);
    expect(checkPointers(out)).toBeGreaterThanOrEqual(8);
    // mx.example.net and ns2.example.net: the second is "ns2" + pointer to "example.net" of the first.
    const naive = out.toString('latin1').toLowerCase();
    expect(naive.split('\u0007example\u0003net').length - 1).toBe(1); // "example.net" written once
    expect(naive.split('\u0007example\u0003com').length - 1).toBe(1); // "example.com" only in the question
  });

  test('SOA mname/rname compress; SRV targets are never compressed (RFC 2782)', () => {
    const pkt = rawQuery({ questions: [{ name: '_sip._tcp.example.com', type: 33 }] });
    const msg = new Message();
    msg.answer.push(set(null, 33, 300, [rdataSrv(1, 2, 5060, nameOf('sip.example.com.'))]));
    msg.authority.push(set('example.com.', 6, 60, [rdataSoa(nameOf('ns1.example.com.'), nameOf('hostmaster.example.com.'), 1, 2, 3, 4, 5)]));
    const out = encodeResponse(q(pkt), pkt, msg, opts());
    const n = decodeBoth(out);
    expect(lines(n.answer)).toEqual(['_sip._tcp.example.com SRV 1 2 5060 sip.example.com']);
    expect(lines(n.authority)).toEqual(['example.com SOA ns1.example.com hostmaster.example.com 1 2 3 4 5']);
    checkPointers(out);
    // The SRV RDATA holds the full target name.
    expect(out.includes(Buffer.concat([Buffer.from([0x13, 0xc4, 3]), Buffer.from('sip'), Buffer.from([7]), Buffer.from('example'), Buffer.from([3]), Buffer.from('com'), Buffer.from([0])]))).toBe(true);
  });

  test('CNAME chain: each owner is a pointer to the previous target', () => {
    const pkt = rawQuery({ questions: [{ name: 'a.example.com', type: A }] });
    const msg = new Message();
    msg.answer.push(set(null, 5, 300, [rdataName(nameOf('b.example.com.'))]));
    msg.answer.push(set('b.example.com.', 5, 300, [rdataName(nameOf('c.other.org.'))]));
    msg.answer.push(set('c.other.org.', A, 300, [a('192.0.2.3')]));
    const out = encodeResponse(q(pkt), pkt, msg, opts());
    const n = decodeBoth(out);
    expect(n.answer.map((r) => `${r.name} ${r.type} ${r.data}`)).toEqual([
      'a.example.com CNAME b.example.com', 'b.example.com CNAME c.other.org', 'c.other.org A 192.0.2.3',
    ]);
    checkPointers(out);
  });

  test('a label with an escaped dot in the question does not capture a suffix it only looks like', () => {
    // Question x / "a.b" / example / com; the answer's CNAME target b.example.com must not point at "a.b".
    const pkt = rawQuery({ questions: [{ name: [Buffer.from('x'), Buffer.from('a.b'), Buffer.from('example'), Buffer.from('com')], type: A }] });
    const query = q(pkt);
    expect(query.qname).toBe('x.a\\.b.example.com');
    const msg = new Message();
    msg.answer.push(set(null, 5, 300, [rdataName(nameOf('b.example.com.'))]));
    msg.answer.push(set('b.example.com.', A, 300, [a('192.0.2.9')]));
    const out = encodeResponse(query, pkt, msg, opts());
    const n = decodeBoth(out);
    // (dns-packet prints the label "a.b" without escaping its dot.)
    expect(n.answer.map((r) => `${r.name.toLowerCase()} ${r.type} ${r.data}`)).toEqual(['x.a.b.example.com CNAME b.example.com', 'b.example.com A 192.0.2.9']);
    // The CNAME RDATA is "b" + a pointer to "example.com" in the question, not a pointer to the label "a.b".
    expect(out.includes(Buffer.from([1, 0x62, 0xc0]))).toBe(true);
    checkPointers(out);
  });

  test('case of configured names is kept where they are written out in full', () => {
    const pkt = rawQuery({ questions: [{ name: 'q.example.com', type: 5 }] });
    const msg = new Message();
    msg.answer.push(set(null, 5, 300, [rdataName(nameOf('Target.Example.NET.'))]));
    const out = encodeResponse(q(pkt), pkt, msg, opts());
    expect(out.includes(Buffer.from('Target'))).toBe(true);
    expect(decodeBoth(out).answer[0].data).toBe('target.example.net');
  });
});

describe('truncation', () => {
  const many = (n: number): RRset => set(null, A, 300, Array.from({ length: n }, (_, i) => a(`10.0.${i >> 8}.${i & 255}`)));

  test('an RRset that does not fit 512 bytes is left out whole: TC=1, ANCOUNT 0, question kept', () => {
    const pkt = rawQuery();
    const msg = new Message();
    msg.aa = true;
    msg.answer.push(many(40)); // 33 + 40 × 16 = 673 bytes
    const out = encodeResponse(q(pkt), pkt, msg, opts({ limit: 512 }));
    expect(out.length).toBeLessThanOrEqual(512);
    const n = decodeBoth(out);
    expect(n.tc).toBe(true);
    expect(n.aa).toBe(true);
    expect(n.answer).toEqual([]);
    expect(n.question).toEqual([{ name: 'www.example.com', type: 'A', klass: 1 }]);
  });

  test('exactly at the limit fits; one byte less truncates', () => {
    const pkt = rawQuery();
    const msg = new Message();
    msg.answer.push(many(29)); // 33 + 29 × 16 = 497
    expect(encodeResponse(q(pkt), pkt, msg, opts({ limit: 497 })).length).toBe(497);
    const out = encodeResponse(q(pkt), pkt, msg, opts({ limit: 496 }));
    expect(decodeBoth(out).tc).toBe(true);
    expect(out.length).toBe(33);
  });

  test('with OPT: the OPT record always fits and the limit includes it', () => {
    const pkt = rawQuery({ opt: { udpSize: 4096, options: [NSID, ecsFor([192, 0, 2, 0], 24)] } });
    const msg = new Message();
    msg.answer.push(many(100)); // > 1232
    const out = encodeResponse(q(pkt), pkt, msg, opts({ limit: 1232, nsid: Buffer.from('nsid-1') }));
    expect(out.length).toBeLessThanOrEqual(1232);
    // dns2 3.0.0 loses the OPT when NSID precedes another option (oracle.ts); dns-packet checks it alone.
    const n = decodeBoth(out, { dns2: false });
    expect(n.tc).toBe(true);
    expect(n.answer).toEqual([]);
    expect(n.opt?.udpSize).toBe(1232);
    expect(n.opt?.ecs).toEqual({ family: 1, source: 24, scope: 0, ip: '192.0.2.0' });
    expect(n.nsid).toBe('nsid-1');
    // 70 records: 33 + 70 × 16 = 1153, + OPT 11 + NSID 10 + ECS 11 = 1185 ≤ 1232.
    msg.answer.length = 0;
    msg.answer.push(many(70));
    const fits = encodeResponse(q(pkt), pkt, msg, opts({ limit: 1232, nsid: Buffer.from('nsid-1') }));
    const f = decodeBoth(fits, { dns2: false });
    expect(f.tc).toBe(false);
    expect(f.answer.length).toBe(70);
    expect(fits.length).toBe(33 + 70 * 16 + 11 + 10 + 11);
  });

  test('a first RRset that fits is kept, a later one that does not is left out with TC', () => {
    const pkt = rawQuery({ questions: [{ name: 'a.example.com', type: A }] });
    const msg = new Message();
    msg.answer.push(set(null, 5, 300, [rdataName(nameOf('b.example.com.'))]));
    msg.answer.push(set('b.example.com.', A, 300, Array.from({ length: 40 }, (_, i) => a(`10.1.0.${i}`))));
    const out = encodeResponse(q(pkt), pkt, msg, opts({ limit: 512 }));
    const n = decodeBoth(out);
    expect(n.tc).toBe(true);
    expect(n.answer.map((r) => r.type)).toEqual(['CNAME']);
  });

  test('authority that does not fit → TC; additional that does not fit is dropped silently unless required', () => {
    const pkt = rawQuery({ questions: [{ name: 'example.com', type: 15 }] });
    const base = (): Message => {
      const m = new Message();
      m.answer.push(set(null, 15, 300, [rdataMx(10, nameOf('mail.example.com.'))]));
      m.additional.push(set('mail.example.com.', A, 300, Array.from({ length: 40 }, (_, i) => a(`10.2.0.${i}`))));
      return m;
    };
    const plain = decodeBoth(encodeResponse(q(pkt), pkt, base(), opts({ limit: 512 })));
    expect(plain.tc).toBe(false);
    expect(plain.answer.length).toBe(1);
    expect(plain.additional).toEqual([]);
    const req = base();
    req.additionalRequired = true;
    expect(decodeBoth(encodeResponse(q(pkt), pkt, req, opts({ limit: 512 }))).tc).toBe(true);
    const auth = new Message();
    auth.authority.push(set('example.com.', 16, 300, [rdataTxt([Buffer.alloc(255, 0x61), Buffer.alloc(255, 0x62)])]));
    const t = decodeBoth(encodeResponse(q(pkt), pkt, auth, opts({ limit: 512 })));
    expect(t.tc).toBe(true);
    expect(t.authority).toEqual([]);
  });

  test('rolling back a truncated RRset also forgets its compression targets', () => {
    // The big RRset (owner b.example.com) is dropped; the additional record written afterwards must not point
    // into the bytes that were rolled back.
    const pkt = rawQuery({ questions: [{ name: 'x.org', type: 15 }] });
    const m = new Message();
    m.answer.push(set(null, 15, 300, [rdataMx(10, nameOf('mail.example.com.'))]));
    m.additional.push(set('big.example.com.', 16, 300, [rdataTxt([Buffer.alloc(255), Buffer.alloc(255)])]));
    m.additional.push(set('mail.example.com.', A, 300, [a('192.0.2.1')]));
    const out = encodeResponse(q(pkt), pkt, m, opts({ limit: 512 }));
    const n = decodeBoth(out);
    expect(n.additional).toEqual([]); // additional processing stops at the first RRset that does not fit
    checkPointers(out);
  });
});

describe('OPT in responses', () => {
  test('our payload size, version 0, DO echoed, NSID only when asked and configured, cookie ignored', () => {
    const pkt = rawQuery({ opt: { udpSize: 4096, do: true, options: [COOKIE, NSID] } });
    const m = new Message();
    const n = decodeBoth(encodeResponse(q(pkt), pkt, m, opts({ nsid: Buffer.from('ams-1'), ednsUdpSize: 1400 })));
    expect(n.opt).toEqual({ udpSize: 1400, version: 0, dnssecOk: true, extendedRcode: 0, ecs: null });
    expect(n.nsid).toBe('ams-1');
    // Option codes in the response: NSID only (no cookie: we do not implement RFC 7873).
    const out = encodeResponse(q(pkt), pkt, m, opts({ nsid: Buffer.from('ams-1') }));
    expect(out.subarray(out.length - 9)).toEqual(Buffer.concat([Buffer.from([0, 3, 0, 5]), Buffer.from('ams-1')]));
    const notAsked = rawQuery({ opt: {} });
    expect(decodeBoth(encodeResponse(q(notAsked), notAsked, m, opts({ nsid: Buffer.from('ams-1') }))).nsid).toBeNull();
    expect(decodeBoth(encodeResponse(q(pkt), pkt, m, opts({ nsid: null }))).nsid).toBeNull();
  });

  test('no OPT in the query → no OPT in the response', () => {
    const pkt = rawQuery();
    const out = encodeResponse(q(pkt), pkt, new Message(), opts());
    expect(out.readUInt16BE(10)).toBe(0);
  });

  test('ECS echoed byte for byte with the scope from the answer, IPv4 and IPv6 at all prefix lengths', () => {
    for (const bytes of [[198, 51, 100, 77], [0x20, 0x01, 0x0d, 0xb8, 0xab, 0xcd, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x11, 0x22]]) {
      for (let p = 0; p <= bytes.length * 8; p++) {
        const e = ecsFor(bytes, p);
        const pkt = rawQuery({ opt: { options: [e] } });
        const m = new Message();
        m.ecsScope = Math.min(p, 20);
        const out = encodeResponse(q(pkt), pkt, m, opts());
        // The option is the last thing in the message.
        const optBytes = out.subarray(out.length - e.data.length - 4);
        const expected = Buffer.from(e.data);
        expected[3] = Math.min(p, 20);
        expect(optBytes).toEqual(Buffer.concat([Buffer.from([0, 8, 0, e.data.length]), expected]));
        const n = decodeBoth(out, { dns2: bytes.length === 4 });
        expect(n.opt?.ecs?.source).toBe(p);
        expect(n.opt?.ecs?.scope).toBe(Math.min(p, 20));
      }
    }
  });

  test('BADVERS: RCODE 16 = header 0 + OPT extended 1', () => {
    const pkt = rawQuery({ opt: { version: 1 } });
    const m = new Message();
    m.rcode = 16;
    const out = encodeResponse(q(pkt), pkt, m, opts());
    expect(out.readUInt16BE(2) & 0xf).toBe(0);
    const n = decodeBoth(out);
    expect(n.rcode).toBe(16);
    expect(n.opt?.extendedRcode).toBe(1);
    expect(n.opt?.version).toBe(0);
  });

  test('the encoder reuses its buffer: a previous long message leaves nothing behind', () => {
    const big = rawQuery({ opt: { options: [NSID] } });
    const m = new Message();
    m.answer.push(set(null, 16, 300, [rdataTxt([Buffer.alloc(200, 0x41)])]));
    const first = encodeResponse(q(big), big, m, opts({ nsid: Buffer.from('n') }));
    const small = rawQuery({ id: 7 });
    const second = encodeResponse(q(small), small, new Message(), opts());
    expect(second.length).toBe(33);
    expect(first.length).toBeGreaterThan(second.length);
    expect(decodeBoth(second).id).toBe(7);
  });
});
