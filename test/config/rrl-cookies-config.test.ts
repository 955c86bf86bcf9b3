// The server.rrl and server.cookies blocks: defaults (rate limiting off, cookies on with a random secret), every
// field, and the problems a bad value gets, at its file:line:col.
import * as path from 'node:path';
import { formatProblem, loadConfigText } from '../../src/config/load';
import type { Config } from '../../src/config/types';

const ZONE = `zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
`;

function load(server: string): { config: Config | null; problems: string[] } {
  const r = loadConfigText(`server:\n${server}\n${ZONE}`, 'cfg.yaml', path.join(__dirname, 'cfg.yaml'));
  return { config: r.config, problems: r.problems.map(formatProblem) };
}

test('defaults: no rate limiting, cookies on with a random secret rotated daily', () => {
  const { config, problems } = load('  listen: ["127.0.0.1:0"]');
  expect(problems).toEqual([]);
  expect(config?.server.rrl).toBeNull();
  expect(config?.server.cookies).toEqual({ enabled: true, secret: null, rotation: 86400 });
});

test('rrl: only responses_per_second is required; the rest has BIND-like defaults', () => {
  const { config, problems } = load('  rrl: { responses_per_second: 10 }');
  expect(problems).toEqual([]);
  expect(config?.server.rrl).toEqual({
    responses_per_second: 10, nxdomains_per_second: null, errors_per_second: null, window: 15, slip: 2,
    ipv4_prefix_length: 24, ipv6_prefix_length: 56, exempt: [], log_only: false, max_table_size: 65536,
  });
});

test('rrl: every field', () => {
  const { config, problems } = load(`  rrl:
    responses_per_second: 20
    nxdomains_per_second: 5
    errors_per_second: 0
    window: 60
    slip: 0
    ipv4_prefix_length: 32
    ipv6_prefix_length: 64
    exempt: [10.0.0.0/8, "2001:db8::/32", 192.0.2.1]
    log_only: true
    max_table_size: 1024`);
  expect(problems).toEqual([]);
  expect(config?.server.rrl).toMatchObject({ nxdomains_per_second: 5, errors_per_second: 0, window: 60, slip: 0, exempt: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.1'], log_only: true, max_table_size: 1024 });
});

test('rrl: bad values are errors at their place', () => {
  expect(load('  rrl: {}').problems).toEqual(['cfg.yaml:2:8: missing required key "responses_per_second"']);
  expect(load('  rrl: { responses_per_second: 10, slip: 11, window: 0 }').problems).toEqual([
    'cfg.yaml:2:42: 11 is out of range: expected an integer from 0 to 10',
    'cfg.yaml:2:54: 0 is out of range: expected an integer from 1 to 3600',
  ]);
  expect(load('  rrl: { responses_per_second: 10, exempt: [10.0.0.0/33, nope] }').problems).toEqual([
    'cfg.yaml:2:45: "10.0.0.0/33" is not an IP address or CIDR prefix',
    'cfg.yaml:2:58: "nope" is not an IP address or CIDR prefix',
  ]);
  expect(load('  rrl: { responses_per_second: 10, ipv6_prefix_length: 128, typo: 1 }').problems).toEqual([
    'cfg.yaml:2:56: 128 is out of range: expected an integer from 16 to 64',
    'cfg.yaml:2:61: unknown key "typo"',
  ]);
});

test('cookies: a shared secret, a rotation, or off', () => {
  expect(load('  cookies: { secret: E5E973E5A6B2A43F48E7DC849E37BFCF, rotation: 0 }').config?.server.cookies).toEqual({ enabled: true, secret: 'E5E973E5A6B2A43F48E7DC849E37BFCF', rotation: 0 });
  expect(load('  cookies: { enabled: false }').config?.server.cookies.enabled).toBe(false);
});

test('cookies: a secret that is not 128 bits of hex, or a rotation under an hour, is an error', () => {
  expect(load('  cookies: { secret: "e5e973e5a6b2a43f" }').problems).toEqual(['cfg.yaml:2:23: "e5e973e5a6b2a43f" is not a 128-bit secret written as 32 hex digits']);
  expect(load('  cookies: { rotation: 600 }').problems).toEqual(['cfg.yaml:2:12: rotation 600 s is shorter than a cookie\'s hour of life (RFC 9018 §4.3); use 0 (never) or at least 3600']);
});
