// The DNSSEC algorithms steerdns signs with, over node:crypto: 13 ECDSA P-256 with SHA-256 (RFC 6605) and
// 15 Ed25519 (RFC 8080). Private keys are kept as their raw bytes in key files (BIND's "PrivateKey:" field:
// the 32-byte P-256 scalar, the 32-byte Ed25519 seed) and as KeyObjects in memory.
import { createECDH, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import type { DnssecAlgorithm } from '../config/types';

export interface Algorithm {
  readonly number: DnssecAlgorithm;
  /** The IANA mnemonic (https://www.iana.org/assignments/dns-sec-alg-numbers). */
  readonly mnemonic: string;
  /** A fresh raw private key. */
  generate(): Buffer;
  /** The KeyObject of a raw private key; throws when the bytes are not a key of this algorithm. */
  privateKey(raw: Buffer): KeyObject;
  /** The DNSKEY Public Key field of a private key (RFC 6605 §4: x | y; RFC 8080 §3: the 32-byte key). */
  publicKey(key: KeyObject): Buffer;
  /** The signature field of an RRSIG over `data` (64 bytes for both). */
  sign(key: KeyObject, data: Buffer): Buffer;
  /** Checks a signature against a DNSKEY Public Key field. */
  verify(publicKey: Buffer, data: Buffer, signature: Buffer): boolean;
}

function b64url(b: Buffer): string {
  return b.toString('base64url');
}

const ecdsaP256: Algorithm = {
  number: 13,
  mnemonic: 'ECDSAP256SHA256',
  generate() {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const d = privateKey.export({ format: 'jwk' }).d;
    if (typeof d !== 'string') throw new Error('P-256 key without a private scalar');
    return leftPad(Buffer.from(d, 'base64url'), 32);
  },
  privateKey(raw) {
    if (raw.length !== 32) throw new Error(`an ECDSA P-256 private key is 32 bytes, got ${raw.length}`);
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(raw); // throws when the scalar is 0 or not below the group order
    const pub = ecdh.getPublicKey(); // 04 | x | y
    return createPrivateKey({ format: 'jwk', key: { kty: 'EC', crv: 'P-256', d: b64url(raw), x: b64url(pub.subarray(1, 33)), y: b64url(pub.subarray(33, 65)) } });
  },
  publicKey(key) {
    const jwk = createPublicKey(key).export({ format: 'jwk' });
    if (typeof jwk.x !== 'string' || typeof jwk.y !== 'string') throw new Error('not an EC key');
    return Buffer.concat([leftPad(Buffer.from(jwk.x, 'base64url'), 32), leftPad(Buffer.from(jwk.y, 'base64url'), 32)]);
  },
  sign(key, data) {
    // RFC 6605 §4: r | s, 32 bytes each: IEEE P1363, not DER.
    return sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  },
  verify(publicKey, data, signature) {
    if (publicKey.length !== 64) return false;
    const key = createPublicKey({ format: 'jwk', key: { kty: 'EC', crv: 'P-256', x: b64url(publicKey.subarray(0, 32)), y: b64url(publicKey.subarray(32)) } });
    return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  },
};

// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410 §7): the fixed prefix, then the 32 bytes.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

const ed25519: Algorithm = {
  number: 15,
  mnemonic: 'ED25519',
  generate() {
    const { privateKey } = generateKeyPairSync('ed25519');
    const d = privateKey.export({ format: 'jwk' }).d;
    if (typeof d !== 'string') throw new Error('Ed25519 key without a private part');
    return Buffer.from(d, 'base64url');
  },
  privateKey(raw) {
    if (raw.length !== 32) throw new Error(`an Ed25519 private key is 32 bytes, got ${raw.length}`);
    return createPrivateKey({ format: 'der', type: 'pkcs8', key: Buffer.concat([ED25519_PKCS8_PREFIX, raw]) });
  },
  publicKey(key) {
    const x = createPublicKey(key).export({ format: 'jwk' }).x;
    if (typeof x !== 'string') throw new Error('not an Ed25519 key');
    return Buffer.from(x, 'base64url');
  },
  sign(key, data) {
    return sign(null, data, key);
  },
  verify(publicKey, data, signature) {
    if (publicKey.length !== 32) return false;
    const key = createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: b64url(publicKey) } });
    return verify(null, data, key, signature);
  },
};

const ALGORITHMS: ReadonlyMap<number, Algorithm> = new Map([[13, ecdsaP256], [15, ed25519]]);

/** The algorithm with this number, or undefined when steerdns does not sign with it. */
export function algorithm(n: number): Algorithm | undefined {
  return ALGORITHMS.get(n);
}

function leftPad(b: Buffer, n: number): Buffer {
  if (b.length >= n) return b;
  return Buffer.concat([Buffer.alloc(n - b.length), b]);
}
