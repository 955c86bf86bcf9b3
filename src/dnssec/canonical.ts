// The canonical form of names, records and RRsets that signatures cover (RFC 4034 §6): names uncompressed and in
// lowercase (the RDATA names of the types in RFC 4034 §6.2, as amended by RFC 6840 §5.1), records of an RRset in
// canonical order, and the signing input of an RRSIG (RFC 4034 §3.1.8.1).
import { RRClass } from '../dns/wire/constants';
import type { WireName } from '../dns/wire/name';
import type { RData } from '../dns/wire/records';

/** A wire name with its ASCII letters lowercased (length octets are never in A–Z: 0x41–0x5a are > 63). */
function lowerWire(wire: Uint8Array): Buffer {
  const out = Buffer.from(wire);
  let off = 0;
  while (off < out.length && out[off] !== 0) {
    const len = out[off];
    for (let i = off + 1; i <= off + len; i++) {
      const b = out[i];
      if (b >= 0x41 && b <= 0x5a) out[i] = b + 32;
    }
    off += len + 1;
  }
  return out;
}

/** RFC 4034 §6.2: the canonical wire form of a name. */
export function canonicalName(n: WireName): Buffer {
  return lowerWire(n.wire);
}

/**
 * The canonical wire form of a name given by its key (a question name: lowercase already, escapes as \DDD, \. and
 * \\). Written directly: a signature miss for a new name should not pay for a WireName and its interned suffixes.
 */
export function canonicalNameOfKey(key: string): Buffer {
  const out = Buffer.allocUnsafe(key.length + 2);
  let w = 0;
  let lenAt = w++;
  for (let i = 0; i < key.length; i++) {
    let c = key.charCodeAt(i);
    if (c === 0x2e) {
      out[lenAt] = w - lenAt - 1;
      lenAt = w++;
      continue;
    }
    if (c === 0x5c) {
      const d = key.charCodeAt(i + 1);
      if (d >= 0x30 && d <= 0x39) {
        c = Number(key.slice(i + 1, i + 4));
        i += 3;
      } else {
        c = d;
        i += 1;
      }
    }
    out[w++] = c;
  }
  if (key === '') return Buffer.from([0]);
  out[lenAt] = w - lenAt - 1;
  out[w++] = 0;
  return out.subarray(0, w);
}

/**
 * RFC 4034 §6.2 canonical RDATA, kept on the RData (records never change). Every name-bearing RDATA steerdns
 * serves is of a type the RFC lists (NS, CNAME, PTR, MX, SOA, SRV), so its names are lowercased.
 */
export function canonicalRData(rd: RData): Buffer {
  let c = rd.canonical;
  if (c !== null) return c;
  if (rd.name === null && rd.tail === null) c = rd.head;
  else {
    const parts: Buffer[] = [rd.head];
    if (rd.name) parts.push(lowerWire(rd.name.wire));
    if (rd.name2) parts.push(lowerWire(rd.name2.wire));
    if (rd.tail) parts.push(rd.tail);
    c = Buffer.concat(parts);
  }
  rd.canonical = c;
  return c;
}

/** Labels of a name for the RRSIG Labels field: the root and a leading "*" label do not count (RFC 4034 §3.1.3). */
export function rrsigLabels(canonicalOwner: Uint8Array): number {
  let n = 0;
  let off = 0;
  while (canonicalOwner[off] !== 0) {
    if (!(off === 0 && canonicalOwner[0] === 1 && canonicalOwner[1] === 0x2a)) n++;
    off += canonicalOwner[off] + 1;
  }
  return n;
}

/**
 * The data an RRSIG signs (RFC 4034 §3.1.8.1): its RDATA without the signature, then every record of the RRset in
 * canonical form and order (RFC 4034 §6.3; duplicates would be dropped, an RRset here never has any).
 */
export function signingInput(rrsigFields: Buffer, owner: Buffer, type: number, ttl: number, rdata: readonly RData[]): Buffer {
  const records = rdata.map(canonicalRData).sort(Buffer.compare);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(RRClass.IN, 2);
  fixed.writeUInt32BE(ttl >>> 0, 4);
  const parts: Buffer[] = [rrsigFields];
  let prev: Buffer | null = null;
  for (const r of records) {
    if (prev !== null && prev.equals(r)) continue;
    prev = r;
    const len = Buffer.alloc(2);
    len.writeUInt16BE(r.length, 0);
    parts.push(owner, fixed.subarray(0, 8), len, r);
  }
  return Buffer.concat(parts);
}
