// GeoIP lookups for the query path (docs/decisions.md §1.8): MaxMind GeoIP2/GeoLite2 City and Country databases and the
// ip-location-db flat layout, read with the `maxmind` package's Reader over a Buffer, behind a bounded cache.
//
// Lookups are synchronous. A cache hit costs one Map.get on an integer (IPv4) or a 16-char string (IPv6); the
// address is formatted to text for the reader only on a miss.
import { readFileSync } from 'node:fs';
import { Reader } from 'maxmind';
import type { CityResponse } from 'maxmind';
import { formatIp, unmapIpv4 } from '../util/ip';
import type { IpAddr } from '../util/ip';
import { regionOf, subdivisionCodeFromName } from './regions';

export interface GeoLocation {
  /** ISO 3166-1 alpha-2, upper case. */
  readonly country: string | null;
  /** ISO 3166-2 suffix, e.g. "CA" for US-CA. */
  readonly subdivision: string | null;
  /** Load-balancer region code via regionOf(). */
  readonly region: string | null;
  readonly latitude: number | null;
  readonly longitude: number | null;
  /**
   * Prefix length of the network that decided, in the address's own family (IPv4 networks in an IPv6 tree
   * report 0-32): every address in that network gets this same answer, so it is the ECS scope.
   */
  readonly prefixLength: number;
}

export type GeoIpLayout = 'maxmind-city' | 'maxmind-country' | 'ip-location-db';

export interface GeoIpDatabase {
  readonly path: string;
  readonly layout: GeoIpLayout;
  readonly databaseType: string;
  readonly ipVersion: number;
}

export interface GeoIp {
  /** Synchronous, cached; null when no database has the address. Results are frozen and shared. */
  lookup(ip: IpAddr): GeoLocation | null;
  readonly databases: GeoIpDatabase[];
}

export interface GeoIpOptions {
  /** Cached addresses per family (two generations of half this size each). Default 65536. */
  cacheSize?: number;
}

type Place = Omit<GeoLocation, 'region' | 'prefixLength'>;

interface OpenDatabase extends GeoIpDatabase {
  readonly reader: Reader<CityResponse>;
  readonly extract: (record: unknown) => Place | null;
}

const DEFAULT_CACHE_SIZE = 65536;
/** Decoded data records per database, by offset (cleared when full). */
const DECODER_CACHE_SIZE = 8192;

/**
 * Opens the databases in `paths` (tried in that order for each lookup; the first that has the address wins).
 * Synchronous; throws an Error naming the file when one is missing, unreadable, not an MMDB file or not a
 * location database of a known layout.
 */
export function openGeoIp(paths: string[], options: GeoIpOptions = {}): GeoIp {
  if (paths.length === 0) throw new Error('GeoIP: no database file given');
  const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
  if (!Number.isInteger(cacheSize) || cacheSize < 2) throw new Error(`GeoIP: cacheSize must be an integer >= 2, got ${cacheSize}`);
  return new CachedGeoIp(paths.map(openDatabase), cacheSize);
}

function openDatabase(path: string): OpenDatabase {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new Error(`GeoIP database ${path}: cannot read it (${(e as Error).message})`);
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    throw new Error(`GeoIP database ${path}: the file is gzip-compressed; decompress it (gunzip / tar xzf) and point to the .mmdb`);
  }
  let reader: Reader<CityResponse>;
  try {
    reader = new Reader<CityResponse>(buf, { cache: decoderCache(DECODER_CACHE_SIZE) });
  } catch (e) {
    throw new Error(
      `GeoIP database ${path}: not a MaxMind DB (.mmdb) file (${(e as Error).message}); legacy GeoIP .dat files are not supported`,
    );
  }
  const { databaseType, ipVersion } = reader.metadata;
  let probe: unknown;
  try {
    probe = probeRecord(buf, reader);
  } catch (e) {
    throw new Error(`GeoIP database ${path}: corrupt (${(e as Error).message})`);
  }
  const layout = detectLayout(databaseType, probe);
  if (typeof layout !== 'string') throw new Error(`GeoIP database ${path} (type "${databaseType}"): ${layout.error}`);
  return {
    path,
    layout,
    databaseType,
    ipVersion,
    reader,
    extract: layout === 'ip-location-db' ? extractIpLocation : extractMaxmind,
  };
}

/**
 * mmdb-lib decodes a record from scratch on every lookup unless given a cache (~9 µs for a GeoIP2-City
 * record here, ~0.6 µs with one). Many networks share a record, so our misses hit this cache often.
 */
function decoderCache(max: number): { get(key: string | number): unknown; set(key: string | number, value: unknown): void } {
  const map = new Map<string | number, unknown>();
  return {
    get: (key) => map.get(key),
    set: (key, value) => {
      if (map.size >= max) map.clear();
      map.set(key, value);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Layout detection

const MAXMIND_TYPE = /^(GeoIP2|GeoLite2|GeoIP|DBIP)-/i;

/**
 * Layout from the metadata database type when it is one we know ("GeoIP2-City", "GeoLite2-Country",
 * "DBIP-City-Lite", ip-location-db's "city ipv4" / "country ipv6"), checked against a sample record when the
 * file has one; from the sample record's shape alone otherwise. `{error}` when it is not a location database.
 */
export function detectLayout(databaseType: string, probe: unknown): GeoIpLayout | { error: string } {
  const fromShape = layoutOfRecord(probe);
  let fromName: GeoIpLayout | null = null;
  if (MAXMIND_TYPE.test(databaseType)) {
    if (/City|Enterprise/i.test(databaseType)) fromName = 'maxmind-city';
    else if (/Country/i.test(databaseType)) fromName = 'maxmind-country';
    else return { error: 'not a location database (only City and Country databases carry locations)' };
  } else if (/ip-location-db/i.test(databaseType) || /^(city|country) ipv[46]$/i.test(databaseType)) {
    fromName = 'ip-location-db';
  }
  if (fromName === null) {
    if (fromShape !== null) return fromShape;
    return {
      error:
        probe === undefined
          ? 'unknown layout: the database type is not one we know and the file has no record to inspect'
          : 'unknown layout: records have neither MaxMind fields (country.iso_code, location) nor ip-location-db fields (country_code)',
    };
  }
  if (probe !== undefined && (fromShape === null || (fromShape === 'ip-location-db') !== (fromName === 'ip-location-db'))) {
    return { error: `the database type says ${fromName} but its records do not have that layout` };
  }
  return fromName;
}

function layoutOfRecord(record: unknown): GeoIpLayout | null {
  const r = asObject(record);
  if (!r) return null;
  if (typeof r.country_code === 'string') return 'ip-location-db';
  if (asObject(r.location) || Array.isArray(r.subdivisions) || asObject(r.city)) return 'maxmind-city';
  if (asObject(r.country) || asObject(r.continent) || asObject(r.registered_country)) return 'maxmind-country';
  return null;
}

/**
 * A sample record: walks the search tree to the first network that has data and looks it up. Undefined for an
 * empty database. The MMDB search tree (maxmind.github.io/MaxMind-DB) is nodeCount nodes of two records each;
 * a record equal to nodeCount means "no data", above it points into the data section.
 */
function probeRecord(buf: Buffer, reader: Reader<CityResponse>): unknown {
  const { nodeCount, recordSize, ipVersion } = reader.metadata;
  const nodeBytes = recordSize / 4;
  const readRecord = (node: number, right: boolean): number => {
    const o = node * nodeBytes;
    if (recordSize === 24) return right ? buf.readUIntBE(o + 3, 3) : buf.readUIntBE(o, 3);
    if (recordSize === 28) {
      return right
        ? ((buf[o + 3] & 0x0f) << 24) + buf.readUIntBE(o + 4, 3)
        : ((buf[o + 3] & 0xf0) << 20) + buf.readUIntBE(o, 3);
    }
    return right ? buf.readUInt32BE(o + 4) : buf.readUInt32BE(o);
  };
  const bits = ipVersion === 4 ? 32 : 128;
  const path: number[] = [];
  let steps = 0;
  // Depth-first, left before right, bounded (writers never leave empty subtrees, so this ends quickly).
  const walk = (node: number, depth: number): boolean => {
    if (++steps > 100_000 || depth >= bits) return false;
    for (const bit of [0, 1]) {
      const next = readRecord(node, bit === 1);
      if (next === nodeCount) continue;
      path.push(bit);
      if (next > nodeCount || walk(next, depth + 1)) return true;
      path.pop();
    }
    return false;
  };
  if (nodeCount === 0 || !walk(0, 0)) return undefined;
  const bytes = new Uint8Array(bits / 8);
  path.forEach((bit, i) => {
    if (bit) bytes[i >> 3] |= 0x80 >> (i & 7);
  });
  return reader.get(formatIp({ family: ipVersion === 4 ? 4 : 6, bytes }));
}

// ---------------------------------------------------------------------------------------------------------
// Record extraction

function asObject(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function countryCode(v: unknown): string | null {
  if (typeof v !== 'string' || v.length !== 2) return null;
  if (isUpper(v.charCodeAt(0)) && isUpper(v.charCodeAt(1))) return v;
  const c = v.toUpperCase();
  return isUpper(c.charCodeAt(0)) && isUpper(c.charCodeAt(1)) ? c : null;
}

function isUpper(code: number): boolean {
  return code >= 65 && code <= 90;
}

function coordinate(v: unknown, limit: number): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) && n >= -limit && n <= limit ? n : null;
}

function place(country: string | null, subdivision: string | null, lat: number | null, lon: number | null): Place | null {
  if (lat === null || lon === null) lat = lon = null;
  if (country === null && lat === null) return null;
  return { country, subdivision, latitude: lat, longitude: lon };
}

/**
 * GeoIP2/GeoLite2 (and DB-IP's own MMDB files, same layout). `country` only: `registered_country` is where the
 * network is registered, not where it is used (anycast resolvers would land on the operator's home country).
 * The subdivision is the first (largest) one.
 */
function extractMaxmind(record: unknown): Place | null {
  const r = asObject(record);
  if (!r) return null;
  const country = countryCode(asObject(r.country)?.iso_code);
  let subdivision: string | null = null;
  if (Array.isArray(r.subdivisions)) {
    const code = asObject(r.subdivisions[0])?.iso_code;
    if (typeof code === 'string' && code !== '') subdivision = code.toUpperCase();
  }
  const loc = asObject(r.location);
  return place(country, subdivision, coordinate(loc?.latitude, 90), coordinate(loc?.longitude, 180));
}

/**
 * ip-location-db: {country_code, state1, state2, city, postcode, latitude, longitude, timezone}, empty strings
 * for missing values (sapics/ip-location-to-mmdb). state1 is a subdivision *name* (DB-IP data): it becomes an ISO
 * code for US and CA only, the countries whose subdivisions decide the region.
 */
function extractIpLocation(record: unknown): Place | null {
  const r = asObject(record);
  if (!r) return null;
  const country = countryCode(r.country_code);
  const subdivision = country !== null && typeof r.state1 === 'string' ? subdivisionCodeFromName(country, r.state1) : null;
  return place(country, subdivision, float32Coordinate(r.latitude, 90), float32Coordinate(r.longitude, 180));
}

/** ip-location-db stores coordinates as float32: 51.5142 reads back as 51.514198303…; 5 decimals (~1 m) clean it. */
function float32Coordinate(v: unknown, limit: number): number | null {
  const n = coordinate(v, limit);
  return n === null ? null : Math.round(n * 1e5) / 1e5;
}

// ---------------------------------------------------------------------------------------------------------
// Lookup and cache

class CachedGeoIp implements GeoIp {
  readonly databases: GeoIpDatabase[];
  private readonly generation: number;
  // Two generations per family: new entries go to `cur`; when it is full it becomes `old` and the previous
  // `old` is dropped. A hit in `old` is copied forward, so busy clients survive the turnover.
  private v4cur = new Map<number, GeoLocation | null>();
  private v4old = new Map<number, GeoLocation | null>();
  private v6cur = new Map<string, GeoLocation | null>();
  private v6old = new Map<string, GeoLocation | null>();

  constructor(private readonly dbs: OpenDatabase[], cacheSize: number) {
    this.databases = dbs.map(({ path, layout, databaseType, ipVersion }) => ({ path, layout, databaseType, ipVersion }));
    this.generation = Math.max(1, cacheSize >> 1);
  }

  lookup(ip: IpAddr): GeoLocation | null {
    const addr = ip.family === 6 ? unmapIpv4(ip) : ip;
    const b = addr.bytes;
    if (addr.family === 4) {
      // Signed int32 of the address: a small integer for V8 (uint32 values above 2^31 would be heap numbers).
      const key = (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
      let hit = this.v4cur.get(key);
      if (hit !== undefined) return hit;
      hit = this.v4old.get(key);
      if (hit === undefined) hit = this.resolve(addr);
      if (this.v4cur.size >= this.generation) {
        this.v4old = this.v4cur;
        this.v4cur = new Map();
      }
      this.v4cur.set(key, hit);
      return hit;
    }
    const key = String.fromCharCode(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    let hit = this.v6cur.get(key);
    if (hit !== undefined) return hit;
    hit = this.v6old.get(key);
    if (hit === undefined) hit = this.resolve(addr);
    if (this.v6cur.size >= this.generation) {
      this.v6old = this.v6cur;
      this.v6cur = new Map();
    }
    this.v6cur.set(key, hit);
    return hit;
  }

  private resolve(ip: IpAddr): GeoLocation | null {
    const text = formatIp(ip);
    // An earlier database that misses constrains the scope too: the answer holds only where it still misses.
    let scope = 0;
    for (const db of this.dbs) {
      if (db.ipVersion === 4 && ip.family === 6) continue; // an IPv4-only tree would read the top 32 bits
      let record: unknown;
      let prefix: number;
      try {
        [record, prefix] = db.reader.getWithPrefixLength(text);
      } catch {
        continue; // a corrupt part of a file: never an exception on the query path
      }
      if (prefix > scope) scope = prefix;
      if (record === null) continue;
      const p = db.extract(record);
      if (p === null) continue;
      return Object.freeze({
        country: p.country,
        subdivision: p.subdivision,
        region: p.country === null ? null : regionOf(p.country, p.subdivision),
        latitude: p.latitude,
        longitude: p.longitude,
        prefixLength: scope,
      });
    }
    return null;
  }
}
