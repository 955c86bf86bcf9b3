// TSIG (RFC 8945, https://www.rfc-editor.org/rfc/rfc8945) as a server without keys sees it: a signed request is
// found (last in the additional section, RFC 8945 §5.2), its record is checked for shape, and the answer is NOTAUTH
// with an unsigned TSIG carrying error BADKEY (§5.2.1, §5.3.2) instead of an answer from unverifiable data.
// steerdns has no TSIG keys, so every key is unknown.
import { CLOCK_EPOCH } from './clock';
import { RRClass, RRType } from './wire/constants';
import { skipName } from './wire/name';

/** TSIG error BADKEY (RFC 8945 §3, IANA "DNS RCODEs"). */
export const TSIG_BADKEY = 17;

/** Where the request's TSIG record lies, as the decoder found it (offsets into the request). */
export interface TsigRecord {
  /** Start of the owner name (the key name). */
  ownerAt: number;
  /** Length of the owner name written out without compression. */
  ownerLen: number;
  /** Start of the algorithm name inside the RDATA. */
  algAt: number;
  algLen: number;
  /** The request's Fudge, echoed. */
  fudge: number;
}

export function emptyTsig(): TsigRecord {
  return { ownerAt: 0, ownerLen: 0, algAt: 0, algLen: 0, fudge: 0 };
}

const MAX_POINTERS = 32;

/**
 * Length of the name at `off` written without compression, or -1 when it is malformed (a label past `end`, a
 * pointer loop or forward pointer, or more than 255 bytes).
 */
export function expandedNameLength(pkt: Uint8Array, off: number, end: number): number {
  let total = 0;
  let hops = 0;
  for (;;) {
    if (off >= end) return -1;
    const len = pkt[off];
    if ((len & 0xc0) === 0xc0) {
      if (off + 2 > end || ++hops > MAX_POINTERS) return -1;
      const target = ((len & 0x3f) << 8) | pkt[off + 1];
      if (target >= off) return -1; // only backward pointers: no loops
      off = target;
      continue;
    }
    if (len > 63) return -1;
    total += len + 1;
    if (total > 255) return -1;
    if (len === 0) return total;
    off += len + 1;
  }
}

/** Writes the (already checked) name at `off` of `pkt` into `out` at `at` without compression; returns the end. */
function copyExpandedName(pkt: Uint8Array, off: number, out: DataView, at: number): number {
  for (;;) {
    const len = pkt[off];
    if ((len & 0xc0) === 0xc0) {
      off = ((len & 0x3f) << 8) | pkt[off + 1];
      continue;
    }
    out.setUint8(at++, len);
    if (len === 0) return at;
    for (let i = 1; i <= len; i++) out.setUint8(at++, pkt[off + i]);
    off += len + 1;
  }
}

/**
 * Checks the TSIG record whose owner starts at `ownerAt` (fixed fields at `nameEnd`, RDATA at `rd`, `rdlen`
 * bytes) and fills `into`. Returns '' or what is wrong with it (the request is then FORMERR, RFC 8945 §5.2).
 * RDATA (§4.2): Algorithm Name, Time Signed (48 bits), Fudge, MAC Size, MAC, Original ID, Error, Other Len, Other.
 */
export function readTsig(pkt: Buffer, ownerAt: number, nameEnd: number, rd: number, rdlen: number, into: TsigRecord): string {
  const klass = (pkt[nameEnd + 2] << 8) | pkt[nameEnd + 3];
  const ttl = (pkt[nameEnd + 4] | pkt[nameEnd + 5] | pkt[nameEnd + 6] | pkt[nameEnd + 7]);
  if (klass !== RRClass.ANY || ttl !== 0) return 'TSIG record is not of class ANY with TTL 0';
  const end = rd + rdlen;
  const ownerLen = expandedNameLength(pkt, ownerAt, nameEnd);
  if (ownerLen < 0) return 'malformed TSIG key name';
  const algLen = expandedNameLength(pkt, rd, end);
  if (algLen < 0) return 'malformed TSIG algorithm name';
  // The algorithm name as it lies in the RDATA (it may end in a pointer) is followed by the fixed fields.
  let off = skipName(pkt, rd, end);
  if (off < 0 || off + 10 > end) return 'TSIG record too short';
  const fudge = (pkt[off + 6] << 8) | pkt[off + 7];
  const macSize = (pkt[off + 8] << 8) | pkt[off + 9];
  off += 10 + macSize;
  if (off + 6 > end) return 'TSIG MAC overruns the record';
  const otherLen = (pkt[off + 4] << 8) | pkt[off + 5];
  if (off + 6 + otherLen !== end) return 'TSIG record length does not match its fields';
  into.ownerAt = ownerAt;
  into.ownerLen = ownerLen;
  into.algAt = rd;
  into.algLen = algLen;
  into.fudge = fudge;
  return '';
}

/** Bytes of the unsigned error TSIG that answers `t`: owner, type/class/TTL/RDLENGTH, RDATA with an empty MAC. */
export function tsigErrorSize(t: TsigRecord): number {
  return t.ownerLen + 10 + t.algLen + 16;
}

/**
 * Writes the unsigned TSIG of an error response (RFC 8945 §5.3.2: MAC Size 0, no MAC) at `at`: the request's key
 * and algorithm names, Time Signed = `now` (the coarse clock, clock.ts), the request's Fudge, Original ID = `id`, Error = `error`,
 * no Other Data. Returns the offset after it. The caller reserved tsigErrorSize(t) bytes.
 */
export function writeTsigError(out: DataView, at: number, req: Uint8Array, t: TsigRecord, id: number, error: number, now: number): number {
  at = copyExpandedName(req, t.ownerAt, out, at);
  out.setUint32(at, (RRType.TSIG << 16) | RRClass.ANY);
  out.setUint32(at + 4, 0); // TTL
  const rdlenAt = at + 8;
  at = copyExpandedName(req, t.algAt, out, at + 10);
  const signed = now + CLOCK_EPOCH;
  out.setUint16(at, Math.floor(signed / 0x100000000) & 0xffff); // Time Signed, high 16 of 48 bits
  out.setUint32(at + 2, signed >>> 0);
  out.setUint16(at + 6, t.fudge);
  out.setUint16(at + 8, 0); // MAC Size
  out.setUint16(at + 10, id); // Original ID
  out.setUint16(at + 12, error);
  out.setUint16(at + 14, 0); // Other Len
  at += 16;
  out.setUint16(rdlenAt, at - rdlenAt - 2);
  return at;
}
