// Key files, in the format BIND's dnssec-keygen writes (so that keys move between BIND and steerdns either way):
// K<zone>.+<alg>+<tag>.key holds the DNSKEY record, K<zone>.+<alg>+<tag>.private the private key ("Private-key-
// format: v1.3", "Algorithm:", "PrivateKey:" base64) and the timing metadata (YYYYMMDDHHMMSS, UTC). Private keys are
// only ever in these files: steerdns refuses one that its group or others may read or write (the rule OpenSSH
// applies to its private keys), and one whose public half does not match the .key file.
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { nameOf } from '../dns/wire/name';
import { algorithm, type Algorithm } from './algorithms';
import { emptyTiming, FLAGS_KSK, FLAGS_ZSK, presentDnskey, TIMING_FIELDS, ZoneKey, type KeyTiming } from './keys';

/** BIND's names for the timing fields, in the order it writes them. */
const TIMING_NAMES: Record<keyof KeyTiming, string> = {
  created: 'Created', publish: 'Publish', activate: 'Activate', inactive: 'Inactive', delete: 'Delete',
  syncPublish: 'SyncPublish', syncDelete: 'SyncDelete',
};

export function keyBaseName(zone: string, alg: number, tag: number): string {
  return `K${zone}.+${String(alg).padStart(3, '0')}+${String(tag).padStart(5, '0')}`;
}

/** YYYYMMDDHHMMSS in UTC (BIND's timing format). */
export function formatKeyTime(t: number): string {
  return new Date(t * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

export function parseKeyTime(text: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text.trim());
  if (!m) return null;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

export interface LoadedKeys {
  keys: ZoneKey[];
  /** What is wrong with the directory or a key (the key is left out). */
  problems: string[];
}

/**
 * Reads every key of `zone` in `dir`. With `withPrivate` false only the .key files are read (and the timing from
 * the .private files when they can be read), for the commands that print public data.
 */
export function readZoneKeys(dir: string, zone: string, withPrivate = true): LoadedKeys {
  const problems: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return { keys: [], problems: [`cannot read the key directory ${dir} (${code}); make a key with: steerdns dnssec keygen --zone ${zone} -c <config>`] };
  }
  const prefix = `K${zone}.+`.toLowerCase();
  const keys: ZoneKey[] = [];
  for (const name of names.sort()) {
    if (!name.endsWith('.key') || !name.toLowerCase().startsWith(prefix)) continue;
    const m = /\+(\d{3})\+(\d{5})\.key$/.exec(name);
    if (!m) continue;
    const base = path.join(dir, name.slice(0, -'.key'.length));
    const r = readKey(base, zone, withPrivate);
    if (typeof r === 'string') problems.push(r);
    else keys.push(r);
  }
  return { keys, problems };
}

/** Reads one key (base path without extension); returns the key or what is wrong with it. */
export function readKey(base: string, zone: string, withPrivate: boolean): ZoneKey | string {
  const keyFile = `${base}.key`;
  let text: string;
  try {
    text = readFileSync(keyFile, 'utf8');
  } catch (e) {
    return `${keyFile}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  const pub = parseDnskeyFile(text, zone);
  if (typeof pub === 'string') return `${keyFile}: ${pub}`;
  const privFile = `${base}.private`;
  const priv = readPrivate(privFile, withPrivate);
  if (typeof priv === 'string') {
    if (withPrivate) return priv;
    return new ZoneKey(zone, pub.alg, pub.flags, pub.publicKey, null, emptyTiming(), base);
  }
  if (priv.alg !== pub.alg) return `${privFile}: algorithm ${priv.alg.number} does not match the .key file's ${pub.alg.number}`;
  if (withPrivate) {
    if (priv.raw === null) return `${privFile}: no PrivateKey field`;
    let key;
    try {
      key = pub.alg.privateKey(priv.raw);
    } catch (e) {
      return `${privFile}: not a usable ${pub.alg.mnemonic} private key (${(e as Error).message})`;
    }
    if (!pub.alg.publicKey(key).equals(pub.publicKey)) {
      return `${privFile}: the private key does not belong to the public key in ${path.basename(keyFile)} (files swapped or edited?)`;
    }
    return new ZoneKey(zone, pub.alg, pub.flags, pub.publicKey, key, priv.timing, base);
  }
  return new ZoneKey(zone, pub.alg, pub.flags, pub.publicKey, null, priv.timing, base);
}

interface PublicPart {
  flags: number;
  alg: Algorithm;
  publicKey: Buffer;
}

/** The DNSKEY record of a .key file (comments and other lines ignored). */
export function parseDnskeyFile(text: string, zone: string): PublicPart | string {
  for (const raw of text.split('\n')) {
    const line = raw.replace(/;.*$/, '').trim();
    if (line === '') continue;
    const f = line.split(/\s+/);
    const i = f.findIndex((x) => x.toUpperCase() === 'DNSKEY');
    if (i < 1) continue;
    const owner = f[0].toLowerCase().replace(/\.$/, '');
    if (owner !== zone) return `the DNSKEY is for ${f[0]}, not ${zone}`;
    const flags = Number(f[i + 1]);
    const protocol = Number(f[i + 2]);
    const alg = algorithm(Number(f[i + 3]));
    const publicKey = Buffer.from(f.slice(i + 4).join(''), 'base64');
    if (flags !== FLAGS_KSK && flags !== FLAGS_ZSK) return `DNSKEY flags ${f[i + 1]}: expected 256 (ZSK) or 257 (KSK/CSK)`;
    if (protocol !== 3) return `DNSKEY protocol ${f[i + 2]}: expected 3`;
    if (!alg) return `DNSKEY algorithm ${f[i + 3]}: steerdns signs with 13 (ECDSAP256SHA256) and 15 (ED25519)`;
    if (publicKey.length !== (alg.number === 13 ? 64 : 32)) return `the ${alg.mnemonic} public key is ${publicKey.length} bytes`;
    return { flags, alg, publicKey };
  }
  return 'no DNSKEY record in the file';
}

interface PrivatePart {
  alg: Algorithm;
  raw: Buffer | null;
  timing: KeyTiming;
}

/**
 * Reads a .private file. The permissions are checked on the open file (no race with a rename in between):
 * group or other access is refused.
 */
function readPrivate(file: string, checkMode: boolean): PrivatePart | string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    return `${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    if (checkMode && (st.mode & 0o077) !== 0) {
      return `${file}: the private key is accessible to group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); run: chmod 600 ${file}`;
    }
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  return parsePrivate(text, file);
}

export function parsePrivate(text: string, file: string): PrivatePart | string {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line.trim());
    if (m) fields.set(m[1], m[2].trim());
  }
  const format = fields.get('Private-key-format');
  if (!format || !/^v1\.[2-3]$/.test(format)) return `${file}: not a BIND private key file (Private-key-format v1.2 or v1.3)`;
  const alg = algorithm(Number((fields.get('Algorithm') ?? '').split(/\s/)[0]));
  if (!alg) return `${file}: algorithm "${fields.get('Algorithm') ?? ''}" is not one steerdns signs with (13, 15)`;
  const pk = fields.get('PrivateKey');
  const timing = emptyTiming();
  for (const f of TIMING_FIELDS) {
    const v = fields.get(TIMING_NAMES[f]);
    if (v === undefined) continue;
    const t = parseKeyTime(v);
    if (t === null) return `${file}: ${TIMING_NAMES[f]} "${v}" is not YYYYMMDDHHMMSS`;
    timing[f] = t;
  }
  return { alg, raw: pk === undefined ? null : Buffer.from(pk, 'base64'), timing };
}

function privateText(alg: Algorithm, raw: Buffer, timing: KeyTiming): string {
  const lines = ['Private-key-format: v1.3', `Algorithm: ${alg.number} (${alg.mnemonic})`, `PrivateKey: ${raw.toString('base64')}`];
  for (const f of TIMING_FIELDS) {
    const v = timing[f];
    if (v !== null) lines.push(`${TIMING_NAMES[f]}: ${formatKeyTime(v)}`);
  }
  return `${lines.join('\n')}\n`;
}

function publicText(key: ZoneKey): string {
  const lines = [`; This is a ${key.sep ? 'key-signing' : 'zone-signing'} key, keyid ${key.tag}, for ${key.zone}.`];
  for (const f of TIMING_FIELDS) {
    const v = key.timing[f];
    if (v !== null) lines.push(`; ${TIMING_NAMES[f]}: ${formatKeyTime(v)} (${new Date(v * 1000).toUTCString()})`);
  }
  lines.push(presentDnskey(nameOf(`${key.zone}.`), key));
  return `${lines.join('\n')}\n`;
}

/** Generates a key and writes its two files into `dir` (the .private with mode 0600, never overwriting). */
export function generateKey(dir: string, zone: string, alg: Algorithm, flags: number, timing: KeyTiming): ZoneKey {
  for (;;) {
    const raw = alg.generate();
    const priv = alg.privateKey(raw);
    const key = new ZoneKey(zone, alg, flags, alg.publicKey(priv), priv, timing, '');
    const base = path.join(dir, keyBaseName(zone, alg.number, key.tag));
    let fd: number;
    try {
      fd = openSync(`${base}.private`, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue; // a key tag already taken: another key
      throw e;
    }
    try {
      writeFileSync(fd, privateText(alg, raw, timing));
    } finally {
      closeSync(fd);
    }
    const placed = new ZoneKey(zone, alg, flags, key.publicKey, priv, timing, base);
    writeFileSync(`${base}.key`, publicText(placed), { mode: 0o644 });
    return placed;
  }
}

/** Rewrites a key's timing into both files (the .private through a 0600 temp file and a rename). */
export function writeTiming(key: ZoneKey, timing: KeyTiming): void {
  const privFile = `${key.path}.private`;
  const parsed = parsePrivate(readFileSync(privFile, 'utf8'), privFile);
  if (typeof parsed === 'string') throw new Error(parsed);
  if (parsed.raw === null) throw new Error(`${privFile}: no PrivateKey field`);
  const tmp = `${privFile}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeFileSync(fd, privateText(parsed.alg, parsed.raw, timing));
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, privFile);
  key.timing = timing;
  writeFileSync(`${key.path}.key`, publicText(key));
}
