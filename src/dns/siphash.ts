// SipHash-2-4 (J.-P. Aumasson, D. J. Bernstein, "SipHash: a fast short-input PRF", 2012,
// https://www.aumasson.jp/siphash/siphash.pdf), the PRF of RFC 9018 server cookies. node:crypto has none.
//
// JavaScript has no unsigned 64-bit integers that do not allocate (BigInt does), so every 64-bit word is kept as
// two int32 halves in local variables: additions carry by hand, rotations move bits between the halves. The hash
// allocates nothing: message words come in an Int32Array the caller owns and the result goes into another.

/** A 128-bit key as its two little-endian 64-bit halves k0 (bytes 0–7) and k1 (bytes 8–15), split into int32s. */
export class SipKey {
  readonly k0lo: number;
  readonly k0hi: number;
  readonly k1lo: number;
  readonly k1hi: number;

  constructor(key: Uint8Array) {
    if (key.length !== 16) throw new Error('a SipHash key has 16 bytes');
    this.k0lo = le32(key, 0);
    this.k0hi = le32(key, 4);
    this.k1lo = le32(key, 8);
    this.k1hi = le32(key, 12);
  }
}

function le32(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24);
}

/**
 * SipHash-2-4 of a message already cut into `blocks` 64-bit little-endian words: m[2i] is the low half of word i,
 * m[2i + 1] the high half. The last word must be the final block as the paper pads it (the 0–7 trailing bytes,
 * and the message length modulo 256 in the top byte). Writes the 64-bit result as out[0] (low), out[1] (high);
 * its little-endian bytes are the hash as the paper prints it.
 */
export function sipHashBlocks(key: SipKey, m: Int32Array, blocks: number, out: Int32Array): void {
  // Initialization (paper §2): v0..v3 = k0, k1, k0, k1 xor "somepseudorandomlygeneratedbytes".
  let v0lo = key.k0lo ^ 0x70736575;
  let v0hi = key.k0hi ^ 0x736f6d65;
  let v1lo = key.k1lo ^ 0x6e646f6d;
  let v1hi = key.k1hi ^ 0x646f7261;
  let v2lo = key.k0lo ^ 0x6e657261;
  let v2hi = key.k0hi ^ 0x6c796765;
  let v3lo = key.k1lo ^ 0x79746573;
  let v3hi = key.k1hi ^ 0x74656462;
  let mlo = 0;
  let mhi = 0;
  // One SipRound body, run 2 times per message word (compression) and 4 times at the end (finalization).
  for (let b = 0; b <= blocks; b++) {
    let rounds: number;
    if (b < blocks) {
      mlo = m[2 * b];
      mhi = m[2 * b + 1];
      v3lo ^= mlo;
      v3hi ^= mhi;
      rounds = 2;
    } else {
      v2lo ^= 0xff;
      rounds = 4;
    }
    for (let r = 0; r < rounds; r++) {
      let t: number;
      // v0 += v1; v1 <<<= 13; v1 ^= v0; v0 <<<= 32
      let lo = (v0lo + v1lo) | 0;
      v0hi = (v0hi + v1hi + ((lo >>> 0) < (v0lo >>> 0) ? 1 : 0)) | 0;
      v0lo = lo;
      t = v1hi;
      v1hi = (v1hi << 13) | (v1lo >>> 19);
      v1lo = (v1lo << 13) | (t >>> 19);
      v1lo ^= v0lo;
      v1hi ^= v0hi;
      t = v0hi;
      v0hi = v0lo;
      v0lo = t;
      // v2 += v3; v3 <<<= 16; v3 ^= v2
      lo = (v2lo + v3lo) | 0;
      v2hi = (v2hi + v3hi + ((lo >>> 0) < (v2lo >>> 0) ? 1 : 0)) | 0;
      v2lo = lo;
      t = v3hi;
      v3hi = (v3hi << 16) | (v3lo >>> 16);
      v3lo = (v3lo << 16) | (t >>> 16);
      v3lo ^= v2lo;
      v3hi ^= v2hi;
      // v0 += v3; v3 <<<= 21; v3 ^= v0
      lo = (v0lo + v3lo) | 0;
      v0hi = (v0hi + v3hi + ((lo >>> 0) < (v0lo >>> 0) ? 1 : 0)) | 0;
      v0lo = lo;
      t = v3hi;
      v3hi = (v3hi << 21) | (v3lo >>> 11);
      v3lo = (v3lo << 21) | (t >>> 11);
      v3lo ^= v0lo;
      v3hi ^= v0hi;
      // v2 += v1; v1 <<<= 17; v1 ^= v2; v2 <<<= 32
      lo = (v2lo + v1lo) | 0;
      v2hi = (v2hi + v1hi + ((lo >>> 0) < (v2lo >>> 0) ? 1 : 0)) | 0;
      v2lo = lo;
      t = v1hi;
      v1hi = (v1hi << 17) | (v1lo >>> 15);
      v1lo = (v1lo << 17) | (t >>> 15);
      v1lo ^= v2lo;
      v1hi ^= v2hi;
      t = v2hi;
      v2hi = v2lo;
      v2lo = t;
    }
    if (b < blocks) {
      v0lo ^= mlo;
      v0hi ^= mhi;
    }
  }
  out[0] = v0lo ^ v1lo ^ v2lo ^ v3lo;
  out[1] = v0hi ^ v1hi ^ v2hi ^ v3hi;
}

/**
 * SipHash-2-4 of `len` bytes of `data` from `start`, into `out` as 8 bytes (the paper's byte order). Cuts the
 * message into words in `scratch` (at least 2 × (floor(len / 8) + 1) entries). For tests and set-up code; the
 * cookie path builds its words directly.
 */
export function sipHash24(key: SipKey, data: Uint8Array, start: number, len: number, out: Uint8Array, scratch: Int32Array = new Int32Array(2 * ((len >> 3) + 1))): void {
  const blocks = (len >> 3) + 1;
  for (let i = 0; i < 2 * blocks; i++) scratch[i] = 0;
  for (let i = 0; i < len; i++) scratch[i >> 2] |= data[start + i] << ((i & 3) * 8);
  scratch[2 * blocks - 1] |= (len & 0xff) << 24;
  const h = new Int32Array(2);
  sipHashBlocks(key, scratch, blocks, h);
  for (let i = 0; i < 8; i++) out[i] = (h[i >> 2] >>> ((i & 3) * 8)) & 0xff;
}
