// Unit tests of the query decoder (src/dns/wire/decode.ts): header, question, OPT (RFC 6891), ECS (RFC 7871),
// NSID (RFC 5001), cookies (RFC 7873) and every malformed case.
import { decodeQuery, emptyQuery, Query } from '../../src/dns/wire/decode';
import { COOKIE, ecsFor, ecsOption, NSID, optRecord, prng, rawQuery, u16, wireName } from './packets';

const dec = (b: Buffer): Query => decodeQuery(b, emptyQuery());

describe('header and question', () => {
  test('id, flags, opcode, name (lowercased key), type, class', () => {
    const q = dec(rawQuery({ id: 0xbeef, flags: 0x0110, questions: [{ name: 'WwW.ExAmPle.CoM', type: 28, klass: 1 }] }));
    expect(q.status).toBe('ok');
    expect(q.id).toBe(0xbeef);
    expect(q.flags).toBe(0x0110);
    expect(q.opcode).toBe(0);
    expect(q.qname).toBe('www.example.com');
    expect(q.qnameLabels).toBe(3);
    expect(q.qtype).toBe(28);
    expect(q.qclass).toBe(1);
    expect(q.edns).toBeNull();
    expect(q.questionEnd).toBe(12 + 17 + 4);
  });

  test('root name', () => {
    const q = dec(rawQuery({ questions: [{ name: [], type: 2 }] }));
    expect(q.status).toBe('ok');
    expect(q.qname).toBe('');
    expect(q.qnameLabels).toBe(0);
  });

  test('bytes outside printable ASCII and dots/backslashes inside labels are escaped in the key', () => {
    const name = [Buffer.from('a.b', 'latin1'), Buffer.from([0x00, 0x41, 0xff, 0x5c]), Buffer.from('com')];
    const q = dec(rawQuery({ questions: [{ name, type: 1 }] }));
    expect(q.status).toBe('ok');
    expect(q.qname).toBe('a\\.b.\\000a\\255\\\\.com');
    expect(q.qnameLabels).toBe(3);
  });

  test.each([0, 1, 5, 11])('%i bytes (shorter than a header) → drop', (n) => {
    expect(dec(rawQuery().subarray(0, n)).status).toBe('drop');
  });

  test('a response (QR=1) is dropped', () => {
    expect(dec(rawQuery({ flags: 0x8000 })).status).toBe('drop');
  });

  test('QDCOUNT 0 and 2 → FORMERR without a question to echo', () => {
    const zero = dec(rawQuery({ questions: [], qdcount: 0 }));
    expect(zero.status).toBe('formerr');
    expect(zero.questionEnd).toBe(0);
    const two = dec(rawQuery({ questions: [{ name: 'a.example', type: 1 }, { name: 'b.example', type: 1 }] }));
    expect(two.status).toBe('formerr');
    expect(two.questionEnd).toBe(0);
    // A header that claims a question that is not there.
    expect(dec(rawQuery({ questions: [], qdcount: 1 })).status).toBe('formerr');
  });

  test.each([1, 2, 4, 5, 6, 15])('opcode %i → NOTIMP (question kept for the echo)', (op) => {
    const q = dec(rawQuery({ flags: op << 11 }));
    expect(q.status).toBe('notimp');
    expect(q.opcode).toBe(op);
    expect(q.questionEnd).toBe(12 + 17 + 4);
  });

  test('opcode ≠ 0: the OPT record is still read (the NOTIMP answer carries one); a malformed rest is no OPT', () => {
    const q = dec(rawQuery({ flags: 4 << 11, opt: { udpSize: 4096, options: [NSID] } }));
    expect(q.status).toBe('notimp');
    expect(q.edns).toEqual({ udpSize: 4096, version: 0, dnssecOk: false, nsid: true, ecs: null, cookieAt: 0, cookieLen: 0, badOption: false });
    const bad = dec(rawQuery({ flags: 5 << 11, opt: { options: [ecsOption(9, 0, Buffer.alloc(0))] } }));
    expect(bad.status).toBe('notimp');
    expect(bad.edns).toBeNull();
    const runt = rawQuery({ flags: 5 << 11, opt: {} });
    const cut = dec(runt.subarray(0, runt.length - 3));
    expect([cut.status, cut.edns]).toEqual(['notimp', null]);
  });

  test('opcode ≠ 0 with QDCOUNT 0 → NOTIMP, not FORMERR', () => {
    expect(dec(rawQuery({ flags: 4 << 11, questions: [], qdcount: 0 })).status).toBe('notimp');
  });

  test('compression pointer in the question → FORMERR', () => {
    const pkt = rawQuery();
    const withPtr = Buffer.concat([pkt.subarray(0, 12), Buffer.from([3, 0x77, 0x77, 0x77, 0xc0, 0x0c]), u16(1), u16(1)]);
    expect(dec(withPtr).status).toBe('formerr');
  });

  test.each([0x40, 0x80, 0xc0])('label type bits %i → FORMERR', (t) => {
    const pkt = Buffer.concat([rawQuery({ questions: [] , qdcount: 1 }), Buffer.from([t | 1, 0x61, 0]), u16(1), u16(1)]);
    expect(dec(pkt).status).toBe('formerr');
  });

  test('labels of 63 bytes are fine; names up to 255 bytes in wire form are fine, 256 are not', () => {
    const l63 = Buffer.alloc(63, 0x61);
    expect(dec(rawQuery({ questions: [{ name: [l63, Buffer.from('com')], type: 1 }] })).status).toBe('ok');
    // 4 × (1+61) + 1 + 6 = 255: 4 labels of 61, one label of 5, the root.
    const l61 = Buffer.alloc(61, 0x62);
    const name255 = [l61, l61, l61, l61, Buffer.from('abcde')];
    expect(wireName(name255).length).toBe(255);
    const ok = dec(rawQuery({ questions: [{ name: name255, type: 1 }] }));
    expect(ok.status).toBe('ok');
    expect(ok.qnameLabels).toBe(5);
    const name256 = [l61, l61, l61, l61, Buffer.from('abcdef')];
    expect(wireName(name256).length).toBe(256);
    expect(dec(rawQuery({ questions: [{ name: name256, type: 1 }] })).status).toBe('formerr');
  });

  test('question without type/class, or a name that runs off the end → FORMERR', () => {
    const pkt = rawQuery();
    for (let cut = 12; cut < pkt.length; cut++) {
      expect(dec(pkt.subarray(0, cut)).status).toBe('formerr');
    }
    expect(dec(pkt).status).toBe('ok');
  });

  test('answer/authority records in a query are skipped; malformed ones are FORMERR', () => {
    const rr = Buffer.concat([Buffer.from([0xc0, 0x0c]), u16(1), u16(1), Buffer.from([0, 0, 0, 60]), u16(4), Buffer.from([1, 2, 3, 4])]);
    const q = dec(rawQuery({ records: [rr, rr], an: 1, ns: 1, opt: { options: [NSID] } }));
    expect(q.status).toBe('ok');
    expect(q.edns?.nsid).toBe(true);
    const bad = Buffer.concat([rr.subarray(0, rr.length - 1)]);
    expect(dec(rawQuery({ records: [bad], an: 1 })).status).toBe('formerr');
  });

  test('additional records other than OPT and TSIG are skipped by length', () => {
    const txt = Buffer.concat([wireName('key.example'), u16(16), u16(1), Buffer.alloc(4), u16(3), Buffer.from([2, 0x61, 0x62])]);
    const q = dec(rawQuery({ opt: { udpSize: 4096 }, extraAdditional: [txt] }));
    expect(q.status).toBe('ok');
    expect(q.edns?.udpSize).toBe(4096);
    expect(q.tsig).toBeNull();
  });

  test('decoding reuses the Query object without leaking state from the previous packet', () => {
    const q = emptyQuery();
    decodeQuery(rawQuery({ opt: { options: [NSID, ecsFor([192, 0, 2, 0], 24)] } }), q);
    expect(q.edns?.ecs?.sourcePrefix).toBe(24);
    decodeQuery(rawQuery({ questions: [{ name: 'b.example', type: 16 }] }), q);
    expect(q.status).toBe('ok');
    expect(q.edns).toBeNull();
    expect(q.qname).toBe('b.example');
    expect(q.problem).toBe('');
  });
});

describe('repeated names (the key cache)', () => {
  // The cache is direct-mapped: names that share a slot replace each other. Tens of thousands of similar names of
  // equal length make sure many share a slot, whatever the hash.
  test('similar names asked in turn and in mixed case keep their own keys', () => {
    for (let i = 0; i < 40000; i++) {
      const a = `n${i}.example-a`;
      const b = `n${i}.example-b`;
      for (const [name, want] of [[a, a], [b, b], [a.toUpperCase(), a], [b, b]]) {
        const q = dec(rawQuery({ questions: [{ name, type: 1 }] }));
        if (q.qname !== want) expect([name, q.qname]).toEqual([name, want]);
      }
    }
  });

  test('names that share a cache slot and differ only in the 1-3 bytes of their last word keep their own keys', () => {
    // Keys are compared 4 bytes at a time, the last word holding the leftover bytes. Each pair shares a slot
    // under name.ts's hash (FNV-1a of the lowercase key, folded to 10 bits), found by search; they differ
    // only in their last byte, so the slot's word compare is all that tells them apart.
    const pairs = [['collide1005.b', 'collide1005.w'], ['collide141.xm', 'collide141.xx'], ['collide38.xxf', 'collide38.xxo'], ['collide23.xxxb', 'collide23.xxxk']];
    for (const [a, b] of pairs) {
      for (const name of [a, b, a, b, a.toUpperCase(), b]) {
        expect(dec(rawQuery({ questions: [{ name, type: 1 }] })).qname).toBe(name.toLowerCase());
      }
    }
  });

  test('a name that differs from a cached one only in length is not mistaken for it', () => {
    expect(dec(rawQuery({ questions: [{ name: 'ab.example', type: 1 }] })).qname).toBe('ab.example');
    expect(dec(rawQuery({ questions: [{ name: 'ab.example.com', type: 1 }] })).qname).toBe('ab.example.com');
    expect(dec(rawQuery({ questions: [{ name: 'AB.EXAMPLE', type: 1 }] })).qname).toBe('ab.example');
  });
});

describe('OPT record', () => {
  test('udp size, version, DO, extended rcode bits ignored in queries', () => {
    const q = dec(rawQuery({ opt: { udpSize: 4096, version: 0, do: true, extRcode: 0 } }));
    expect(q.status).toBe('ok');
    expect(q.edns).toEqual({ udpSize: 4096, version: 0, dnssecOk: true, nsid: false, ecs: null, cookieAt: 0, cookieLen: 0, badOption: false });
  });

  test('version 1 is decoded (the handler answers BADVERS)', () => {
    const q = dec(rawQuery({ opt: { version: 1 } }));
    expect(q.status).toBe('ok');
    expect(q.edns?.version).toBe(1);
    expect(q.edns?.dnssecOk).toBe(false);
  });

  test('udp size below 512 is kept as sent (the handler raises it to 512)', () => {
    expect(dec(rawQuery({ opt: { udpSize: 100 } })).edns?.udpSize).toBe(100);
  });

  test('NSID request, cookie passed over, unknown options skipped by length, in any order', () => {
    const unknown = { code: 65001, data: Buffer.from('whatever-bytes') };
    const empty = { code: 12, data: Buffer.alloc(0) }; // padding, empty
    const ecs = ecsFor([198, 51, 100, 0], 24);
    const orders = [
      [NSID, COOKIE, unknown, ecs, empty],
      [ecs, unknown, empty, COOKIE, NSID],
      [COOKIE, ecs, NSID],
      [unknown, NSID],
    ];
    for (const options of orders) {
      const q = dec(rawQuery({ opt: { options } }));
      expect(q.status).toBe('ok');
      expect(q.edns?.nsid).toBe(options.includes(NSID));
      expect(q.edns?.ecs?.sourcePrefix ?? null).toBe(options.includes(ecs) ? 24 : null);
    }
  });

  test('a server cookie of the full 40 bytes is read, and the options after it', () => {
    const cookie = { code: 10, data: Buffer.alloc(40, 7) };
    const q = dec(rawQuery({ opt: { options: [cookie, NSID] } }));
    expect(q.edns?.nsid).toBe(true);
    expect(q.edns?.cookieLen).toBe(40);
  });

  test('two OPT records → FORMERR', () => {
    const pkt = rawQuery({ opt: {}, extraAdditional: [optRecord({})] });
    const q = dec(pkt);
    expect(q.status).toBe('formerr');
    expect(q.questionEnd).toBeGreaterThan(0);
  });

  test('OPT owner other than the root → FORMERR', () => {
    expect(dec(rawQuery({ opt: { owner: wireName('example') } })).status).toBe('formerr');
  });

  test('OPT RDLENGTH past the end of the packet → FORMERR', () => {
    const pkt = rawQuery({ opt: { options: [NSID] } });
    expect(dec(pkt.subarray(0, pkt.length - 1)).status).toBe('formerr');
  });

  test('an option that overruns the OPT RDATA, or a truncated option header → FORMERR', () => {
    // Option says 10 bytes of data, only 2 follow (RDLENGTH is consistent with the packet).
    const over = { code: 65001, data: Buffer.alloc(2) };
    const pkt = rawQuery({ opt: { options: [over] } });
    pkt.writeUInt16BE(10, pkt.length - 4); // the option length field
    expect(dec(pkt).status).toBe('formerr');
    // Three bytes of option header.
    const trunc = rawQuery({ opt: { options: [] } });
    const withJunk = Buffer.concat([trunc.subarray(0, trunc.length - 2), u16(3), Buffer.from([0, 3, 0])]);
    expect(dec(withJunk).status).toBe('formerr');
  });

  test('arcount larger than the records present → FORMERR', () => {
    expect(dec(rawQuery({ opt: {}, arcount: 2 })).status).toBe('formerr');
  });
});

describe('ECS (RFC 7871)', () => {
  const rnd = prng(7);
  const v4 = [203, 0, 113, 201];
  const v6 = Array.from({ length: 16 }, () => Math.floor(rnd() * 256) | 1);

  function expectEcs(addr: number[], prefix: number): void {
    const opt = ecsFor(addr, prefix, 0);
    const q = dec(rawQuery({ opt: { options: [opt] } }));
    expect(q.status).toBe('ok');
    const e = q.edns!.ecs!;
    expect(e.family).toBe(addr.length === 4 ? 1 : 2);
    expect(e.sourcePrefix).toBe(prefix);
    expect(e.scopePrefix).toBe(0);
    expect(e.octets).toBe((prefix + 7) >> 3);
    expect(Buffer.from(e.address.bytes.subarray(0, e.octets))).toEqual(opt.data.subarray(4));
    expect(e.address.family).toBe(addr.length === 4 ? 4 : 6);
    expect(e.address.bytes.length).toBe(addr.length);
    // The full-width address: the prefix bits of the input, zeros after.
    const want: number[] = [];
    const got: number[] = [];
    for (let bit = 0; bit < addr.length * 8; bit++) {
      want.push(bit < prefix ? (addr[bit >> 3] >> (7 - (bit & 7))) & 1 : 0);
      got.push((e.address.bytes[bit >> 3] >> (7 - (bit & 7))) & 1);
    }
    expect(got.join('')).toBe(want.join(''));
  }

  test('IPv4 at every prefix length 0..32', () => {
    for (let p = 0; p <= 32; p++) expectEcs(v4, p);
  });

  test('IPv6 at every prefix length 0..128', () => {
    for (let p = 0; p <= 128; p++) expectEcs(v6, p);
  });

  test('subnets asked in turn each decode to their own address; an address handed out earlier never changes', () => {
    // The address cache is direct-mapped: a /16 that shares a slot with a cached /24 of the same first octets
    // must not be answered with the /24's address. Enough pairs that many share a slot, whatever the hash.
    const held: { want: number[]; bytes: Uint8Array }[] = [];
    const check = (addr: number[], prefix: number, want: number[]): void => {
      const a = dec(rawQuery({ opt: { options: [ecsFor(addr, prefix)] } })).edns!.ecs!.address;
      if (a.bytes.join('.') !== want.join('.')) expect([addr, prefix, [...a.bytes]]).toEqual([addr, prefix, want]);
      if (held.length < 1000) held.push({ want, bytes: a.bytes });
    };
    for (let i = 0; i < 60000; i++) {
      const x = (i >> 8) & 0xff;
      const y = i & 0xff;
      check([10, x, y, 0], 24, [10, x, y, 0]);
      check([10, x, 0, 0], 16, [10, x, 0, 0]);
      if (i % 16 === 0) {
        const v6 = [0x20, 0x01, 0x0d, 0xb8, x, y, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        check(v6, 56, v6);
        check(v6, 48, [...v6.slice(0, 6), ...Array<number>(10).fill(0)]);
      }
    }
    for (const h of held) expect([...h.bytes]).toEqual(h.want);
  });

  test('a non-zero SCOPE in a query is carried, not an error', () => {
    const q = dec(rawQuery({ opt: { options: [ecsFor([192, 0, 2, 0], 24, 16)] } }));
    expect(q.status).toBe('ok');
    expect(q.edns?.ecs?.scopePrefix).toBe(16);
  });

  test('bits set past the source prefix → FORMERR, at every non-octet-aligned IPv4 and IPv6 length', () => {
    for (const width of [4, 16]) {
      for (let p = 1; p < width * 8; p++) {
        if ((p & 7) === 0) continue;
        const n = (p + 7) >> 3;
        const addr = Buffer.alloc(n, 0);
        addr[n - 1] = 1 << (7 - (p & 7)); // the first bit past the prefix
        const q = dec(rawQuery({ opt: { options: [ecsOption(width === 4 ? 1 : 2, p, addr)] } }));
        expect([p, q.status]).toEqual([p, 'formerr']);
      }
    }
  });

  test('more or fewer address octets than the prefix needs → FORMERR', () => {
    for (const [family, p, octets] of [[1, 24, 4], [1, 24, 2], [1, 0, 1], [1, 32, 3], [2, 56, 8], [2, 56, 6], [2, 128, 15], [2, 0, 16]] as const) {
      const q = dec(rawQuery({ opt: { options: [ecsOption(family, p, Buffer.alloc(octets))] } }));
      expect([family, p, octets, q.status]).toEqual([family, p, octets, 'formerr']);
    }
  });

  test('source prefix longer than the family allows → FORMERR', () => {
    expect(dec(rawQuery({ opt: { options: [ecsOption(1, 33, Buffer.alloc(5))] } })).status).toBe('formerr');
    expect(dec(rawQuery({ opt: { options: [ecsOption(2, 129, Buffer.alloc(17))] } })).status).toBe('formerr');
  });

  test('unknown family → FORMERR', () => {
    for (const fam of [0, 3, 0xffff]) {
      expect(dec(rawQuery({ opt: { options: [ecsOption(fam, 0, Buffer.alloc(0))] } })).status).toBe('formerr');
    }
  });

  test('option shorter than 4 bytes → FORMERR', () => {
    for (let n = 0; n < 4; n++) {
      expect(dec(rawQuery({ opt: { options: [{ code: 8, data: Buffer.alloc(n) }] } })).status).toBe('formerr');
    }
  });

  test('two ECS options → FORMERR', () => {
    const e = ecsFor([192, 0, 2, 0], 24);
    expect(dec(rawQuery({ opt: { options: [e, e] } })).status).toBe('formerr');
  });
});

describe('never throws', () => {
  test('every prefix and every single-bit flip of a full query', () => {
    const pkt = rawQuery({ opt: { udpSize: 4096, do: true, options: [COOKIE, NSID, ecsFor([0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56], 56)] } });
    for (let n = 0; n <= pkt.length; n++) {
      const q = dec(pkt.subarray(0, n));
      expect(q.status).toBe(n < 12 ? 'drop' : n === pkt.length ? 'ok' : 'formerr');
    }
    for (let bit = 0; bit < pkt.length * 8; bit++) {
      const m = Buffer.from(pkt);
      m[bit >> 3] ^= 0x80 >> (bit & 7);
      expect(() => dec(m)).not.toThrow();
    }
  });

  test('100 000 random packets', () => {
    const rnd = prng(1234);
    const q = emptyQuery();
    const counts: Record<string, number> = {};
    for (let i = 0; i < 100_000; i++) {
      const len = Math.floor(rnd() * 80);
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j += 4) {
        const r = (rnd() * 4294967296) >>> 0;
        b[j] = r;
        if (j + 1 < len) b[j + 1] = r >>> 8;
        if (j + 2 < len) b[j + 2] = r >>> 16;
        if (j + 3 < len) b[j + 3] = r >>> 24;
      }
      if (len > 5 && rnd() < 0.5) {
        b[2] &= 0x7f; // query
        b[4] = 0;
        b[5] = 1; // one question
      }
      const r = decodeQuery(b, q);
      counts[r.status] = (counts[r.status] ?? 0) + 1;
    }
    expect(counts.drop).toBeGreaterThan(0);
    expect(counts.formerr).toBeGreaterThan(0);
  });
});

describe('COOKIE option (RFC 7873)', () => {
  const cookie = (len: number) => ({ code: 10, data: Buffer.alloc(len, 0xab) });

  test('client cookie alone (8) and with a server cookie (16–40): where it is and how long', () => {
    for (const len of [8, 16, 24, 40]) {
      const pkt = rawQuery({ opt: { options: [NSID, cookie(len)] } });
      const q = dec(pkt);
      expect(q.status).toBe('ok');
      expect(q.edns?.cookieLen).toBe(len);
      expect(pkt.subarray(q.edns!.cookieAt, q.edns!.cookieAt + len)).toEqual(Buffer.alloc(len, 0xab));
    }
  });

  test('any other length is FORMERR that keeps the OPT (§5.2.2)', () => {
    for (const len of [0, 1, 7, 9, 15, 41, 60]) {
      const q = dec(rawQuery({ opt: { options: [cookie(len), NSID] } }));
      expect(q.status).toBe('formerr');
      expect(q.problem).toBe(`COOKIE option of ${len} bytes`);
      expect(q.edns?.badOption).toBe(true);
      expect(q.edns?.cookieLen).toBe(-1);
    }
  });

  test('only the first COOKIE option counts (§5.2)', () => {
    const first = { code: 10, data: Buffer.alloc(8, 1) };
    const q = dec(rawQuery({ opt: { options: [first, cookie(5), cookie(24)] } }));
    expect(q.status).toBe('ok');
    expect(q.edns?.cookieLen).toBe(8);
  });

  test('a QUERY with no question but a cookie asks for a server cookie (§5.4); without one it is FORMERR', () => {
    const q = dec(rawQuery({ questions: [], opt: { options: [COOKIE] } }));
    expect(q.status).toBe('cookie');
    expect(q.edns?.cookieLen).toBe(8);
    expect(q.questionEnd).toBe(0);
    expect(q.qname).toBe('');
    expect(dec(rawQuery({ questions: [], opt: { options: [NSID] } })).status).toBe('formerr');
    expect(dec(rawQuery({ questions: [], opt: { options: [cookie(9)] } })).status).toBe('formerr');
    expect(dec(rawQuery({ questions: [], flags: 4 << 11, opt: { options: [COOKIE] } })).status).toBe('notimp');
  });
});

describe('TSIG record (RFC 8945)', () => {
  /** A TSIG RR: key name, class ANY, TTL 0, RDATA with a MAC of `mac` bytes and `other` bytes of Other Data. */
  function tsigRecord(o: { owner?: Buffer; alg?: Buffer; klass?: number; mac?: number; other?: number; extra?: number } = {}): Buffer {
    const rdata = Buffer.concat([
      o.alg ?? wireName('hmac-sha256'),
      Buffer.from([0, 0, 0x65, 0x5f, 0x1a, 0x00]), // Time Signed
      u16(300), // Fudge
      u16(o.mac ?? 32), Buffer.alloc(o.mac ?? 32, 9),
      u16(0x1234), u16(0), u16(o.other ?? 0), Buffer.alloc(o.other ?? 0, 1),
      Buffer.alloc(o.extra ?? 0),
    ]);
    return Buffer.concat([o.owner ?? wireName('key.example'), u16(250), u16(o.klass ?? 255), Buffer.alloc(4), u16(rdata.length), rdata]);
  }

  test('a well-formed TSIG last in the additional section is found, after an OPT record too', () => {
    const q = dec(rawQuery({ opt: { udpSize: 4096 }, extraAdditional: [tsigRecord({ other: 6 })] }));
    expect(q.status).toBe('ok');
    expect(q.tsig).not.toBeNull();
    expect(q.tsig?.ownerLen).toBe(wireName('key.example').length);
    expect(q.tsig?.algLen).toBe(wireName('hmac-sha256').length);
    expect(q.tsig?.fudge).toBe(300);
    expect(q.edns?.udpSize).toBe(4096);
  });

  test('a compressed key name is measured as written out', () => {
    // The question is www.example.com at offset 12: "example.com" starts at 16.
    const owner = Buffer.concat([Buffer.from([3]), Buffer.from('key'), Buffer.from([0xc0, 16])]);
    const q = dec(rawQuery({ questions: [{ name: 'www.example.com', type: 1 }], extraAdditional: [tsigRecord({ owner })] }));
    expect(q.status).toBe('ok');
    expect(q.tsig?.ownerLen).toBe(wireName('key.example.com').length);
  });

  test('a TSIG that is not the last record is FORMERR (§5.2)', () => {
    const q = dec(rawQuery({ extraAdditional: [tsigRecord(), optRecord({})] }));
    expect(q.status).toBe('formerr');
    expect(q.problem).toBe('TSIG is not the last additional record');
    expect(q.tsig).toBeNull();
    expect(dec(rawQuery({ extraAdditional: [tsigRecord(), tsigRecord()] })).status).toBe('formerr');
  });

  test('a TSIG whose fields do not add up, or not of class ANY, is FORMERR', () => {
    for (const bad of [tsigRecord({ extra: 1 }), tsigRecord({ klass: 1 }), tsigRecord({ alg: Buffer.from([5, 0x61]) }), tsigRecord({ owner: Buffer.from([0xc0, 200]) })]) {
      const q = dec(rawQuery({ extraAdditional: [bad] }));
      expect(q.status).toBe('formerr');
      expect(q.tsig).toBeNull();
    }
    const short = Buffer.concat([wireName('key.example'), u16(250), u16(255), Buffer.alloc(4), u16(3), Buffer.from([1, 2, 3])]);
    expect(dec(rawQuery({ extraAdditional: [short] })).status).toBe('formerr');
  });

  test('on an unimplemented opcode the TSIG is still found (it is checked first)', () => {
    const q = dec(rawQuery({ flags: 5 << 11, extraAdditional: [tsigRecord()] }));
    expect(q.status).toBe('notimp');
    expect(q.tsig).not.toBeNull();
  });
});
