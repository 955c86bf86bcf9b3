// One signed zone: which of its keys are published and which sign, at a given time, and the RRSIG records of an
// RRset (RFC 4034 §3, RFC 4035 §2.2). In a CSK zone every active key signs everything; with KSK+ZSK the keys
// with the SEP flag sign the DNSKEY RRset and the others everything else (RFC 6781 §3.1).
import type { ZoneDnssecConfig } from '../config/types';
import { RRType } from '../dns/wire/constants';
import type { WireName } from '../dns/wire/name';
import { RData, type RRset } from '../dns/wire/records';
import type { Zone } from '../dns/zone';
import { canonicalName, rrsigLabels, signingInput } from './canonical';
import type { ZoneKey } from './keys';

export interface SigningSettings {
  validity: number;
  inceptionOffset: number;
  /** A signature is replaced when this much of its validity is left. */
  refresh: number;
  dnskeyTtl: number;
}

export function signingSettings(c: ZoneDnssecConfig): SigningSettings {
  return {
    validity: c.signature_validity,
    inceptionOffset: c.inception_offset,
    refresh: c.refresh ?? Math.floor(c.signature_validity / 4),
    dnskeyTtl: c.dnskey_ttl,
  };
}

export class ZoneSigner {
  readonly origin: WireName;
  /** The Signer's Name field: the zone apex, canonical (RFC 4034 §3.1.7). */
  readonly signerName: Buffer;
  /** Bumped whenever the published or signing keys change: signatures made under an older epoch are stale. */
  epoch = 0;
  /** The apex DNSKEY RRset as served; its records are replaced (one assignment) when the published keys change. */
  readonly dnskeySet: RRset;
  private dnskeySigners: ZoneKey[] = [];
  private dataSigners: ZoneKey[] = [];
  /** The next time a key's timing changes something (evaluate() before then changes nothing). */
  nextEventAt = -Infinity;

  constructor(
    readonly zone: Zone,
    readonly keys: readonly ZoneKey[],
    readonly mode: 'csk' | 'ksk+zsk',
    readonly settings: SigningSettings,
  ) {
    this.origin = zone.origin;
    this.signerName = canonicalName(zone.origin);
    this.dnskeySet = { owner: zone.origin, type: RRType.DNSKEY, ttl: settings.dnskeyTtl, rdata: [] };
  }

  /** The keys signing the DNSKEY RRset and those signing the rest, as of the last evaluate(). */
  get signers(): { dnskey: readonly ZoneKey[]; data: readonly ZoneKey[] } {
    return { dnskey: this.dnskeySigners, data: this.dataSigners };
  }

  /**
   * Takes the key states at `now` into use. Returns what is wrong: a role without an active key keeps the keys
   * that signed last (a zone never goes unsigned because a timing was missed), and says so.
   */
  evaluate(now: number): { changed: boolean; problems: string[] } {
    const problems: string[] = [];
    const active = this.keys.filter((k) => k.privateKey !== null && k.isActive(now));
    let dnskeySigners: ZoneKey[];
    let dataSigners: ZoneKey[];
    if (this.mode === 'csk') {
      dnskeySigners = active;
      dataSigners = active;
    } else {
      dnskeySigners = active.filter((k) => k.sep);
      dataSigners = active.filter((k) => !k.sep);
    }
    const zone = this.origin.toString();
    if (dnskeySigners.length === 0) {
      problems.push(this.mode === 'csk' ? `no active key for ${zone}` : `no active KSK (a key with flags 257) for ${zone}`);
      dnskeySigners = this.dnskeySigners;
    }
    if (dataSigners.length === 0) {
      if (this.mode !== 'csk') problems.push(`no active ZSK (a key with flags 256) for ${zone}`);
      dataSigners = this.dataSigners;
    }
    // A key that signs is published, whatever its timing says (a signature by an unpublished key validates nowhere).
    const published = new Set(this.keys.filter((k) => k.isPublished(now)));
    for (const k of dnskeySigners) published.add(k);
    for (const k of dataSigners) published.add(k);
    const rdata = [...published].sort((a, b) => a.tag - b.tag).map((k) => k.dnskey);
    let next = Infinity;
    for (const k of this.keys) next = Math.min(next, k.nextEvent(now) ?? Infinity);
    this.nextEventAt = next;
    const changed = !sameItems(rdata, this.dnskeySet.rdata) || !sameItems(dnskeySigners, this.dnskeySigners) || !sameItems(dataSigners, this.dataSigners);
    if (changed) {
      this.dnskeySet.rdata = rdata;
      this.dnskeySigners = dnskeySigners;
      this.dataSigners = dataSigners;
      this.epoch++;
    }
    return { changed, problems };
  }

  get canSign(): boolean {
    return this.dnskeySigners.length > 0 && this.dataSigners.length > 0;
  }

  /**
   * The RRSIG records of an RRset (one per signing key) made at `now`: valid from `now` − inception offset to
   * `now` + validity (RFC 4034 §3.1.5; times are serial numbers, RFC 1982). `owner` is canonical.
   */
  sign(type: number, owner: Buffer, ttl: number, rdata: readonly RData[], now: number): RData[] {
    const signers = type === RRType.DNSKEY ? this.dnskeySigners : this.dataSigners;
    const s = this.settings;
    const labels = rrsigLabels(owner);
    const out: RData[] = [];
    for (const key of signers) {
      const priv = key.privateKey;
      if (priv === null) continue;
      const fields = Buffer.alloc(18 + this.signerName.length);
      fields.writeUInt16BE(type, 0);
      fields[2] = key.algorithm.number;
      fields[3] = labels;
      fields.writeUInt32BE(ttl >>> 0, 4);
      fields.writeUInt32BE((now + s.validity) >>> 0, 8);
      fields.writeUInt32BE((now - s.inceptionOffset) >>> 0, 12);
      fields.writeUInt16BE(key.tag, 16);
      this.signerName.copy(fields, 18);
      const signature = key.algorithm.sign(priv, signingInput(fields, owner, type, ttl, rdata));
      out.push(new RData(Buffer.concat([fields, signature])));
    }
    return out;
  }

  /** When a signature made at `now` is due for replacement. */
  refreshAt(now: number): number {
    return now + this.settings.validity - this.settings.refresh;
  }
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
