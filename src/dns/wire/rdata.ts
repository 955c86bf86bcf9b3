// RDATA builders (encoded once at config-compile time) and the <character-string> reader. Which type parses how is
// in the record-type table (rrtypes.ts).
import { RData } from './records';
import type { WireName } from './name';

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
