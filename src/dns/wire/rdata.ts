// RDATA from presentation text (zone-file syntax), encoded once at config-compile time.
import { RRType } from './constants';
import { RData } from './records';
import { parseIpv4, parseIpv6 } from '../../util/ip';
import { parseName, WireName } from './name';

export function rdataA(bytes: Uint8Array): RData {
  return new RData(Buffer.from(bytes));
}

/** A name-only RDATA (CNAME, NS, PTR): compressible per RFC 3597 §4. */
export function rdataName(name: WireName): RData {
  return new RData(EMPTY, name, null, null, true);
}

export function rdataMx(preference: number, exchange: WireName): RData {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(preference);
  return new RData(head, exchange, null, null, true);
}

export function rdataSrv(priority: number, weight: number, port: number, target: WireName): RData {
  const head = Buffer.alloc(6);
  head.writeUInt16BE(priority, 0);
  head.writeUInt16BE(weight, 2);
  head.writeUInt16BE(port, 4);
  return new RData(head, target, null, null, false); // RFC 2782: no compression of the target
}

export function rdataSoa(mname: WireName, rname: WireName, serial: number, refresh: number, retry: number, expire: number, minimum: number): RData {
  const tail = Buffer.alloc(20);
  tail.writeUInt32BE(serial >>> 0, 0);
  tail.writeUInt32BE(refresh >>> 0, 4);
  tail.writeUInt32BE(retry >>> 0, 8);
  tail.writeUInt32BE(expire >>> 0, 12);
  tail.writeUInt32BE(minimum >>> 0, 16);
  return new RData(EMPTY, mname, rname, tail, true);
}

/** TXT from character-strings (each ≤ 255 bytes). */
export function rdataTxt(strings: Buffer[]): RData {
  const parts: Buffer[] = [];
  for (const s of strings) parts.push(Buffer.from([s.length]), s);
  return new RData(Buffer.concat(parts));
}

const EMPTY = Buffer.alloc(0);

/** DS digest lengths by digest type: SHA-1 (RFC 4034), SHA-256 (RFC 4509), SHA-384 (RFC 6605). */
const DS_DIGEST_LENGTHS: Record<number, number> = { 1: 20, 2: 32, 4: 48 };

/** An RFC 1035 <character-string> sequence: quoted strings (with \" \\ \DDD) or, if unquoted, the whole text. */
export function parseTxtStrings(text: string): Buffer[] | string {
  const trimmed = text.trim();
  let chunks: Buffer[];
  if (trimmed.startsWith('"')) {
    chunks = [];
    let i = 0;
    while (i < trimmed.length) {
      while (i < trimmed.length && /\s/.test(trimmed[i])) i++;
      if (i >= trimmed.length) break;
      if (trimmed[i] !== '"') return `expected a quoted string at "${trimmed.slice(i, i + 10)}"`;
      i++;
      const bytes: number[] = [];
      let closed = false;
      while (i < trimmed.length) {
        const c = trimmed[i];
        if (c === '"') { closed = true; i++; break; }
        if (c === '\\') {
          const ddd = trimmed.slice(i + 1, i + 4);
          if (/^\d{3}$/.test(ddd)) {
            if (Number(ddd) > 255) return `bad escape \\${ddd}`;
            bytes.push(Number(ddd));
            i += 4;
            continue;
          }
          if (i + 1 >= trimmed.length) return 'trailing backslash';
          bytes.push(...Buffer.from(trimmed[i + 1], 'utf8'));
          i += 2;
          continue;
        }
        bytes.push(...Buffer.from(c, 'utf8'));
        i++;
      }
      if (!closed) return 'unterminated quoted string';
      chunks.push(Buffer.from(bytes));
    }
  } else {
    chunks = [Buffer.from(text, 'utf8')];
  }
  // Long text is split into 255-byte character-strings (how SPF/DKIM records are usually written).
  const out: Buffer[] = [];
  for (const c of chunks) {
    if (c.length === 0) out.push(c);
    for (let o = 0; o < c.length; o += 255) out.push(c.subarray(o, Math.min(o + 255, c.length)));
  }
  if (out.length === 0) out.push(Buffer.alloc(0));
  if (out.reduce((s, b) => s + b.length + 1, 0) > 65535) return 'TXT data longer than 65535 bytes';
  return out;
}

function u16(text: string | undefined, what: string): number | string {
  if (text === undefined || !/^\d{1,5}$/.test(text) || Number(text) > 65535) return `${what} must be an integer from 0 to 65535`;
  return Number(text);
}

/**
 * Parses the value of a static record. Names in RDATA are relative to `origin` unless they end with a dot.
 * Returns the RData or an error message.
 */
export function parseRData(type: number, text: string, origin: WireName): RData | string {
  const value = text.trim();
  const fields = value.split(/\s+/);
  const name = (t: string | undefined, what: string): WireName | string => {
    if (t === undefined || t === '') return `missing ${what}`;
    const n = parseName(t, origin);
    return typeof n === 'string' ? `${what}: ${n}` : n;
  };
  switch (type) {
    case RRType.A: {
      const b = parseIpv4(value);
      return b ? rdataA(b) : `"${value}" is not an IPv4 address`;
    }
    case RRType.AAAA: {
      const b = parseIpv6(value);
      return b ? rdataA(b) : `"${value}" is not an IPv6 address`;
    }
    case RRType.CNAME:
    case RRType.NS:
    case RRType.PTR: {
      if (fields.length !== 1) return `expected one domain name, got "${value}"`;
      const n = name(fields[0], 'target');
      return typeof n === 'string' ? n : rdataName(n);
    }
    case RRType.MX: {
      if (fields.length !== 2) return `expected "<preference> <exchange>", got "${value}"`;
      const pref = u16(fields[0], 'preference');
      if (typeof pref === 'string') return pref;
      const n = name(fields[1], 'exchange');
      return typeof n === 'string' ? n : rdataMx(pref, n);
    }
    case RRType.SRV: {
      if (fields.length !== 4) return `expected "<priority> <weight> <port> <target>", got "${value}"`;
      const nums: number[] = [];
      for (const [i, what] of ['priority', 'weight', 'port'].entries()) {
        const v = u16(fields[i], what);
        if (typeof v === 'string') return v;
        nums.push(v);
      }
      const n = name(fields[3], 'target');
      return typeof n === 'string' ? n : rdataSrv(nums[0], nums[1], nums[2], n);
    }
    case RRType.TXT: {
      const strings = parseTxtStrings(text);
      return typeof strings === 'string' ? strings : rdataTxt(strings);
    }
    case RRType.CAA: {
      const m = /^(\d{1,3})\s+([A-Za-z0-9]+)\s+(.*)$/.exec(value);
      if (!m || Number(m[1]) > 255) return `expected "<flags> <tag> <value>", e.g. 0 issue "letsencrypt.org", got "${value}"`;
      const tag = Buffer.from(m[2].toLowerCase(), 'ascii');
      if (tag.length > 15) return 'CAA tag longer than 15 characters';
      let v = m[3].trim();
      if (v.startsWith('"')) {
        const s = parseTxtStrings(v);
        if (typeof s === 'string') return s;
        v = Buffer.concat(s).toString('utf8');
      }
      const valueBytes = Buffer.from(v, 'utf8');
      return new RData(Buffer.concat([Buffer.from([Number(m[1]), tag.length]), tag, valueBytes]));
    }
    case RRType.DS: {
      // RFC 4034 §5.3: key tag, algorithm, digest type, digest in hex (spaces allowed inside it).
      const m = /^(\d{1,5})\s+(\d{1,3})\s+(\d{1,3})\s+([0-9a-fA-F\s]+)$/.exec(value);
      if (!m) return `expected "<key tag> <algorithm> <digest type> <hex digest>", got "${value}"`;
      const tag = u16(m[1], 'key tag');
      if (typeof tag === 'string') return tag;
      const alg = Number(m[2]);
      const digestType = Number(m[3]);
      if (alg > 255 || digestType > 255) return 'algorithm and digest type must be from 0 to 255';
      const hex = m[4].replace(/\s+/g, '');
      if (hex.length % 2 !== 0) return 'the digest has an odd number of hex digits';
      const expected = DS_DIGEST_LENGTHS[digestType];
      if (expected !== undefined && hex.length !== expected * 2) return `a digest of type ${digestType} is ${expected} bytes, got ${hex.length / 2}`;
      const head = Buffer.alloc(4 + hex.length / 2);
      head.writeUInt16BE(tag, 0);
      head[2] = alg;
      head[3] = digestType;
      Buffer.from(hex, 'hex').copy(head, 4);
      return new RData(head);
    }
    default:
      return `record type ${type} is not supported`;
  }
}
