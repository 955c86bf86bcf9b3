// DNS Cookies (RFC 7873, https://www.rfc-editor.org/rfc/rfc7873) with the interoperable server cookie of RFC 9018
// (https://www.rfc-editor.org/rfc/rfc9018 §4): Version 1, three reserved bytes, a 32-bit timestamp and
// SipHash-2-4(Client Cookie | Version | Reserved | Timestamp | Client-IP, Server Secret). Servers of an anycast set
// that share the secret (and the rotation) accept each other's cookies, whatever their implementation.
//
// One ServerCookies per data plane. check() runs on the query path and allocates nothing: the message words, the
// hash and the response's COOKIE data live in typed arrays of this object, and no 32-bit value is passed to a
// function that V8 does not inline (it would be boxed into a heap number): such values travel in `w`.
// Times are the coarse clock of clock.ts; cookie timestamps are Unix seconds modulo 2^32 (RFC 9018 §4.2).
import { createHmac, randomBytes } from 'node:crypto';
import type { IpAddr } from '../util/ip';
import { CLOCK_EPOCH } from './clock';
import type { ClientInfo } from './dynamic';
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

// Remembered verified cookies (see ServerCookies.verify): 4-way sets, 32,768 entries of 6 int32s and the source
// address as the socket gave it (about 1 MB per data plane): room for the resolvers a busy zone hears from within a
// cookie's half hour, at a load that keeps conflict misses (a SipHash each) rare.
const WAYS = 4;
const SETS = 8192;
const STRIDE = 6;

/** nextRotation without rotation: a coarse-clock second that never comes (2088), kept a small integer for V8. */
const NEVER = 0x7fffffff;

/** The entry of set `set` to overwrite: an empty one, else the one with the oldest cookie timestamp. */
function victim(seen: Int32Array, from: (string | null)[], set: number): number {
  let best = set * WAYS;
  for (let i = set * WAYS; i < (set + 1) * WAYS; i++) {
    if (from[i] === null) return i;
    if (((seen[i * STRIDE + 5] - seen[best * STRIDE + 5]) | 0) < 0) best = i;
  }
  return best;
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
  /** When (seconds) the next rotation falls due; NEVER without rotation. */
  private nextRotation = NEVER;
  /** The SipHash message: Client Cookie | Version | Reserved | Timestamp | Client-IP, as 64-bit words (lo, hi). */
  private readonly m = new Int32Array(10);
  private readonly h = new Int32Array(2);
  /**
   * Verified cookies under the current key: h0 h1 c0 c1 s1 ts per entry, and in `seenFrom` the source address text
   * it came from (null: an empty entry). Keyed by the text the socket reports, a remembered cookie needs no parsed
   * address (the batched path hands the same string object for the same source, so the compare is a pointer's).
   */
  private readonly seen = new Int32Array(SETS * WAYS * STRIDE);
  private readonly seenFrom: (string | null)[] = new Array<string | null>(SETS * WAYS).fill(null);
  /** Scratch for 32-bit values between check() and verify() (see the top of the file). */
  private readonly w = new Int32Array(5);
  /** Set by verify(): the cookie was made with the previous key. */
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

  /** Sets `current` for the time `now` and plans the next rotation (periods count from the Unix epoch). */
  private keyFor(now: number): SipKey {
    if (this.rotation === 0) {
      this.nextRotation = NEVER;
      return new SipKey(this.secret);
    }
    this.epoch = Math.floor((now + CLOCK_EPOCH) / this.rotation);
    this.nextRotation = (this.epoch + 1) * this.rotation - CLOCK_EPOCH;
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
    const epoch = Math.floor((now + CLOCK_EPOCH) / this.rotation);
    this.previous = epoch === this.epoch + 1 ? this.current : this.derive(epoch - 1);
    this.current = this.keyFor(now);
    this.nextGeneration();
  }

  /** Forgets the remembered cookies (they were verified under a key that is no longer the current one). */
  private nextGeneration(): void {
    this.seen.fill(0);
    this.seenFrom.fill(null);
  }

  /**
   * Checks the COOKIE option data at `offset` (`len` bytes: 8, or 16 to 40) of a request from `client` at time `now`
   * (the coarse clock) and fills `response` with the cookie to send back: the server cookie it carried when valid
   * and recent, otherwise a fresh one. RFC 7873 §5.2.3–5.2.5.
   */
  check(pkt: Uint8Array, offset: number, len: number, client: ClientInfo, now: number): CookieStatus {
    if (now >= this.nextRotation) this.rotate(now);
    const out = this.response;
    // An offset in a DNS message is below 65,536; saying so lets V8 drop an overflow check from each of the 24
    // byte reads below (`at + k` cannot leave the int32 range).
    const at = offset & 0xffff;
    // The big-endian words are read inline, not by a helper: check() is too big for V8 to inline every call, and a
    // call per word cost more than the rest of a remembered cookie's check.
    const c0 = (pkt[at] << 24) | (pkt[at + 1] << 16) | (pkt[at + 2] << 8) | pkt[at + 3];
    const c1 = (pkt[at + 4] << 24) | (pkt[at + 5] << 16) | (pkt[at + 6] << 8) | pkt[at + 7];
    out[0] = c0;
    out[1] = c1;
    // Only a cookie of ours can be valid: 16 bytes, version 1, a timestamp within its lifetime.
    if (len !== 24 || pkt[at + 8] !== 1) {
      this.issue(client.resolver, now);
      return len === 8 ? CookieStatus.ClientOnly : CookieStatus.Invalid;
    }
    const s1 = (1 << 24) | (pkt[at + 9] << 16) | (pkt[at + 10] << 8) | pkt[at + 11];
    const ts = (pkt[at + 12] << 24) | (pkt[at + 13] << 16) | (pkt[at + 14] << 8) | pkt[at + 15];
    const age = (now + CLOCK_EPOCH - ts) | 0; // serial number arithmetic: the timestamp wraps in 2106
    if (age > MAX_AGE || age < -MAX_AHEAD) {
      this.issue(client.resolver, now);
      return CookieStatus.Invalid;
    }
    let renew = age > RENEW_AGE;
    const h0 = (pkt[at + 16] << 24) | (pkt[at + 17] << 16) | (pkt[at + 18] << 8) | pkt[at + 19];
    const h1 = (pkt[at + 20] << 24) | (pkt[at + 21] << 16) | (pkt[at + 22] << 8) | pkt[at + 23];
    // Remembered? (See remember(): only verified tuples are stored, and the whole tuple is compared.)
    const set = Math.imul(h0, 0x9e3779b1) >>> 19; // h0 is a PRF output of ours: it spreads the sets evenly
    const seen = this.seen;
    let hit = false;
    for (let i = set * WAYS; i < (set + 1) * WAYS; i++) {
      const e = i * STRIDE;
      if (seen[e] === h0 && seen[e + 1] === h1) {
        hit = seen[e + 2] === c0 && seen[e + 3] === c1 && seen[e + 4] === s1 && seen[e + 5] === ts && this.seenFrom[i] === client.remoteAddress;
        break;
      }
    }
    if (!hit) {
      const w = this.w;
      w[0] = s1;
      w[1] = ts;
      w[2] = h0;
      w[3] = h1;
      w[4] = set;
      if (!this.verify(client)) {
        this.issue(client.resolver, now);
        return CookieStatus.Invalid;
      }
      if (this.fromPrevious) renew = true;
    }
    if (renew) {
      this.issue(client.resolver, now);
    } else {
      out[2] = s1;
      out[3] = ts;
      out[4] = h0;
      out[5] = h1;
    }
    return CookieStatus.Valid;
  }

  /**
   * SipHash check of the server cookie in w[0..3] (s1 ts h0 h1) for response[0..1] (the client cookie) and
   * `client`, with the current key, then the previous one (setting `fromPrevious`). A cookie verified with the
   * current key is remembered in set w[4]: a resolver repeats its cookie for up to half an hour, and a remembered
   * one needs no SipHash.
   */
  private verify(client: ClientInfo): boolean {
    const ip = client.resolver;
    const w = this.w;
    const m = this.m;
    const out = this.response;
    m[0] = bswap(out[0]);
    m[1] = bswap(out[1]);
    m[2] = bswap(w[0]);
    m[3] = bswap(w[1]);
    const blocks = this.clientWords(ip);
    const h = this.h;
    this.fromPrevious = false;
    sipHashBlocks(this.current, m, blocks, h);
    if (bswap(h[0]) === w[2] && bswap(h[1]) === w[3]) {
      this.remember(client.remoteAddress);
      return true;
    }
    if (this.previous === null) return false;
    sipHashBlocks(this.previous, m, blocks, h);
    this.fromPrevious = true;
    return bswap(h[0]) === w[2] && bswap(h[1]) === w[3];
  }

  /** Stores the tuple verify() just verified, from `from` (in its set, over an empty or the oldest entry). */
  private remember(from: string): void {
    const w = this.w;
    const out = this.response;
    const seen = this.seen;
    const i = victim(seen, this.seenFrom, w[4]);
    const e = i * STRIDE;
    seen[e] = w[2];
    seen[e + 1] = w[3];
    seen[e + 2] = out[0];
    seen[e + 3] = out[1];
    seen[e + 4] = w[0];
    seen[e + 5] = w[1];
    this.seenFrom[i] = from;
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
    const stamp = (now + CLOCK_EPOCH) | 0;
    m[0] = bswap(out[0]);
    m[1] = bswap(out[1]);
    const blocks = this.clientWords(client);
    m[2] = 1;
    m[3] = bswap(stamp);
    sipHashBlocks(this.current, m, blocks, this.h);
    out[2] = 0x01000000;
    out[3] = stamp;
    out[4] = bswap(this.h[0]);
    out[5] = bswap(this.h[1]);
  }
}
