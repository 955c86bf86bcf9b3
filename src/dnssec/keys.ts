// A zone's keys: the DNSKEY record and key tag (RFC 4034 §2, Appendix B), the DS digest (RFC 4509), and where a key
// is in its life at a given time, from the timing metadata of its file (the states of RFC 7583 §3.1, named as in
// BIND's key timing: Publish, Activate, Inactive, Delete, and SyncPublish/SyncDelete for the DS at the parent).
import { createHash, type KeyObject } from 'node:crypto';
import { RData } from '../dns/wire/records';
import type { WireName } from '../dns/wire/name';
import type { Algorithm } from './algorithms';
import { canonicalName } from './canonical';

/** DNSKEY flags: Zone Key (256), plus Secure Entry Point (1) for key-signing keys (RFC 4034 §2.1.1). */
export const FLAGS_ZSK = 256;
export const FLAGS_KSK = 257;

/** Unix seconds; null: not set. */
export interface KeyTiming {
  created: number | null;
  /** In the DNSKEY RRset from then on (unset: from Activate). */
  publish: number | null;
  /** Signs from then on (unset: never). */
  activate: number | null;
  /** Stops signing (stays published). */
  inactive: number | null;
  /** Leaves the DNSKEY RRset. */
  delete: number | null;
  /** When the DS for this key should be at the parent (KSK, CSK). */
  syncPublish: number | null;
  /** When the DS for this key may leave the parent. */
  syncDelete: number | null;
}

export const TIMING_FIELDS: readonly (keyof KeyTiming)[] = ['created', 'publish', 'activate', 'inactive', 'delete', 'syncPublish', 'syncDelete'];

export function emptyTiming(): KeyTiming {
  return { created: null, publish: null, activate: null, inactive: null, delete: null, syncPublish: null, syncDelete: null };
}

/** RFC 7583 §3.1, simplified: generated → published → active → retired (inactive, still published) → removed. */
export type KeyState = 'generated' | 'published' | 'active' | 'retired' | 'removed';

export class ZoneKey {
  readonly tag: number;
  /** The DNSKEY RDATA, one object for the life of the key (a stable identity for the signature cache). */
  readonly dnskey: RData;

  constructor(
    /** Zone key (lowercase, no trailing dot). */
    readonly zone: string,
    readonly algorithm: Algorithm,
    readonly flags: number,
    readonly publicKey: Buffer,
    /** null when only the public half was read. */
    readonly privateKey: KeyObject | null,
    public timing: KeyTiming,
    /** Path of the key files without .key/.private. */
    readonly path: string,
  ) {
    const head = Buffer.alloc(4 + publicKey.length);
    head.writeUInt16BE(flags, 0);
    head[2] = 3; // protocol, always 3 (RFC 4034 §2.1.2)
    head[3] = algorithm.number;
    publicKey.copy(head, 4);
    this.dnskey = new RData(head);
    this.tag = keyTag(head);
  }

  /** Has the Secure Entry Point flag: a KSK, or a CSK (its DS goes to the parent). */
  get sep(): boolean {
    return (this.flags & 1) === 1;
  }

  isPublished(now: number): boolean {
    const t = this.timing;
    const from = t.publish ?? t.activate;
    if (from === null || from > now) return this.isActive(now);
    return t.delete === null || t.delete > now;
  }

  isActive(now: number): boolean {
    const t = this.timing;
    if (t.activate === null || t.activate > now) return false;
    if (t.inactive !== null && t.inactive <= now) return false;
    return t.delete === null || t.delete > now;
  }

  state(now: number): KeyState {
    const t = this.timing;
    if (t.delete !== null && t.delete <= now) return 'removed';
    if (this.isActive(now)) return 'active';
    if (!this.isPublished(now)) return 'generated';
    return t.inactive !== null && t.inactive <= now ? 'retired' : 'published';
  }

  /** The first timing event strictly after `now`, or null. */
  nextEvent(now: number): number | null {
    let next: number | null = null;
    for (const f of TIMING_FIELDS) {
      const v = this.timing[f];
      if (v !== null && v > now && (next === null || v < next)) next = v;
    }
    return next;
  }

  /** The DS RDATA for this key with a SHA-256 digest (RFC 4509 §2.1). */
  ds(origin: WireName): RData {
    const digest = createHash('sha256').update(canonicalName(origin)).update(this.dnskey.head).digest();
    const head = Buffer.alloc(4 + digest.length);
    head.writeUInt16BE(this.tag, 0);
    head[2] = this.algorithm.number;
    head[3] = 2; // SHA-256
    digest.copy(head, 4);
    return new RData(head);
  }

  describe(): string {
    return `${this.sep ? 'KSK' : 'ZSK'} ${this.tag} (algorithm ${this.algorithm.number}, ${this.algorithm.mnemonic})`;
  }
}

/** RFC 4034 Appendix B: the key tag of a DNSKEY RDATA (algorithms other than 1). */
export function keyTag(rdata: Uint8Array): number {
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i] : rdata[i] << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}

/** Presentation form of a DS or DNSKEY record (for `dnssec ds` and the docs' examples). */
export function presentDs(origin: WireName, ds: RData, ttl: number | null = null): string {
  const h = ds.head;
  return `${origin} ${ttl === null ? '' : `${ttl} `}IN DS ${h.readUInt16BE(0)} ${h[2]} ${h[3]} ${h.subarray(4).toString('hex').toUpperCase()}`;
}

export function presentDnskey(origin: WireName, key: ZoneKey, ttl: number | null = null): string {
  return `${origin} ${ttl === null ? '' : `${ttl} `}IN DNSKEY ${key.flags} 3 ${key.algorithm.number} ${key.publicKey.toString('base64')}`;
}
