import {
  REGION_CODES,
  REGION_NAMES,
  isValidCountry,
  isValidRegion,
  parseCountryKey,
  regionOf,
  subdivisionCodeFromName,
} from '../../src/geo/regions';
import countriesData from '../../src/geo/countries-data.json';
import regionsData from '../../src/geo/regions-data.json';

describe('REGION_CODES', () => {
  test('the 13 Cloudflare regions', () => {
    expect([...REGION_CODES].sort()).toEqual(
      ['EEU', 'ENAM', 'ME', 'NAF', 'NEAS', 'NSAM', 'OC', 'SAF', 'SAS', 'SEAS', 'SSAM', 'WEU', 'WNAM'],
    );
    expect(REGION_NAMES.WEU).toBe('Western Europe');
    expect(Object.isFrozen(REGION_CODES)).toBe(true);
  });

  test('isValidRegion', () => {
    for (const r of REGION_CODES) expect(isValidRegion(r)).toBe(true);
    expect(isValidRegion('weu')).toBe(false);
    expect(isValidRegion('EU')).toBe(false);
    expect(isValidRegion('IN')).toBe(false); // the old name of SAS
    expect(isValidRegion('')).toBe(false);
  });
});

describe('regionOf: countries listed in the dump', () => {
  test.each([
    ['GB', 'WEU'], ['FR', 'WEU'], ['NL', 'WEU'], ['IE', 'WEU'],
    ['SE', 'EEU'], ['NO', 'EEU'], ['DK', 'EEU'], ['FI', 'EEU'], ['PL', 'EEU'], ['TR', 'EEU'], ['AT', 'EEU'],
    ['JP', 'NEAS'], ['KR', 'NEAS'], ['HK', 'NEAS'], ['TW', 'NEAS'],
    ['SG', 'SEAS'], ['BD', 'SEAS'], ['BT', 'SEAS'], ['GU', 'SEAS'],
    ['IN', 'SAS'], ['PK', 'SAS'], ['KZ', 'SAS'],
    ['AE', 'ME'], ['IL', 'ME'], ['CY', 'ME'],
    ['EG', 'NAF'], ['NG', 'NAF'], ['GH', 'NAF'],
    ['ZA', 'SAF'], ['KE', 'SAF'], ['RE', 'SAF'],
    ['AU', 'OC'], ['NZ', 'OC'], ['NC', 'OC'],
    ['AR', 'SSAM'], ['CL', 'SSAM'],
    ['CO', 'NSAM'], ['PE', 'NSAM'], ['PA', 'NSAM'],
    ['MX', 'WNAM'],
    ['PR', 'ENAM'], ['JM', 'ENAM'], ['HN', 'ENAM'],
  ])('%s → %s', (country, region) => {
    expect(regionOf(country)).toBe(region);
    expect(regionOf(country, null)).toBe(region);
    expect(regionOf(country, 'XX')).toBe(region); // a subdivision the table does not list changes nothing
  });

  test('every single-region country of the dump maps to that region', () => {
    for (const [c, r] of Object.entries(regionsData.dump)) {
      if (typeof r === 'string') expect([c, regionOf(c)]).toEqual([c, r]);
      else expect(r).toContain(regionOf(c));
    }
  });

  test('lower case input is accepted', () => {
    expect(regionOf('gb')).toBe('WEU');
    expect(regionOf('us', 'ca')).toBe('WNAM');
  });
});

describe('regionOf: US and Canada', () => {
  test.each([
    ['CA', 'WNAM'], ['WA', 'WNAM'], ['TX', 'WNAM'], ['AK', 'WNAM'], ['HI', 'WNAM'], ['CO', 'WNAM'],
    ['NY', 'ENAM'], ['FL', 'ENAM'], ['IL', 'ENAM'], ['VA', 'ENAM'], ['MN', 'ENAM'], ['SD', 'ENAM'],
    ['MO', 'ENAM'], // listed in both: primary ENAM
    // absent from the dump: our fill
    ['ID', 'WNAM'], ['MT', 'WNAM'], ['WY', 'WNAM'], ['KS', 'WNAM'], ['LA', 'WNAM'],
    ['AL', 'ENAM'], ['AR', 'ENAM'], ['CT', 'ENAM'], ['DC', 'ENAM'], ['DE', 'ENAM'], ['IA', 'ENAM'], ['KY', 'ENAM'],
    ['MD', 'ENAM'], ['MS', 'ENAM'], ['ND', 'ENAM'], ['NH', 'ENAM'], ['RI', 'ENAM'], ['SC', 'ENAM'], ['VT', 'ENAM'],
    ['WI', 'ENAM'], ['WV', 'ENAM'],
    ['PR', 'ENAM'], ['VI', 'ENAM'], ['GU', 'SEAS'], ['MP', 'SEAS'], ['AS', 'OC'],
  ])('US-%s → %s', (sub, region) => {
    expect(regionOf('US', sub)).toBe(region);
  });

  test('every US state and DC has an explicit region', () => {
    const states = Object.keys(countriesData.subdivisions.US).filter((s) => !['AS', 'GU', 'MP', 'PR', 'UM', 'VI'].includes(s));
    expect(states).toHaveLength(51);
    const explicit = new Set([
      ...Object.keys(regionsData.dumpSubdivisions.US),
      ...Object.keys(regionsData.subdivisionFill.US),
    ]);
    for (const s of states) expect(explicit.has(s) ? s : `${s} missing`).toBe(s);
  });

  test('US without a subdivision, or with an unknown one → ENAM', () => {
    expect(regionOf('US')).toBe('ENAM');
    expect(regionOf('US', null)).toBe('ENAM');
    expect(regionOf('US', 'UM')).toBe('ENAM');
    expect(regionOf('US', 'ZZ')).toBe('ENAM');
  });

  test.each([
    ['AB', 'WNAM'], ['BC', 'WNAM'], ['NT', 'WNAM'], ['YT', 'WNAM'],
    ['MB', 'ENAM'], ['NS', 'ENAM'], ['ON', 'ENAM'], ['QC', 'ENAM'], ['SK', 'ENAM'],
    ['NB', 'ENAM'], ['NL', 'ENAM'], ['PE', 'ENAM'], ['NU', 'ENAM'],
  ])('CA-%s → %s', (sub, region) => {
    expect(regionOf('CA', sub)).toBe(region);
  });

  test('every Canadian province and territory has an explicit region; no subdivision → ENAM', () => {
    for (const s of Object.keys(countriesData.subdivisions.CA)) {
      const explicit = s in regionsData.dumpSubdivisions.CA || s in regionsData.subdivisionFill.CA;
      expect(explicit ? s : `${s} missing`).toBe(s);
    }
    expect(regionOf('CA')).toBe('ENAM');
  });
});

describe('regionOf: split countries', () => {
  test('one primary region each', () => {
    expect(regionOf('DE')).toBe('WEU');
    expect(regionOf('DE', 'BE')).toBe('WEU'); // no subdivision split outside US/CA/BR-TO
    expect(regionOf('IT')).toBe('WEU');
    expect(regionOf('RU')).toBe('EEU');
    expect(regionOf('RU', 'NVS')).toBe('EEU');
  });

  test('Brazil: SSAM, except Tocantins (the one subdivision the API lists)', () => {
    expect(regionOf('BR')).toBe('SSAM');
    expect(regionOf('BR', 'SP')).toBe('SSAM');
    expect(regionOf('BR', 'TO')).toBe('NSAM');
  });
});

describe('regionOf: countries absent from the dump', () => {
  test.each([
    // fork additions (generate.py EXTRA_REGION_COUNTRIES)
    ['CN', 'NEAS'], ['MT', 'WEU'], ['ET', 'NAF'], ['MW', 'SAF'], ['KG', 'SAS'],
    // the suggested rule of regions.md
    ['MA', 'NAF'], ['LY', 'NAF'], ['SD', 'NAF'], ['CV', 'NAF'],
    ['SO', 'SAF'], ['CM', 'SAF'], ['SZ', 'SAF'], ['YT', 'SAF'],
    ['BS', 'ENAM'], ['CU', 'ENAM'], ['HT', 'ENAM'], ['BM', 'ENAM'], ['GP', 'ENAM'], ['VI', 'ENAM'],
    ['BZ', 'NSAM'], ['SV', 'NSAM'], ['NI', 'NSAM'], ['VE', 'NSAM'], ['GF', 'NSAM'],
    ['UY', 'SSAM'], ['FK', 'SSAM'],
    ['AD', 'WEU'], ['MC', 'WEU'], ['LI', 'WEU'], ['GI', 'WEU'], ['FO', 'WEU'], ['JE', 'WEU'], ['IM', 'WEU'], ['VA', 'WEU'],
    ['BA', 'EEU'], ['ME', 'EEU'], ['XK', 'EEU'], ['SI', 'EEU'], ['AX', 'EEU'], ['SJ', 'EEU'],
    ['IR', 'ME'], ['SY', 'ME'], ['YE', 'ME'],
    ['TJ', 'SAS'], ['TM', 'SAS'], ['UZ', 'SAS'], ['AF', 'SAS'],
    ['KP', 'NEAS'],
    ['MM', 'SEAS'], ['TL', 'SEAS'], ['MP', 'SEAS'], ['FM', 'SEAS'], ['PW', 'SEAS'], ['MH', 'SEAS'],
    ['PG', 'OC'], ['WS', 'OC'], ['TO', 'OC'], ['AS', 'OC'], ['CX', 'OC'], ['CC', 'OC'],
    // our additions: not in the rule
    ['GL', 'ENAM'], ['PM', 'ENAM'],
  ])('%s → %s', (country, region) => {
    expect(regionOf(country)).toBe(region);
  });

  test.each(['AQ', 'BV', 'HM', 'TF', 'GS', 'IO', 'UM'])('%s (Antarctic and uninhabited) → null', (c) => {
    expect(regionOf(c)).toBeNull();
  });

  test('unknown codes → null', () => {
    expect(regionOf('ZZ')).toBeNull();
    expect(regionOf('EU')).toBeNull();
    expect(regionOf('')).toBeNull();
    expect(regionOf('ZZ', 'CA')).toBeNull();
  });

  test('every ISO 3166-1 country is decided explicitly (a region or a deliberate null)', () => {
    const nulls = new Set(regionsData.noRegion);
    for (const c of countriesData.countries) {
      const r = regionOf(c);
      if (r === null) expect(nulls.has(c) ? c : `${c} has no rule`).toBe(c);
      else expect(isValidRegion(r)).toBe(true);
    }
  });
});

describe('isValidCountry', () => {
  test('ISO 3166-1 alpha-2, upper case', () => {
    expect(countriesData.countries).toHaveLength(250);
    for (const c of ['US', 'GB', 'AQ', 'XK', 'JP', 'ZW', 'AX']) expect(isValidCountry(c)).toBe(true);
    for (const c of ['UK', 'EU', 'ZZ', 'us', 'USA', '', 'U', 'US-CA']) expect(isValidCountry(c)).toBe(false);
  });
});

describe('parseCountryKey', () => {
  test('country keys', () => {
    expect(parseCountryKey('US')).toEqual({ country: 'US', subdivision: null });
    expect(parseCountryKey('GB')).toEqual({ country: 'GB', subdivision: null });
  });

  test('subdivision keys', () => {
    expect(parseCountryKey('US-CA')).toEqual({ country: 'US', subdivision: 'CA' });
    expect(parseCountryKey('CA-QC')).toEqual({ country: 'CA', subdivision: 'QC' });
    expect(parseCountryKey('GB-ENG')).toEqual({ country: 'GB', subdivision: 'ENG' });
    expect(parseCountryKey('JP-13')).toEqual({ country: 'JP', subdivision: '13' });
    expect(parseCountryKey('DE-HE')).toEqual({ country: 'DE', subdivision: 'HE' });
  });

  test.each(['', 'us', 'us-ca', 'UK', 'UK-ENG', 'US-', 'US-CAL', 'US-XX', 'CA-ZZ', 'GB-ENGL', 'GB-E.G', '-CA', 'US-CA-X', 'USA'])(
    '%j is rejected',
    (key) => {
      expect(parseCountryKey(key)).toBeNull();
    },
  );
});

describe('subdivisionCodeFromName (ip-location-db state1)', () => {
  test.each([
    ['US', 'California', 'CA'],
    ['US', 'Washington', 'WA'],
    ['US', 'New York', 'NY'],
    ['US', 'District of Columbia', 'DC'],
    ['US', 'Washington, D.C.', 'DC'],
    ['US', 'new  york', 'NY'],
    ['CA', 'Quebec', 'QC'],
    ['CA', 'Québec', 'QC'],
    ['CA', 'Newfoundland and Labrador', 'NL'],
    ['CA', 'Yukon', 'YT'],
  ])('%s %s → %s', (country, name, code) => {
    expect(subdivisionCodeFromName(country, name)).toBe(code);
  });

  test('unknown names and other countries → null', () => {
    expect(subdivisionCodeFromName('US', '')).toBeNull();
    expect(subdivisionCodeFromName('US', 'Atlantis')).toBeNull();
    expect(subdivisionCodeFromName('GB', 'England')).toBeNull();
    expect(subdivisionCodeFromName('CA', 'California')).toBeNull();
  });
});
