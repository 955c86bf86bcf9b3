// A byte-level query builder for tests: full control over every field, so malformed packets can be written
// exactly (dns-packet refuses to encode most of them).
import * as dgram from 'node:dgram';

export interface EdnsOpt {
  code: number;
  data: Buffer;
}

export interface RawQuery {
  id?: number;
  /** Second header word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE). */
  flags?: number;
  /** Names as label arrays (bytes kept exactly) or dotted text. */
  questions?: { name: string | Buffer[]; type: number; klass?: number }[];
  /** Raw bytes appended after the questions (answer/authority records). */
  records?: Buffer[];
  an?: number;
  ns?: number;
  /** OPT record; null/undefined: none. */
  opt?: { udpSize?: number; extRcode?: number; version?: number; do?: boolean; options?: EdnsOpt[]; owner?: Buffer } | null;
  /** Extra additional records (raw) after the OPT. */
  extraAdditional?: Buffer[];
  /** Override the counts written in the header. */
  qdcount?: number;
  arcount?: number;
}

export function labels(name: string): Buffer[] {
  if (name === '' || name === '.') return [];
  return name.replace(/\.$/, '').split('.').map((l) => Buffer.from(l, 'latin1'));
}

export function wireName(name: string | Buffer[]): Buffer {
  const ls = typeof name === 'string' ? labels(name) : name;
  return Buffer.concat([...ls.flatMap((l) => [Buffer.from([l.length]), l]), Buffer.from([0])]);
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}

export function optRecord(o: NonNullable<RawQuery['opt']>): Buffer {
  const rdata = Buffer.concat((o.options ?? []).map((x) => Buffer.concat([u16(x.code), u16(x.data.length), x.data])));
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(41, 0);
  fixed.writeUInt16BE(o.udpSize ?? 1232, 2);
  fixed[4] = o.extRcode ?? 0;
  fixed[5] = o.version ?? 0;
  fixed.writeUInt16BE(o.do ? 0x8000 : 0, 6);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([o.owner ?? Buffer.from([0]), fixed, rdata]);
}

export function rawQuery(q: RawQuery = {}): Buffer {
  const questions = q.questions ?? [{ name: 'www.example.com', type: 1 }];
  const qbytes = questions.map((x) => Buffer.concat([wireName(x.name), u16(x.type), u16(x.klass ?? 1)]));
  const add: Buffer[] = [];
  if (q.opt) add.push(optRecord(q.opt));
  if (q.extraAdditional) add.push(...q.extraAdditional);
  const h = Buffer.alloc(12);
  h.writeUInt16BE(q.id ?? 0x1234, 0);
  h.writeUInt16BE(q.flags ?? 0x0100, 2);
  h.writeUInt16BE(q.qdcount ?? questions.length, 4);
  h.writeUInt16BE(q.an ?? 0, 6);
  h.writeUInt16BE(q.ns ?? 0, 8);
  h.writeUInt16BE(q.arcount ?? add.length, 10);
  return Buffer.concat([h, ...qbytes, ...(q.records ?? []), ...add]);
}

/** ECS option data: FAMILY, SOURCE, SCOPE, then `address` exactly as given (already truncated). */
export function ecsOption(family: number, source: number, address: Buffer | number[], scope = 0): EdnsOpt {
  return { code: 8, data: Buffer.concat([u16(family), Buffer.from([source, scope]), Buffer.from(address)]) };
}

/** ECS for an address (4 or 16 bytes) at `prefix`: octets truncated and the bits past the prefix cleared. */
export function ecsFor(bytes: number[] | Uint8Array, prefix: number, scope = 0): EdnsOpt {
  const family = bytes.length === 4 ? 1 : 2;
  const n = (prefix + 7) >> 3;
  const addr = Buffer.from(bytes).subarray(0, n);
  const masked = Buffer.from(addr);
  if (prefix & 7) masked[n - 1] &= (0xff << (8 - (prefix & 7))) & 0xff;
  return ecsOption(family, prefix, masked, scope);
}

export const NSID: EdnsOpt = { code: 3, data: Buffer.alloc(0) };
export const COOKIE: EdnsOpt = { code: 10, data: Buffer.from('0123456789abcdef', 'hex') };

/** A deterministic PRNG (mulberry32) so fuzz runs are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One UDP exchange that resolves null on timeout instead of rejecting (for "no answer expected" checks). */
export function udpMaybe(port: number, pkt: Buffer, timeoutMs = 300, host = '127.0.0.1'): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      sock.close();
      resolve(null);
    }, timeoutMs);
    sock.on('message', (m) => {
      clearTimeout(timer);
      sock.close();
      resolve(m);
    });
    sock.send(pkt, port, host);
  });
}
