// Compact denial of existence (RFC 9824, "black lies"): every name a query asks for is said to exist. A name
// that does not exist gets NOERROR with an NSEC whose owner is the name, whose next name is its immediate successor
// (so it covers nothing else: no zone walking) and whose type bitmap is RRSIG, NSEC and the NXNAME meta-type
// (§3.1); a name without the asked type gets the NSEC listing the types it has (§3.2); an empty non-terminal
// lists only RRSIG and NSEC (§3.3).
import { RRType } from '../dns/wire/constants';
import { MAX_NAME_WIRE } from '../dns/wire/name';
import { RData } from '../dns/wire/records';

/** RFC 4034 §4.1.2: the type bitmap, in windows of 256 types. `types` need not be sorted or unique. */
export function typeBitmap(types: readonly number[]): Buffer {
  const sorted = [...new Set(types)].sort((a, b) => a - b);
  const parts: number[] = [];
  let i = 0;
  while (i < sorted.length) {
    const window = sorted[i] >> 8;
    const bits = new Uint8Array(32);
    let len = 0;
    for (; i < sorted.length && sorted[i] >> 8 === window; i++) {
      const low = sorted[i] & 0xff;
      bits[low >> 3] |= 0x80 >> (low & 7);
      len = (low >> 3) + 1;
    }
    parts.push(window, len, ...bits.subarray(0, len));
  }
  return Buffer.from(parts);
}

/**
 * The Next Domain Name of the NSEC for `owner` (canonical wire): its immediate successor in canonical order,
 * "\000.owner" (RFC 9824 §3.1, RFC 4471 §3.1.2). A name with no room for one more label gets the successor of
 * RFC 4471 §3.1.2's other cases instead: the leftmost label that can grow has its last octet below 0xff
 * incremented (and what follows that octet in the label dropped), the labels left of it dropped.
 */
export function successor(owner: Buffer): Buffer {
  if (owner.length + 2 <= MAX_NAME_WIRE) return Buffer.concat([ZERO_LABEL, owner]);
  for (let off = 0; owner[off] !== 0; off += owner[off] + 1) {
    const len = owner[off];
    for (let j = off + len; j > off; j--) {
      if (owner[j] === 0xff) continue;
      const out = Buffer.concat([Buffer.from([j - off]), owner.subarray(off + 1, j + 1), owner.subarray(off + len + 1)]);
      let b = out[j - off] + 1;
      if (b >= 0x41 && b <= 0x5a) b = 0x5b; // stay canonical (no uppercase), and still greater
      out[j - off] = b;
      return out;
    }
  }
  return owner; // every label all 0xff: not a name anyone asks for
}

const ZERO_LABEL = Buffer.from([1, 0]);

/** The NSEC RDATA for `owner` (canonical wire) with these types (null: a name that does not exist, §3.1). */
export function nsecRData(owner: Buffer, types: readonly number[] | null): RData {
  const bitmap = types === null ? NXNAME_BITMAP : typeBitmap([...types, RRType.RRSIG, RRType.NSEC]);
  return new RData(Buffer.concat([successor(owner), bitmap]));
}

/** RFC 9824 §3.1: the bitmap of a name that does not exist: RRSIG, NSEC and NXNAME. */
const NXNAME_BITMAP = typeBitmap([RRType.RRSIG, RRType.NSEC, RRType.NXNAME]);
