// SipHash-2-4 against the paper's test vector and an independent 64-bit (BigInt) implementation written from the
// paper's description, over every message length that changes the padding.
import { SipKey, sipHash24 } from '../../src/dns/siphash';

const MASK = (1n << 64n) - 1n;
const rotl = (x: bigint, b: bigint): bigint => ((x << b) | (x >> (64n - b))) & MASK;

function referenceSipHash(key: Uint8Array, msg: Uint8Array): Uint8Array {
  const word = (b: Uint8Array, at: number): bigint => {
    let w = 0n;
    for (let i = 7; i >= 0; i--) w = (w << 8n) | BigInt(b[at + i] ?? 0);
    return w;
  };
  const k0 = word(key, 0);
  const k1 = word(key, 8);
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const round = (): void => {
    v0 = (v0 + v1) & MASK; v1 = rotl(v1, 13n); v1 ^= v0; v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & MASK; v3 = rotl(v3, 16n); v3 ^= v2;
    v0 = (v0 + v3) & MASK; v3 = rotl(v3, 21n); v3 ^= v0;
    v2 = (v2 + v1) & MASK; v1 = rotl(v1, 17n); v1 ^= v2; v2 = rotl(v2, 32n);
  };
  const padded = new Uint8Array((Math.floor(msg.length / 8) + 1) * 8);
  padded.set(msg);
  padded[padded.length - 1] = msg.length & 0xff;
  for (let at = 0; at < padded.length; at += 8) {
    const m = word(padded, at);
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  v2 ^= 0xffn;
  for (let i = 0; i < 4; i++) round();
  const h = v0 ^ v1 ^ v2 ^ v3;
  const out = new Uint8Array(8);
  for (let i = 0; i < 8; i++) out[i] = Number((h >> BigInt(8 * i)) & 0xffn);
  return out;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const seq = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i);

describe('SipHash-2-4', () => {
  it('gives the paper\'s Appendix A value (key 00..0f, message 00..0e → a129ca6149be45e5)', () => {
    const out = new Uint8Array(8);
    sipHash24(new SipKey(seq(16)), seq(15), 0, 15, out);
    // The paper prints the 64-bit result as a number; the bytes are little-endian.
    expect(hex(out.slice().reverse())).toBe('a129ca6149be45e5');
  });

  it('matches a 64-bit reference for every length from 0 to 64 and random keys', () => {
    let seed = 12345;
    const rnd = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 24;
    };
    for (let len = 0; len <= 64; len++) {
      for (let trial = 0; trial < 4; trial++) {
        const key = Uint8Array.from({ length: 16 }, rnd);
        const msg = Uint8Array.from({ length: len }, rnd);
        const out = new Uint8Array(8);
        sipHash24(new SipKey(key), msg, 0, len, out);
        expect(hex(out)).toBe(hex(referenceSipHash(key, msg)));
      }
    }
  });

  it('reads the message from an offset', () => {
    const data = Uint8Array.from([9, 9, 9, ...seq(15)]);
    const a = new Uint8Array(8);
    const b = new Uint8Array(8);
    sipHash24(new SipKey(seq(16)), data, 3, 15, a);
    sipHash24(new SipKey(seq(16)), seq(15), 0, 15, b);
    expect(hex(a)).toBe(hex(b));
  });

  it('refuses a key that is not 16 bytes', () => {
    expect(() => new SipKey(new Uint8Array(15))).toThrow('16 bytes');
  });
});
