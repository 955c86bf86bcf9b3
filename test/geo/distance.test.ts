import { getDistance } from 'geolib';
import { coordinateError, distanceKm, isValidLatitude, isValidLongitude } from '../../src/geo/distance';

describe('distanceKm', () => {
  test('London – New York ≈ 5570 km', () => {
    const d = distanceKm(51.5074, -0.1278, 40.7128, -74.006);
    expect(d).toBeGreaterThan(5540);
    expect(d).toBeLessThan(5600);
  });

  test('known pairs', () => {
    expect(distanceKm(50.1109, 8.6821, 52.3676, 4.9041)).toBeCloseTo(365, -1); // Frankfurt – Amsterdam
    expect(distanceKm(35.6895, 139.6917, -33.8688, 151.2093)).toBeCloseTo(7830, -2); // Tokyo – Sydney
    expect(distanceKm(34.0522, -118.2437, 40.7128, -74.006)).toBeCloseTo(3940, -2); // Los Angeles – New York
  });

  test('zero, symmetric, antipodes, the date line', () => {
    expect(distanceKm(10, 20, 10, 20)).toBe(0);
    expect(distanceKm(1, 2, 3, 4)).toBe(distanceKm(3, 4, 1, 2));
    const halfCircumference = Math.PI * 6378.137;
    expect(distanceKm(0, 0, 0, 180)).toBeCloseTo(halfCircumference, 0);
    expect(distanceKm(0, 0, 0.5, 179.7)).toBeGreaterThan(19_900); // where Vincenty gives NaN
    expect(distanceKm(0, 179.9, 0, -179.9)).toBeLessThan(23);
    expect(distanceKm(90, 0, 90, 123)).toBe(0);
  });

  test('is geolib getDistance, in km', () => {
    const a = { latitude: -23.5505, longitude: -46.6333 };
    const b = { latitude: 59.3293, longitude: 18.0686 };
    expect(distanceKm(a.latitude, a.longitude, b.latitude, b.longitude)).toBe(getDistance(a, b) / 1000);
  });

  test('orders pools by proximity', () => {
    const client = { lat: 51.5142, lon: -0.0931 }; // London
    const pools = { fra: [50.1109, 8.6821], iad: [38.9445, -77.4558], nrt: [35.7647, 140.3864] };
    const order = Object.entries(pools)
      .sort(([, a], [, b]) => distanceKm(client.lat, client.lon, a[0], a[1]) - distanceKm(client.lat, client.lon, b[0], b[1]))
      .map(([k]) => k);
    expect(order).toEqual(['fra', 'iad', 'nrt']);
  });
});

describe('coordinate validation', () => {
  test('ranges', () => {
    for (const v of [-90, 0, 45.5, 90]) expect(isValidLatitude(v)).toBe(true);
    for (const v of [-90.0001, 90.1, 180, NaN, Infinity]) expect(isValidLatitude(v)).toBe(false);
    for (const v of [-180, 0, 179.99, 180]) expect(isValidLongitude(v)).toBe(true);
    for (const v of [-180.5, 181, NaN, -Infinity]) expect(isValidLongitude(v)).toBe(false);
  });

  test('coordinateError messages', () => {
    expect(coordinateError(52.31, 4.76)).toBeNull();
    expect(coordinateError(-90, 180)).toBeNull();
    expect(coordinateError(91, 0)).toBe('latitude 91 is outside [-90, 90]');
    expect(coordinateError(0, -181)).toBe('longitude -181 is outside [-180, 180]');
    expect(coordinateError('52.3', 4)).toBe('latitude must be a number, got "52.3"');
    expect(coordinateError(52, null)).toBe('longitude must be a number, got null');
    expect(coordinateError(undefined, 1)).toBe('latitude must be a number, got undefined');
    expect(coordinateError(NaN, 1)).toBe('latitude must be a number, got NaN');
  });
});
