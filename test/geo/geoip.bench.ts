// Lookup throughput of GeoIp (not a jest test). Run:
//   npx tsc -p tsconfig.json --outDir /tmp/steerdns-bench && node /tmp/steerdns-bench/test/geo/geoip.bench.js
// from the project root (NODE_PATH=$PWD/node_modules when the output is outside it).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Reader } from 'maxmind';
import type { CityResponse } from 'maxmind';
import { openGeoIp } from '../../src/geo/geoip';
import type { IpAddr } from '../../src/util/ip';

const path = join(process.cwd(), 'geoip/test/city.mmdb');

function v4(a: number): IpAddr {
  return { family: 4, bytes: Uint8Array.of(a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255) };
}
function v6(i: number): IpAddr {
  const bytes = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0, 0, 0, 0, 0, 0, (i >>> 24) & 255, (i >>> 16) & 255, (i >>> 8) & 255, i & 255);
  return { family: 6, bytes };
}

function rate(name: string, n: number, body: (i: number) => unknown): void {
  let sink = 0;
  for (let i = 0; i < Math.min(n, 20_000); i++) if (body(i) !== null) sink++; // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (body(i) !== null) sink++;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`${name.padEnd(58)} ${(n / s / 1e6).toFixed(2).padStart(6)} M/s  (${((s / n) * 1e9).toFixed(0)} ns)  [${sink}]`);
}

const N = 2_000_000;

// Hits: 4096 distinct addresses, all cached after the warm-up.
{
  const geo = openGeoIp([path]);
  const hot4 = Array.from({ length: 4096 }, (_, i) => v4((5 << 24) + i * 997));
  const hot6 = Array.from({ length: 4096 }, (_, i) => v6(i * 7919));
  const mixed = Array.from({ length: 4096 }, (_, i) => (i & 1 ? hot4[i] : hot6[i]));
  rate('cache hit, IPv4 (4096 hot addresses)', N * 5, (i) => geo.lookup(hot4[i & 4095]));
  rate('cache hit, IPv6 (4096 hot addresses)', N * 5, (i) => geo.lookup(hot6[i & 4095]));
  rate('cache hit, half/half', N * 5, (i) => geo.lookup(mixed[i & 4095]));
}

// Misses: every address new (the cache turns over all the time), located and unlocated.
{
  const geo = openGeoIp([path]);
  rate('cache miss, IPv4 located (5.0.0.0/8, all distinct)', N, (i) => geo.lookup(v4((5 << 24) + 3 * i + 1)));
  rate('cache miss, IPv4 unmapped (9.0.0.0/8 → null)', N, (i) => geo.lookup(v4((9 << 24) + 3 * i + 1)));
  rate('cache miss, IPv6 located (2001:db8:100::/48)', N, (i) => geo.lookup(v6(i * 3 + 1)));
}

// Baseline: the maxmind reader alone, on a string (what every query would cost without the cache).
{
  const reader = new Reader<CityResponse>(readFileSync(path));
  const texts = Array.from({ length: 4096 }, (_, i) => `5.${(i >> 8) & 255}.${i & 255}.7`);
  rate('maxmind Reader alone, string address, no decoder cache', N, (i) => reader.getWithPrefixLength(texts[i & 4095])[0]);
}
