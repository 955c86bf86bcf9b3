// DNS Cookies (RFC 7873, https://www.rfc-editor.org/rfc/rfc7873) with the interoperable server cookie of RFC 9018
// (https://www.rfc-editor.org/rfc/rfc9018 §4): Version 1, three reserved bytes, a 32-bit timestamp and
// SipHash-2-4(Client Cookie | Version | Reserved | Timestamp | Client-IP, Server Secret). Servers of an anycast set
// that share the secret (and the rotation) accept each other's cookies, whatever their implementation.
//
// One ServerCookies per data plane. check() runs on the query path and allocates nothing: the message words, the
// hash and the response's COOKIE data live in typed arrays of this object.
import { createHmac, randomBytes } from 'node:crypto';
import type { IpAddr } from '../util/ip';
import { SipKey, sipHashBlocks } from './siphash';

/** What a request's COOKIE option came to (metrics index; 'malformed' is the decoder's FORMERR). */
export const enum CookieStatus {
  None = 0,
  ClientOnly = 1,
  Valid = 2,
  Invalid = 3,
  Malformed = 4,
}

export const COOKIE_STATUS_LABELS = ['none', 'client_only', 'valid', 'invalid', 'malformed'] as const;

export interface CookieSettings {
  /** The 128-bit server secret. */
  secret: Uint8Array;
  /** Seconds between rotations; 0 = the secret is used as it is, forever. */
  rotation: number;
}

/** RFC 9018 §4.3: a server cookie is valid from 5 minutes in the future to 1 hour in the past… */
const MAX_AGE = 3600;
const MAX_AHEAD = 300;
/** …and one older than half an hour is replaced by a fresh one. */
const RENEW_AGE = 1800;

/** Reads the hex secret of the config ("32 hex digits"). */
export function secretFromHex(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/** A random secret, for a server whose config names none (generated once per process, shared by its workers). */
export function randomSecretHex(): string {
  return randomBytes(16).toString('hex');
}

/** Remembered verified cookies: 2^14 slots of 12 int32s (768 KB per data plane). */
const SEEN_BITS = 14;
const SEEN_STRIDE = 12;

/** Big-endian 32 bits at `at`. */
function word(b: Uint8Array, at: number): number {
  return (b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3];
}

function bswap(x: number): number {
  return (x << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

export class ServerCookies {
  private secret: Uint8Array;
  private rotation: number;
  private current: SipKey;
  private previous: SipKey | null = null;
  private epoch = 0;
  /** When (seconds) the next rotation falls due; Infinity without rotation. */
  private nextRotation = Infinity;
  /** The SipHash message: Client Cookie | Version | Reserved | Timestamp | Client-IP, as 64-bit words (lo, hi). */
  private readonly m = new Int32Array(10);
  private readonly h = new Int32Array(2);
  /** Verified cookies (see verified()), valid while their tag carries the current key generation. */
  private readonly seen = new Int32Array((1 << SEEN_BITS) * SEEN_STRIDE);
  /** Changes with every key change; 1–0x3fffffff (0 marks an empty slot). */
  private generation = 1;
  /** Set by verified(): the cookie was made with the previous key. */
  private fromPrevious = false;
  /**
   * The COOKIE option data of the response to the last check(): client cookie then server cookie, as six
   * big-endian words (what the encoder writes).
   */
  readonly response = new Int32Array(6);

  constructor(settings: CookieSettings, now: number) {
    this.secret = Uint8Array.from(settings.secret);
    this.rotation = settings.rotation;
    this.current = this.keyFor(now);
  }

  /**
   * Takes a new config. A changed secret or rotation starts from the new key; the key in use until now stays
   * accepted (as the previous one) until the next rotation, so clients that hold its cookies are not turned away.
   */
  configure(settings: CookieSettings, now: number): void {
    if (settings.rotation === this.rotation && Buffer.compare(settings.secret, this.secret) === 0) return;
    const before = this.current;
    this.secret = Uint8Array.from(settings.secret);
    this.rotation = settings.rotation;
    this.current = this.keyFor(now);
    this.previous = before;
    this.nextGeneration();
  }

  /** Sets `current` for the time `now` and plans the next rotation. */
  private keyFor(now: number): SipKey {
    if (this.rotation === 0) {
      this.nextRotation = Infinity;
      return new SipKey(this.secret);
    }
    this.epoch = Math.floor(now / this.rotation);
    this.nextRotation = (this.epoch + 1) * this.rotation;
    return this.derive(this.epoch);
  }

  /**
   * The key of one rotation period: every instance that shares the secret and the rotation computes the same one
   * at the same time, with no coordination.
   */
  private derive(epoch: number): SipKey {
    const mac = createHmac('sha256', this.secret).update(`steerdns cookie secret ${this.rotation}/${epoch}`).digest();
    return new SipKey(mac.subarray(0, 16));
  }

  private rotate(now: number): void {
    const epoch = Math.floor(now / this.rotation);
    this.previous = epoch === this.epoch + 1 ? this.current : this.derive(epoch - 1);
    this.current = this.keyFor(now);
    this.nextGeneration();
  }

  /** Forgets the remembered cookies (they were verified under a key that is no longer the current one). */
  private nextGeneration(): void {
    this.generation = this.generation >= 0x3fffffff ? 1 : this.generation + 1;
  }

  /**
   * Checks the COOKIE option data at `at` (`len` bytes: 8, or 16 to 40) of a request from `client` at time `now`
   * (seconds) and fills `response` with the cookie to send back: the server cookie it carried when valid and
   * recent, otherwise a fresh one. RFC 7873 §5.2.3–5.2.5.
   */
  check(pkt: Uint8Array, at: number, len: number, client: IpAddr, now: number): CookieStatus {
    if (now >= this.nextRotation) this.rotate(now);
    const out = this.response;
    const c0 = word(pkt, at);
    const c1 = word(pkt, at + 4);
    out[0] = c0;
    out[1] = c1;
    if (len === 8) {
      this.issue(client, now);
      return CookieStatus.ClientOnly;
    }
    // Only a cookie of ours can be valid: 16 bytes, version 1, a timestamp within its lifetime.
    if (len !== 24 || pkt[at + 8] !== 1) {
      this.issue(client, now);
      return CookieStatus.Invalid;
    }
    const s1 = word(pkt, at + 8);
    const ts = word(pkt, at + 12);
    const age = (now - ts) | 0; // serial number arithmetic: the timestamp wraps in 2106
    if (age > MAX_AGE || age < -MAX_AHEAD) {
      this.issue(client, now);
      return CookieStatus.Invalid;
    }
    const h0 = word(pkt, at + 16);
    const h1 = word(pkt, at + 20);
    if (!this.verified(client, c0, c1, s1, ts, h0, h1)) {
      this.issue(client, now);
      return CookieStatus.Invalid;
    }
    if (this.fromPrevious || age > RENEW_AGE) {
      this.issue(client, now);
    } else {
      out[2] = s1;
      out[3] = ts;
      out[4] = h0;
      out[5] = h1;
    }
    return CookieStatus.Valid;
  }

  /**
   * Whether the server cookie (s1 ts h0 h1) is ours for this client cookie and address, under the current key or
   * the previous one (then `fromPrevious` is set). A cookie verified under the current key is remembered: a
   * resolver repeats the same cookie for up to half an hour, and a remembered one needs no SipHash. Only verified
   * tuples are stored and the whole tuple is compared, so a forged cookie cannot hit.
   */
  private verified(client: IpAddr, c0: number, c1: number, s1: number, ts: number, h0: number, h1: number): boolean {
    const b = client.bytes;
    const v4 = client.family === 4;
    const ip0 = word(b, 0);
    const ip1 = v4 ? 0 : word(b, 4);
    const ip2 = v4 ? 0 : word(b, 8);
    const ip3 = v4 ? 0 : word(b, 12);
    const tag = v4 ? this.generation : this.generation | 0x40000000;
    const seen = this.seen;
    const e = (Math.imul(h0 ^ h1 ^ ip0 ^ ip3, 0x9e3779b1) >>> (32 - SEEN_BITS)) * SEEN_STRIDE;
    this.fromPrevious = false;
    if (seen[e] === tag && seen[e + 5] === h0 && seen[e + 6] === h1 && seen[e + 1] === c0 && seen[e + 2] === c1 && seen[e + 3] === s1 && seen[e + 4] === ts && seen[e + 7] === ip0 && seen[e + 8] === ip1 && seen[e + 9] === ip2 && seen[e + 10] === ip3) {
      return true;
    }
    const m = this.m;
    m[0] = bswap(c0);
    m[1] = bswap(c1);
    m[2] = bswap(s1);
    m[3] = bswap(ts);
    const blocks = this.clientWords(client);
    const h = this.h;
    sipHashBlocks(this.current, m, blocks, h);
    if (bswap(h[0]) === h0 && bswap(h[1]) === h1) {
      seen[e] = tag;
      seen[e + 1] = c0;
      seen[e + 2] = c1;
      seen[e + 3] = s1;
      seen[e + 4] = ts;
      seen[e + 5] = h0;
      seen[e + 6] = h1;
      seen[e + 7] = ip0;
      seen[e + 8] = ip1;
      seen[e + 9] = ip2;
      seen[e + 10] = ip3;
      return true;
    }
    if (this.previous === null) return false;
    sipHashBlocks(this.previous, m, blocks, h);
    this.fromPrevious = true;
    return bswap(h[0]) === h0 && bswap(h[1]) === h1;
  }

  /** Puts the client address into the message after the 16 bytes before it; returns the message's word count. */
  private clientWords(client: IpAddr): number {
    const m = this.m;
    const b = client.bytes;
    if (client.family === 4) {
      m[4] = b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24);
      m[5] = 20 << 24; // final block: no more bytes, the length (20) in the top byte
      return 3;
    }
    for (let i = 0; i < 4; i++) m[4 + i] = b[4 * i] | (b[4 * i + 1] << 8) | (b[4 * i + 2] << 16) | (b[4 * i + 3] << 24);
    m[8] = 0;
    m[9] = 32 << 24;
    return 5;
  }

  /** A fresh server cookie (version 1, reserved 0, timestamp `now`) into response[2..5], for response[0..1]. */
  private issue(client: IpAddr, now: number): void {
    const m = this.m;
    const out = this.response;
    m[0] = bswap(out[0]);
    m[1] = bswap(out[1]);
    const blocks = this.clientWords(client);
    m[2] = 1;
    m[3] = bswap(now | 0);
    sipHashBlocks(this.current, m, blocks, this.h);
    out[2] = 0x01000000;
    out[3] = now | 0;
    out[4] = bswap(this.h[0]);
    out[5] = bswap(this.h[1]);
  }
}
