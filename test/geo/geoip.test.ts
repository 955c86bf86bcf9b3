import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { detectLayout, openGeoIp } from '../../src/geo/geoip';
import type { GeoIp, GeoLocation } from '../../src/geo/geoip';
import { regionOf } from '../../src/geo/regions';
import { parseCidr, parseIp } from '../../src/util/ip';
import type { IpAddr } from '../../src/util/ip';

const DIR = join(__dirname, '../../geoip/test');
const db = (name: string): string => join(DIR, name);

interface TestNetwork {
  network: string;
  country: string;
  subdivision: string | null;
  latitude: number;
  longitude: number;
  only?: string[];
}
const NETWORKS = (JSON.parse(readFileSync(db('networks.json'), 'utf8')) as { networks: TestNetwork[] }).networks;

function ip(text: string): IpAddr {
  const a = parseIp(text);
  if (!a) throw new Error(`bad test address ${text}`);
  return a;
}

/** The first and the last address of a network, plus one in the middle. */
function samples(network: string): IpAddr[] {
  const c = parseCidr(network);
  if (!c) throw new Error(`bad test network ${network}`);
  const first = Uint8Array.from(c.bytes);
  first[first.length - 1] |= 1;
  const last = Uint8Array.from(c.bytes);
  const bits = last.length * 8;
  for (let i = c.prefix; i < bits; i++) last[i >> 3] |= 0x80 >> (i & 7);
  const mid = Uint8Array.from(c.bytes);
  mid[mid.length - 1] |= 0x2a;
  return [first, mid, last].map((bytes) => ({ family: c.family, bytes }));
}

function prefixOf(network: string): number {
  return Number(network.split('/')[1]);
}

type Expect = (n: TestNetwork) => Partial<GeoLocation>;

const LAYOUTS: { name: string; files: string[]; layout: string; inFile: (n: TestNetwork) => boolean; expect: Expect }[] = [
  {
    name: 'GeoIP2-City',
    files: ['city.mmdb'],
    layout: 'maxmind-city',
    inFile: (n) => !n.only || n.only.includes('city.mmdb'),
    expect: (n) => ({ country: n.country, subdivision: n.subdivision, latitude: n.latitude, longitude: n.longitude }),
  },
  {
    name: 'GeoIP2-Country',
    files: ['country.mmdb'],
    layout: 'maxmind-country',
    inFile: (n) => !n.only || n.only.includes('country.mmdb'),
    expect: (n) => ({ country: n.country, subdivision: null, latitude: null, longitude: null }),
  },
  {
    name: 'ip-location-db, one tree',
    files: ['iplocation.mmdb'],
    layout: 'ip-location-db',
    inFile: (n) => !n.only,
    // state1 is a name: only US and CA subdivisions become codes.
    expect: (n) => ({
      country: n.country,
      subdivision: n.country === 'US' || n.country === 'CA' ? n.subdivision : null,
      latitude: n.latitude,
      longitude: n.longitude,
    }),
  },
  {
    name: 'ip-location-db, separate IPv4 and IPv6 files',
    files: ['iplocation-ipv4.mmdb', 'iplocation-ipv6.mmdb'],
    layout: 'ip-location-db',
    inFile: (n) => !n.only,
    expect: (n) => ({
      country: n.country,
      subdivision: n.country === 'US' || n.country === 'CA' ? n.subdivision : null,
      latitude: n.latitude,
      longitude: n.longitude,
    }),
  },
];

const UNMAPPED = [
  '127.0.0.1',
  '127.0.0.255',
  '127.0.7.1',
  '::1',
  '::',
  '0.0.0.0',
  '8.8.8.8',
  '81.2.70.1',
  '198.51.100.128', // just past the /25
  '198.51.100.255',
  '4.255.255.255',
  '6.0.0.0',
  '2001:db8::1',
  '2001:db8:300::1',
  '2001:db8:101::1',
  '2a00:1450::1',
];

describe.each(LAYOUTS)('$name', ({ files, layout, inFile, expect: expected }) => {
  let geo: GeoIp;
  beforeAll(() => {
    geo = openGeoIp(files.map(db));
  });

  test('detects the layout', () => {
    expect(geo.databases.map((d) => d.layout)).toEqual(files.map(() => layout));
    expect(geo.databases.map((d) => d.path)).toEqual(files.map(db));
  });

  test.each(NETWORKS.filter(inFile).map((n) => [n.network, n] as const))('%s', (_name, n) => {
    const want = expected(n);
    for (const a of samples(n.network)) {
      const got = geo.lookup(a);
      expect(got).not.toBeNull();
      if (!got) return;
      expect(got.country).toBe(want.country);
      expect(got.subdivision).toBe(want.subdivision);
      expect(got.region).toBe(regionOf(n.country, want.subdivision));
      if (want.latitude === null) {
        expect(got.latitude).toBeNull();
        expect(got.longitude).toBeNull();
      } else {
        expect(got.latitude).toBeCloseTo(n.latitude, 4);
        expect(got.longitude).toBeCloseTo(n.longitude, 4);
      }
      expect(got.prefixLength).toBe(prefixOf(n.network));
    }
  });

  test.each(UNMAPPED)('%s is unmapped', (a) => {
    expect(geo.lookup(ip(a))).toBeNull();
  });
});

describe('lookups', () => {
  const city = openGeoIp([db('city.mmdb')]);

  test('prefix length of the deciding network (the ECS scope)', () => {
    expect(city.lookup(ip('5.0.0.1'))?.prefixLength).toBe(8);
    expect(city.lookup(ip('5.200.3.4'))?.prefixLength).toBe(8);
    expect(city.lookup(ip('198.51.100.7'))?.prefixLength).toBe(25);
    expect(city.lookup(ip('81.2.69.1'))?.prefixLength).toBe(24);
    expect(city.lookup(ip('2001:db8:100::1'))?.prefixLength).toBe(48);
    expect(city.lookup(ip('2001:db8:200:ffff::1'))?.prefixLength).toBe(48);
  });

  test('known answers', () => {
    expect(city.lookup(ip('81.2.69.160'))).toEqual({
      country: 'GB', subdivision: 'ENG', region: 'WEU', latitude: 51.5142, longitude: -0.0931, prefixLength: 24,
    });
    expect(city.lookup(ip('216.160.83.56'))).toMatchObject({ country: 'US', subdivision: 'WA', region: 'WNAM' });
    expect(city.lookup(ip('67.43.156.1'))).toMatchObject({ country: 'US', subdivision: 'NY', region: 'ENAM' });
    expect(city.lookup(ip('1.0.16.1'))).toMatchObject({ country: 'JP', subdivision: '13', region: 'NEAS' });
    expect(city.lookup(ip('89.160.20.112'))).toMatchObject({ country: 'SE', subdivision: 'AB', region: 'EEU' });
    expect(city.lookup(ip('203.0.113.9'))).toMatchObject({ country: 'BR', subdivision: 'SP', region: 'SSAM' });
    expect(city.lookup(ip('100.64.7.9'))).toEqual({
      country: 'AQ', subdivision: null, region: null, latitude: -75, longitude: 0, prefixLength: 24,
    });
    expect(city.lookup(ip('127.0.1.1'))).toMatchObject({ country: 'GB', region: 'WEU' });
    expect(city.lookup(ip('127.0.2.1'))).toMatchObject({ country: 'JP', region: 'NEAS' });
    expect(city.lookup(ip('127.0.3.1'))).toMatchObject({ country: 'US', subdivision: 'CA', region: 'WNAM' });
    expect(city.lookup(ip('127.0.4.1'))).toMatchObject({ country: 'DE', subdivision: 'HE', region: 'WEU' });
    expect(city.lookup(ip('127.0.5.1'))).toMatchObject({ country: 'US', subdivision: 'NY', region: 'ENAM' });
    expect(city.lookup(ip('127.0.6.1'))).toMatchObject({ country: 'CA', subdivision: 'QC', region: 'ENAM' });
  });

  test('IPv4-mapped IPv6 addresses are looked up as IPv4 (prefix in IPv4 terms)', () => {
    const v4 = city.lookup(ip('5.1.2.3'));
    const mapped = city.lookup(ip('::ffff:5.1.2.3'));
    expect(mapped).toBe(v4);
    expect(mapped?.prefixLength).toBe(8);
    expect(city.lookup(ip('::ffff:127.0.0.1'))).toBeNull();
  });

  test('6to4 addresses resolve through the aliased IPv4 tree (prefix in IPv6 terms)', () => {
    expect(city.lookup(ip('2002:500:1::1'))).toMatchObject({ country: 'NL', prefixLength: 24 });
  });

  test('an IPv4-only database is not asked about IPv6 addresses', () => {
    // 2001:db8:100::1 read as IPv4 would be 32.1.13.184; 0x0500:: would be 5.0.0.0 (NL).
    const v4only = openGeoIp([db('iplocation-ipv4.mmdb')]);
    expect(v4only.lookup(ip('2001:db8:100::1'))).toBeNull();
    expect(v4only.lookup(ip('500::1'))).toBeNull();
    expect(v4only.lookup(ip('5.0.0.1'))).toMatchObject({ country: 'NL', prefixLength: 8 });
  });
});

describe('cache', () => {
  test('returns the identical frozen object on a repeat', () => {
    const geo = openGeoIp([db('city.mmdb')]);
    const a = geo.lookup(ip('81.2.69.1'));
    expect(a).not.toBeNull();
    expect(geo.lookup(ip('81.2.69.1'))).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    const b = geo.lookup(ip('2001:db8:100::7'));
    expect(geo.lookup(ip('2001:db8:100::7'))).toBe(b);
    expect(geo.lookup(ip('127.0.0.1'))).toBeNull();
    expect(geo.lookup(ip('127.0.0.1'))).toBeNull();
    expect(geo.lookup(ip('::1'))).toBeNull();
    expect(geo.lookup(ip('::1'))).toBeNull();
  });

  test('gives the same answers as an uncached pass, across evictions', () => {
    const tiny = openGeoIp([db('city.mmdb')], { cacheSize: 4 });
    const reference = openGeoIp([db('city.mmdb')]);
    const addrs: IpAddr[] = [...NETWORKS.flatMap((n) => samples(n.network)), ...UNMAPPED.map(ip)];
    for (const a of [...addrs, ...[...addrs].reverse(), ...addrs]) {
      expect(tiny.lookup(a)).toEqual(reference.lookup(a));
    }
  });

  test('keys do not collide between IPv4 and IPv6 or between addresses', () => {
    const geo = openGeoIp([db('city.mmdb')]);
    const v4 = geo.lookup(ip('5.0.0.1'));
    expect(v4).toMatchObject({ country: 'NL', prefixLength: 8 });
    // ::5.0.0.1 is not IPv4-mapped: an IPv6 lookup (the tree keeps IPv4 at ::/96), its own key, IPv6 prefix.
    const compat = geo.lookup(ip('::500:1'));
    expect(compat).toMatchObject({ country: 'NL', prefixLength: 104 });
    expect(compat).not.toBe(v4);
    expect(geo.lookup(ip('255.255.255.255'))).toBeNull();
    expect(geo.lookup(ip('216.160.83.1'))?.country).toBe('US'); // high bit set: negative int32 key
    expect(geo.lookup(ip('1.0.16.1'))?.country).toBe('JP');
  });
});

describe('several databases', () => {
  test('first hit wins, in the order given', () => {
    const countryFirst = openGeoIp([db('country.mmdb'), db('city.mmdb')]);
    expect(countryFirst.lookup(ip('81.2.69.1'))).toMatchObject({ country: 'GB', latitude: null });
    const cityFirst = openGeoIp([db('city.mmdb'), db('country.mmdb')]);
    expect(cityFirst.lookup(ip('81.2.69.1'))).toMatchObject({ country: 'GB', latitude: 51.5142 });
    expect(cityFirst.databases.map((d) => d.layout)).toEqual(['maxmind-city', 'maxmind-country']);
  });

  test('a later database answers what an earlier one misses', () => {
    const geo = openGeoIp([db('city.mmdb'), db('country.mmdb')]);
    expect(geo.lookup(ip('198.18.2.1'))).toMatchObject({ country: 'ES', subdivision: 'MD', prefixLength: 24 });
    // city.mmdb has nothing in 198.18.3.0/24 (its miss is that /24); country.mmdb has 198.18.0.0/16 → FR.
    // Only the /24 is sure to get FR: 198.18.2.0/24 answers ES.
    expect(geo.lookup(ip('198.18.3.1'))).toMatchObject({ country: 'FR', region: 'WEU', prefixLength: 24 });
    expect(openGeoIp([db('country.mmdb')]).lookup(ip('198.18.3.1'))?.prefixLength).toBe(16);
  });

  test('mixed layouts', () => {
    const geo = openGeoIp([db('iplocation-ipv6.mmdb'), db('iplocation-ipv4.mmdb'), db('city.mmdb')]);
    expect(geo.lookup(ip('2001:db8:200::1'))).toMatchObject({ country: 'JP', subdivision: null });
    expect(geo.lookup(ip('1.0.16.1'))).toMatchObject({ country: 'JP', subdivision: null });
    expect(geo.lookup(ip('198.18.2.1'))).toMatchObject({ country: 'ES', subdivision: 'MD' });
  });
});

describe('opening', () => {
  test('metadata is reported', () => {
    const geo = openGeoIp([db('city.mmdb'), db('iplocation-ipv4.mmdb'), db('iplocation.mmdb')]);
    expect(geo.databases).toEqual([
      { path: db('city.mmdb'), layout: 'maxmind-city', databaseType: 'GeoIP2-City', ipVersion: 6 },
      { path: db('iplocation-ipv4.mmdb'), layout: 'ip-location-db', databaseType: 'city ipv4', ipVersion: 4 },
      { path: db('iplocation.mmdb'), layout: 'ip-location-db', databaseType: 'ip-location-db-dbip-city', ipVersion: 6 },
    ]);
  });

  test('a missing file', () => {
    expect(() => openGeoIp([db('city.mmdb'), db('missing.mmdb')])).toThrow(/missing\.mmdb: cannot read it \(ENOENT/);
  });

  test('a file that is not an MMDB database', () => {
    expect(() => openGeoIp([db('networks.json')])).toThrow(/networks\.json: not a MaxMind DB/);
    expect(() => openGeoIp([join(DIR, '../README.md')])).toThrow(/not a MaxMind DB/);
  });

  test('a directory', () => {
    expect(() => openGeoIp([DIR])).toThrow(/cannot read it/);
  });

  test('a gzip-compressed download, a corrupt file', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'steerdns-geo-'));
    try {
      const city = readFileSync(db('city.mmdb'));
      writeFileSync(join(tmp, 'city.mmdb.gz'), gzipSync(city));
      expect(() => openGeoIp([join(tmp, 'city.mmdb.gz')])).toThrow(/gzip-compressed; decompress it/);
      const corrupt = Buffer.from(city);
      corrupt.fill(0xff, 300, 1200); // search tree records now point past the data section
      writeFileSync(join(tmp, 'corrupt.mmdb'), corrupt);
      expect(() => openGeoIp([join(tmp, 'corrupt.mmdb')])).toThrow(/corrupt\.mmdb: corrupt/);
      writeFileSync(join(tmp, 'empty.mmdb'), Buffer.alloc(0));
      expect(() => openGeoIp([join(tmp, 'empty.mmdb')])).toThrow(/empty\.mmdb: not a MaxMind DB/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('a database of an unknown layout (ASN records)', () => {
    expect(() => openGeoIp([db('asn.mmdb')])).toThrow(/asn\.mmdb \(type "steerdns-test-data"\): unknown layout/);
  });

  test('no file, bad cache size', () => {
    expect(() => openGeoIp([])).toThrow(/no database/);
    expect(() => openGeoIp([db('city.mmdb')], { cacheSize: 0 })).toThrow(/cacheSize/);
  });
});

describe('detectLayout', () => {
  const maxmindCity = { country: { iso_code: 'FR' }, location: { latitude: 1, longitude: 2 } };
  const maxmindCountry = { continent: { code: 'EU' }, country: { iso_code: 'FR' } };
  const flat = { country_code: 'FR', state1: '', state2: '', city: '', postcode: '', timezone: '' };

  test.each([
    ['GeoIP2-City', maxmindCity, 'maxmind-city'],
    ['GeoLite2-City', undefined, 'maxmind-city'],
    ['GeoIP2-Enterprise', maxmindCity, 'maxmind-city'],
    ['DBIP-City-Lite', maxmindCity, 'maxmind-city'],
    ['GeoIP2-Country', maxmindCountry, 'maxmind-country'],
    ['GeoLite2-Country', maxmindCountry, 'maxmind-country'],
    ['DBIP-Country-Lite', { country: { iso_code: 'FR' } }, 'maxmind-country'],
    ['city ipv4', flat, 'ip-location-db'],
    ['city ipv6', { ...flat, latitude: 1, longitude: 2 }, 'ip-location-db'],
    ['country ipv4', { country_code: 'FR' }, 'ip-location-db'],
    ['ip-location-db-dbip-city', flat, 'ip-location-db'],
    // Unclear names: the record decides.
    ['My-Geo-Data', maxmindCity, 'maxmind-city'],
    ['My-Geo-Data', { subdivisions: [{ iso_code: 'ENG' }], country: { iso_code: 'GB' } }, 'maxmind-city'],
    ['My-Geo-Data', maxmindCountry, 'maxmind-country'],
    ['My-Geo-Data', { registered_country: { iso_code: 'FR' } }, 'maxmind-country'],
    ['My-Geo-Data', flat, 'ip-location-db'],
  ])('%s %j → %s', (type, probe, want) => {
    expect(detectLayout(type, probe)).toBe(want);
  });

  test.each([
    ['GeoLite2-ASN', { autonomous_system_number: 1 }, /not a location database/],
    ['GeoIP2-ISP', undefined, /not a location database/],
    ['GeoIP2-Anonymous-IP', { is_anonymous: true }, /not a location database/],
    ['My-Geo-Data', { autonomous_system_number: 1 }, /unknown layout/],
    ['My-Geo-Data', undefined, /no record to inspect/],
    ['My-Geo-Data', 'a string', /unknown layout/],
    ['GeoIP2-City', flat, /says maxmind-city but its records/],
    ['city ipv4', maxmindCity, /says ip-location-db but its records/],
  ])('%s %j is rejected', (type, probe, message) => {
    const got = detectLayout(type, probe);
    expect(typeof got).toBe('object');
    if (typeof got === 'object') expect(got.error).toMatch(message);
  });
});
