// IP addresses and CIDR prefixes as bytes, shared by the DNS, LB, rules and geo modules.
// Parsing happens at config load or once per query on the resolver address; matching works on bytes so the
// query path never formats an address back into a string unless it must (GeoIP cache misses).
import { isIPv6 } from 'node:net';

export interface IpAddr {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
}

export interface Cidr {
  readonly family: 4 | 6;
  /** Address bytes with every bit past `prefix` cleared. */
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/**
 * A dotted quad (what node:net's isIPv4 accepts: four decimal octets, no leading zeros), read by hand: a config of
 * 50,000 endpoints parses this many addresses at load, and the regular expression cost more than the rest.
 */
export function parseIpv4(text: string): Uint8Array | null {
  const n = text.length;
  if (n < 7 || n > 15) return null;
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || part > 3) return null;
      out[part++] = value;
      value = 0;
      digits = 0;
      continue;
    }
    if (c < 0x30 || c > 0x39) return null;
    if (digits > 0 && value === 0) return null; // a leading zero
    value = value * 10 + (c - 0x30);
    if (value > 255 || ++digits > 3) return null;
  }
  return part === 4 ? out : null;
}

export function parseIpv6(text: string): Uint8Array | null {
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  if (!isIPv6(text)) return null;
  const out = new Uint8Array(16);
  // An embedded dotted IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
  let body = text;
  const lastColon = body.lastIndexOf(':');
  const tail = body.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseIpv4(tail);
    if (!v4) return null;
    body = `${body.slice(0, lastColon + 1)}${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const halves = body.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  const fill = 8 - head.length - rest.length;
  const groups = [...head, ...new Array<string>(halves.length > 1 ? fill : 0).fill('0'), ...rest];
  if (groups.length !== 8) return null;
  for (let i = 0; i < 8; i++) {
    const v = parseInt(groups[i], 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  }
  return out;
}

export function parseIp(text: string): IpAddr | null {
  const v4 = parseIpv4(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIpv6(text);
  if (v6) return { family: 6, bytes: v6 };
  return null;
}

/** IPv4-mapped IPv6 (::ffff:a.b.c.d), as dual-stack sockets report IPv4 peers, becomes plain IPv4. */
export function unmapIpv4(ip: IpAddr): IpAddr {
  if (ip.family !== 6) return ip;
  const b = ip.bytes;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return ip;
  if (b[10] !== 0xff || b[11] !== 0xff) return ip;
  return { family: 4, bytes: b.slice(12, 16) };
}

export function formatIp(ip: IpAddr): string {
  const b = ip.bytes;
  if (ip.family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  const left = groups.slice(0, bestStart).join(':');
  const right = groups.slice(bestStart + bestLen).join(':');
  return `${left}::${right}`;
}

/** Clears every bit past `prefix` in a copy of `bytes`. */
export function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  const full = prefix >> 3;
  for (let i = 0; i < full && i < bytes.length; i++) out[i] = bytes[i];
  const rem = prefix & 7;
  if (rem && full < bytes.length) out[full] = bytes[full] & (0xff << (8 - rem));
  return out;
}

/** Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (a host prefix). The host part may be non-zero. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const addrText = slash >= 0 ? text.slice(0, slash) : text;
  const ip = parseIp(addrText);
  if (!ip) return null;
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = Number(p);
    if (prefix > max) return null;
  }
  return { family: ip.family, bytes: maskBytes(ip.bytes, prefix), prefix };
}

export function cidrContains(cidr: Cidr, ip: IpAddr): boolean {
  if (cidr.family !== ip.family) return false;
  const full = cidr.prefix >> 3;
  const a = cidr.bytes;
  const b = ip.bytes;
  for (let i = 0; i < full; i++) if (a[i] !== b[i]) return false;
  const rem = cidr.prefix & 7;
  if (rem === 0) return true;
  const mask = 0xff << (8 - rem);
  return (b[full] & mask) === a[full];
}

/** 32-bit FNV-1a over the address bytes: the client key for hash steering and IP-hash load shedding. */
export function hashIp(ip: IpAddr, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  const b = ip.bytes;
  for (let i = 0; i < b.length; i++) {
    h ^= b[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return fmix32(h);
}

/** MurmurHash3's finalizer: spreads every input bit over the whole word (FNV alone clusters on similar input). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
