// Response rate limiting, with the semantics of BIND's rate-limit (ARM "Response Rate Limiting",
// https://bind9.readthedocs.io/en/latest/reference.html#response-rate-limiting) and Knot's rrl module: every
// identical response to one client network has an account that earns `rate` credits a second, never more than
// `rate` and never less than -window × rate; a response debits one credit and is limited while the account is
// negative. A limited response is dropped, except every slip-th, which is sent truncated (TC=1, nothing in it) so
// that a real client behind a spoofed address retries over TCP, which cannot be spoofed. Only UDP is limited.
//
// "Identical" is the key (client prefix, kind, name[, type]):
//   answer   — the name that answered (the wildcard itself for synthesized answers), and the query type;
//   referral — the delegation point;  nodata — the name;  nxdomain — the zone, so that random subdomains share one
//   account;  error — no name: all errors to one prefix share an account.
// Rates: responses_per_second for answers, referrals and NODATA (BIND's nodata-per-second and referrals-per-second
// default to it), nxdomains_per_second for NXDOMAIN, errors_per_second for errors. A rate of 0 does not limit.
//
// The accounts live in a fixed-size table of typed arrays (no allocation per query): 8-way buckets chosen by a
// seeded hash of the key; a key not in its bucket takes a free slot or evicts the least recently used one. Keys
// are compared in full — prefix, kind, type — except the name, which is compared by its 32-bit hash: two names
// whose hashes collide (about 1 in 4 billion pairs) share an account for a client prefix, as in BIND.
import { randomInt } from 'node:crypto';
import type { RrlConfig } from '../config/types';
import { parseCidr, type IpAddr } from '../util/ip';

export const enum RrlKind {
  None = 0,
  Answer = 1,
  Referral = 2,
  Nodata = 3,
  Nxdomain = 4,
  Error = 5,
}

export const RRL_KIND_LABELS = ['none', 'answer', 'referral', 'nodata', 'nxdomain', 'error'] as const;

export const enum RrlAction {
  /** Answer as usual. */
  Ok = 0,
  /** Over the limit in log_only mode: answered as usual, counted. */
  LogOnly = 1,
  Drop = 2,
  /** Send the response truncated (or BADCOOKIE to a client that sent a cookie, see handler.ts). */
  Slip = 3,
}

export const RRL_ACTION_LABELS = ['ok', 'log_only', 'dropped', 'slipped'] as const;

export interface RrlSettings {
  /** Credits per second by RrlKind. */
  rates: Int32Array;
  window: number;
  slip: number;
  ipv4PrefixLength: number;
  ipv6PrefixLength: number;
  /** Exempt prefixes: IPv4 as (address word, mask) pairs; IPv6 as 4 address words then 4 masks. */
  exempt4: Int32Array;
  exempt6: Int32Array;
  logOnly: boolean;
  maxTableSize: number;
}

function mask32(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return -1;
  return ~((1 << (32 - bits)) - 1);
}

function word(b: Uint8Array, at: number): number {
  return (b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3];
}

/** Compiles the config block; the exempt list was validated by the config schema. */
export function rrlSettings(cfg: RrlConfig): RrlSettings {
  const rates = new Int32Array(6);
  rates[RrlKind.Answer] = cfg.responses_per_second;
  rates[RrlKind.Referral] = cfg.responses_per_second;
  rates[RrlKind.Nodata] = cfg.responses_per_second;
  rates[RrlKind.Nxdomain] = cfg.nxdomains_per_second ?? cfg.responses_per_second;
  rates[RrlKind.Error] = cfg.errors_per_second ?? cfg.responses_per_second;
  const v4: number[] = [];
  const v6: number[] = [];
  for (const text of cfg.exempt) {
    const c = parseCidr(text);
    if (!c) continue;
    if (c.family === 4) {
      v4.push(word(c.bytes, 0), mask32(c.prefix));
    } else {
      for (let i = 0; i < 4; i++) v6.push(word(c.bytes, 4 * i));
      for (let i = 0; i < 4; i++) v6.push(mask32(c.prefix - 32 * i));
    }
  }
  return {
    rates, window: cfg.window, slip: cfg.slip, ipv4PrefixLength: cfg.ipv4_prefix_length, ipv6PrefixLength: cfg.ipv6_prefix_length,
    exempt4: Int32Array.from(v4), exempt6: Int32Array.from(v6), logOnly: cfg.log_only, maxTableSize: cfg.max_table_size,
  };
}

// An entry is 8 int32s: the key (prefix word 0, prefix word 1, name hash, kind | type | family), the second of
// the last update, the balance, the slip counter, and one unused.
const STRIDE = 8;
const WAYS = 8;
const BUCKET = STRIDE * WAYS;

/** What was limited since the last report, for a log line now and then (nothing is logged per query). */
export interface RrlReport {
  limited: number;
  /** The last limited account: "192.0.2.0/24 nxdomain". */
  example: string;
}

export class RateLimiter {
  private settings: RrlSettings;
  private table: Int32Array;
  private bucketMask: number;
  /** Seconds are stored relative to this (small non-negative integers). */
  private readonly base: number;
  private mask4 = 0;
  private mask6a = 0;
  private mask6b = 0;
  /** Accounts that replaced another before it could have expired (the table is too small for the load). */
  evictions = 0;
  private limited = 0;
  private lastLimited: number[] = [0, 0, 0];

  /**
   * `seed` keys the bucket hash (random by default: nobody can precompute keys that crowd one bucket); a fixed
   * one makes a benchmark repeatable.
   */
  constructor(settings: RrlSettings, now: number, private readonly seed: number = randomInt(0x7fffffff)) {
    this.base = now - 1;
    this.settings = settings;
    this.table = new Int32Array(0);
    this.bucketMask = 0;
    this.configure(settings);
  }

  /** Takes new settings; the accounts are kept unless the table size changed. */
  configure(settings: RrlSettings): void {
    const buckets = nextPowerOfTwo(Math.ceil(settings.maxTableSize / WAYS));
    if (buckets * BUCKET !== this.table.length) {
      this.table = new Int32Array(buckets * BUCKET);
      this.bucketMask = buckets - 1;
    }
    this.settings = settings;
    this.mask4 = mask32(settings.ipv4PrefixLength);
    this.mask6a = mask32(settings.ipv6PrefixLength);
    this.mask6b = mask32(settings.ipv6PrefixLength - 32);
  }

  /** Entries the table holds. */
  get capacity(): number {
    return this.table.length / STRIDE;
  }

  /**
   * Debits the account of one UDP response of `kind` (`qtype` and `nameHash` as the kind's key needs: 0 when
   * unused) to `client` at `now` (whole seconds) and says what to do with the response.
   */
  account(client: IpAddr, kind: RrlKind, qtype: number, nameHash: number, now: number): RrlAction {
    const s = this.settings;
    const rate = s.rates[kind];
    if (rate === 0) return RrlAction.Ok;
    // Exempt clients do not touch the accounts (their traffic must not put their neighbours in the prefix in debt).
    if (s.exempt4.length + s.exempt6.length > 0 && this.exempted(client)) return RrlAction.Ok;
    const b = client.bytes;
    let w0: number;
    let w1 = 0;
    let w3 = kind | (qtype << 4);
    if (client.family === 4) {
      w0 = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) & this.mask4;
    } else {
      w0 = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) & this.mask6a;
      w1 = ((b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7]) & this.mask6b;
      w3 |= 1 << 20;
    }
    const w2 = nameHash;
    let h = Math.imul(w0 ^ this.seed, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ w1, 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 16) ^ w2, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ w3, 0xc2b2ae35);
    h ^= h >>> 16;
    const t = this.table;
    const start = (h & this.bucketMask) * BUCKET;
    const tnow = now - this.base;
    let e = -1;
    // The name hash first: it differs between most keys of a bucket, so a miss costs one read.
    for (let i = start; i < start + BUCKET; i += STRIDE) {
      if (t[i + 2] === w2 && t[i] === w0 && t[i + 3] === w3 && t[i + 1] === w1) {
        e = i;
        break;
      }
    }
    const found = e >= 0;
    let victimTime = 0x7fffffff;
    if (!found) {
      // A free slot beats any used one; among used ones the least recently updated goes.
      e = start;
      for (let i = start; i < start + BUCKET; i += STRIDE) {
        const time = t[i + 3] === 0 ? -1 : t[i + 4];
        if (time < victimTime) {
          victimTime = time;
          e = i;
          if (time < 0) break;
        }
      }
    }
    const window = s.window;
    let balance: number;
    if (!found) {
      if (victimTime >= 0 && tnow - victimTime <= window) this.evictions++;
      t[e] = w0;
      t[e + 1] = w1;
      t[e + 2] = w2;
      t[e + 3] = w3;
      t[e + 4] = tnow;
      t[e + 6] = 0;
      balance = rate;
    } else {
      balance = t[e + 5];
      const age = tnow - t[e + 4];
      if (age > 0) {
        // Credit the seconds that passed; an account idle for longer than the window starts afresh.
        if (age > window) {
          balance = rate;
          t[e + 6] = 0;
        } else {
          balance += rate * age;
          if (balance >= rate) {
            balance = rate;
            t[e + 6] = 0;
          }
        }
        t[e + 4] = tnow;
      }
    }
    balance--;
    if (balance >= 0) {
      t[e + 5] = balance;
      return RrlAction.Ok;
    }
    const min = -window * rate;
    t[e + 5] = balance < min ? min : balance;
    this.limited++;
    this.lastLimited[0] = w0;
    this.lastLimited[1] = w1;
    this.lastLimited[2] = w3;
    if (s.logOnly) return RrlAction.LogOnly;
    // Errors are never slipped (as in BIND): a truncated error tells a client nothing worth a TCP retry.
    const slip = s.slip;
    if (slip === 0 || kind === RrlKind.Error) return RrlAction.Drop;
    // The first limited response of a run slips, then every slip-th.
    let n = t[e + 6];
    if (n === 0) {
      t[e + 6] = slip > 1 ? 1 : 0;
      return RrlAction.Slip;
    }
    n++;
    t[e + 6] = n >= slip ? 0 : n;
    return RrlAction.Drop;
  }

  /** Whether `client` is in an exempt prefix. */
  private exempted(client: IpAddr): boolean {
    const s = this.settings;
    const b = client.bytes;
    if (client.family === 4) {
      const e = s.exempt4;
      if (e.length === 0) return false;
      const w = word(b, 0);
      for (let i = 0; i < e.length; i += 2) if ((w & e[i + 1]) === e[i]) return true;
      return false;
    }
    const e = s.exempt6;
    for (let i = 0; i < e.length; i += 8) {
      let match = true;
      for (let j = 0; j < 4 && match; j++) match = (word(b, 4 * j) & e[i + 4 + j]) === e[i + j];
      if (match) return true;
    }
    return false;
  }

  /** What was limited since the last call (null: nothing). */
  report(): RrlReport | null {
    if (this.limited === 0) return null;
    const n = this.limited;
    this.limited = 0;
    const [w0, w1, w3] = this.lastLimited;
    const kind = RRL_KIND_LABELS[w3 & 0xf] ?? 'none';
    let prefix: string;
    if ((w3 >> 20) & 1) {
      const hex = [w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff].map((x) => x.toString(16)).join(':');
      prefix = `${hex}::/${this.settings.ipv6PrefixLength}`;
    } else {
      prefix = `${w0 >>> 24}.${(w0 >>> 16) & 0xff}.${(w0 >>> 8) & 0xff}.${w0 & 0xff}/${this.settings.ipv4PrefixLength}`;
    }
    return { limited: n, example: `${prefix} ${kind}` };
  }
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
