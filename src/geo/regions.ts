// Country (and US/CA subdivision) → Cloudflare load-balancing region, ISO code validation.
// Data: regions-data.json (built from spec/regions.md) and countries-data.json (Debian iso-codes).
// The rules for what the public dump leaves open are in ./README.md.
import countriesData from './countries-data.json';
import regionsData from './regions-data.json';

interface RegionsData {
  regions: Record<string, string>;
  /** regions.json as dumped: one region, or several for a split country. */
  dump: Record<string, string | string[]>;
  /** Our primary region for countries the dump lists in two regions. */
  splitPrimary: Record<string, string>;
  dumpSubdivisions: Record<string, Record<string, string | string[]>>;
  /** "US-MO" → region, for subdivisions the dump lists in two regions. */
  subdivisionPrimary: Record<string, string>;
  /** Our choice for US/CA subdivisions absent from the dump. */
  subdivisionFill: Record<string, Record<string, string>>;
  forkAdditions: Record<string, string>;
  unlistedRule: Record<string, string>;
  unlistedExtra: Record<string, string>;
  noRegion: string[];
}

interface CountriesData {
  countries: string[];
  subdivisions: Record<string, Record<string, string>>;
  aliases: Record<string, Record<string, string>>;
}

const REGIONS: RegionsData = regionsData;
const COUNTRIES: CountriesData = countriesData;

/** The 13 Cloudflare load-balancing region codes. */
export const REGION_CODES: readonly string[] = Object.freeze(Object.keys(REGIONS.regions));

/** Region code → English name ("WEU" → "Western Europe"). */
export const REGION_NAMES: Readonly<Record<string, string>> = Object.freeze({ ...REGIONS.regions });

const regionSet = new Set(REGION_CODES);
const countrySet = new Set(COUNTRIES.countries);

function pick(value: string | string[], primary: string | undefined, what: string): string {
  if (typeof value === 'string') return value;
  if (primary === undefined || !value.includes(primary)) {
    throw new Error(`regions-data.json: ${what} is listed in ${value.join(', ')} but has no primary region`);
  }
  return primary;
}

/** Country → region, every rule folded in (precedence as in regions-data.json `_about`). */
const countryRegion = new Map<string, string | null>();
/** "US" → "CA" → region. Nested rather than "US-CA" keys: no string building per call. */
const subdivisionRegion = new Map<string, Map<string, string>>();

function setSubdivision(country: string, subdivision: string, region: string): void {
  let m = subdivisionRegion.get(country);
  if (!m) subdivisionRegion.set(country, (m = new Map()));
  m.set(subdivision, region);
}

function build(): void {
  for (const c of REGIONS.noRegion) countryRegion.set(c, null);
  for (const table of [REGIONS.unlistedExtra, REGIONS.unlistedRule, REGIONS.forkAdditions]) {
    for (const [c, r] of Object.entries(table)) countryRegion.set(c, r);
  }
  for (const [c, v] of Object.entries(REGIONS.dump)) countryRegion.set(c, pick(v, REGIONS.splitPrimary[c], c));
  for (const [c, subs] of Object.entries(REGIONS.subdivisionFill)) {
    for (const [s, r] of Object.entries(subs)) setSubdivision(c, s, r);
  }
  for (const [c, subs] of Object.entries(REGIONS.dumpSubdivisions)) {
    for (const [s, v] of Object.entries(subs)) {
      const key = `${c}-${s}`;
      setSubdivision(c, s, pick(v, REGIONS.subdivisionPrimary[key], key));
    }
  }
  const all = [...countryRegion.values(), ...[...subdivisionRegion.values()].flatMap((m) => [...m.values()])];
  for (const r of all) {
    if (r !== null && !regionSet.has(r)) throw new Error(`regions-data.json: unknown region ${r}`);
  }
}
build();

/**
 * The load-balancer region of a client in `country` (ISO 3166-1 alpha-2) and optional `subdivision`
 * (ISO 3166-2 suffix, e.g. "CA" for US-CA). Subdivisions decide only where the table has them (US, CA, BR-TO).
 * Null when the country has no region (Antarctica and the like, or an unknown code): callers use default pools.
 */
export function regionOf(country: string, subdivision?: string | null): string | null {
  // Called once per GeoIP cache miss with upper-case codes: try them as given before normalizing.
  let subs = subdivisionRegion.get(country);
  let r = countryRegion.get(country);
  if (r === undefined && subs === undefined) {
    country = country.toUpperCase();
    subs = subdivisionRegion.get(country);
    r = countryRegion.get(country);
  }
  if (subs !== undefined && subdivision) {
    const s = subs.get(subdivision) ?? subs.get(subdivision.toUpperCase());
    if (s !== undefined) return s;
  }
  return r ?? null;
}

export function isValidRegion(code: string): boolean {
  return regionSet.has(code);
}

/** ISO 3166-1 alpha-2 (upper case, as configs and GeoIP databases spell it), plus XK (Kosovo). */
export function isValidCountry(code: string): boolean {
  return countrySet.has(code);
}

const SUBDIVISION_FORMAT = /^[A-Z0-9]{1,3}$/;

/**
 * Parses a `country_pools` key: "US" → {country: 'US', subdivision: null}, "US-CA" → {country: 'US',
 * subdivision: 'CA'}. Upper case only. The country must be a valid ISO 3166-1 code; the subdivision must look
 * like an ISO 3166-2 suffix (1–3 letters/digits) and, for US and CA, be one of their ISO 3166-2 codes (the
 * only countries whose subdivisions change the region, so a typo there would silently steer wrong).
 */
export function parseCountryKey(key: string): { country: string; subdivision: string | null } | null {
  const dash = key.indexOf('-');
  const country = dash < 0 ? key : key.slice(0, dash);
  if (!isValidCountry(country)) return null;
  if (dash < 0) return { country, subdivision: null };
  const subdivision = key.slice(dash + 1);
  if (!SUBDIVISION_FORMAT.test(subdivision)) return null;
  const known = COUNTRIES.subdivisions[country];
  if (known && !Object.prototype.hasOwnProperty.call(known, subdivision)) return null;
  return { country, subdivision };
}

/** Lower case, accents and punctuation dropped: "Québec" and "quebec" meet. */
function normalizeName(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

const subdivisionByName = new Map<string, string>();
for (const [country, subs] of Object.entries(COUNTRIES.subdivisions)) {
  for (const [code, name] of Object.entries(subs)) {
    subdivisionByName.set(`${country}:${normalizeName(name)}`, code);
    subdivisionByName.set(`${country}:${code.toLowerCase()}`, code);
  }
}
for (const [country, aliases] of Object.entries(COUNTRIES.aliases)) {
  for (const [name, code] of Object.entries(aliases)) subdivisionByName.set(`${country}:${normalizeName(name)}`, code);
}

/**
 * ISO 3166-2 suffix for a subdivision given by name ("California" → "CA"), as ip-location-db's `state1`
 * carries it. Known for US and CA only (the subdivisions that matter for regions); null otherwise.
 */
export function subdivisionCodeFromName(country: string, name: string): string | null {
  if (!name) return null;
  return subdivisionByName.get(`${country}:${normalizeName(name)}`) ?? null;
}
