// Great-circle distance for proximity steering (docs/decisions.md §1.5), via geolib.
//
// geolib's getDistance (spherical law of cosines on a sphere of the WGS-84 equatorial radius) rather than
// getPreciseDistance (Vincenty on the ellipsoid): steering only ranks pools, and the sphere is within ~0.5 %
// of the ellipsoid, while Vincenty's iteration fails to converge near antipodes (geolib 3.3.14 returns NaN
// for (0,0)–(0.5,179.7)). Both cost ~2 µs per call (geolib parses its inputs generically), so a caller on the
// query path should compute a client's pool order once per GeoLocation — GeoIp.lookup returns the same frozen
// object for every address of a cached network, which makes it a good WeakMap key.
import { getDistance } from 'geolib';

/** Distance in kilometres between two points given in decimal degrees (metre precision). */
export function distanceKm(aLat: number, aLon: number, bLat: number, bLon: number): number {
  return getDistance({ latitude: aLat, longitude: aLon }, { latitude: bLat, longitude: bLon }, 1) / 1000;
}

export function isValidLatitude(lat: number): boolean {
  return typeof lat === 'number' && Number.isFinite(lat) && lat >= -90 && lat <= 90;
}

export function isValidLongitude(lon: number): boolean {
  return typeof lon === 'number' && Number.isFinite(lon) && lon >= -180 && lon <= 180;
}

/**
 * Null when (lat, lon) is a usable coordinate pair, else a message for config validation
 * ("latitude 91 is outside [-90, 90]").
 */
export function coordinateError(lat: unknown, lon: unknown): string | null {
  if (typeof lat !== 'number' || !Number.isFinite(lat)) return `latitude must be a number, got ${describe(lat)}`;
  if (typeof lon !== 'number' || !Number.isFinite(lon)) return `longitude must be a number, got ${describe(lon)}`;
  if (!isValidLatitude(lat)) return `latitude ${lat} is outside [-90, 90]`;
  if (!isValidLongitude(lon)) return `longitude ${lon} is outside [-180, 180]`;
  return null;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return String(v);
  return v === null ? 'null' : typeof v;
}
