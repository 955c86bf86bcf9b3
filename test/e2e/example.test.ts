// `npm start` equivalent: the shipped config/example.yaml served by the real CLI (listen port 0 instead of 5353,
// the relative GeoIP path made absolute since the copy lives elsewhere), queried with dig.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { GEOIP_CITY, ROOT, spawnServer, tmpDir } from '../helpers/server';
import { dig, rdataOf } from '../dns/tools';

test('the example config answers www.lb.example.com A (and its other documented names)', async () => {
  const dir = tmpDir('steerdns-example-');
  const file = path.join(dir, 'example.yaml');
  copyFileSync(path.join(ROOT, 'config', 'example.yaml'), file);
  const original = readFileSync(file, 'utf8');
  const text = original
    .replace('listen: ["127.0.0.1:5353"]', 'listen: ["127.0.0.1:0"]')
    .replace('http: "127.0.0.1:9153"', 'http: "127.0.0.1:0"')
    .replace('database: ../geoip/test/city.mmdb', `database: ${GEOIP_CITY}`);
  // Each replacement must have happened, or the test would silently test something else.
  expect(text).toContain('listen: ["127.0.0.1:0"]');
  expect(text).toContain(`database: ${GEOIP_CITY}`);
  writeFileSync(file, text);

  const srv = await spawnServer(file);
  try {
    const www = await dig('dig', srv.port, ['www.lb.example.com', 'A', '+norec']);
    expect(www.status).toBe('NOERROR');
    expect(www.flags).toEqual(['aa', 'qr']);
    const addrs = rdataOf(www.answer, 'A');
    expect(addrs.length).toBeGreaterThan(0);
    // Every answer is one of the example's IPv4 origins, with the LB TTL (30 s).
    const origins = ['192.0.2.10', '192.0.2.11', '198.51.100.10', '203.0.113.10', '203.0.113.11'];
    expect(addrs.every((a) => origins.includes(a))).toBe(true);
    expect(www.answer.every((r) => r.ttl === 30 && r.name === 'www.lb.example.com')).toBe(true);
    // The resolver (127.0.0.1) has no GeoIP location: steering falls back to the PoP (AMS, NL → WEU → eu).
    expect(addrs).toEqual(['192.0.2.10', '192.0.2.11']);

    const lon = await dig('dig', srv.port, ['www.lb.example.com', 'A', '+subnet=81.2.69.0/24']);
    expect(rdataOf(lon.answer, 'A')).toEqual(['192.0.2.10', '192.0.2.11']);
    const tokyo = await dig('dig', srv.port, ['near.lb.example.com', 'A', '+subnet=1.0.16.0/24']);
    expect(rdataOf(tokyo.answer, 'A').every((a) => a.startsWith('203.0.113.'))).toBe(true);
    expect(Number(tokyo.subnet?.split('/')[2])).toBeGreaterThan(0); // the answer depended on the ECS address

    const stat = await dig('kdig', srv.port, ['static.lb.example.com', 'A']);
    expect(rdataOf(stat.answer, 'A')).toEqual(['192.0.2.80', '192.0.2.81']);
    const docs = await dig('dig', srv.port, ['docs.lb.example.com', 'A']);
    expect(docs.answer[0]).toMatchObject({ name: 'docs.lb.example.com', type: 'CNAME', data: 'www.lb.example.com.' });
    expect(rdataOf(docs.answer, 'A').length).toBeGreaterThan(0);
    const mx = await dig('dig', srv.port, ['lb.example.com', 'MX']);
    expect(rdataOf(mx.answer, 'MX')).toEqual(['10 mx-a.lb.example.com.', '20 mx-b.lb.example.com.']);
    const id = await dig('dig', srv.port, ['id.server', 'CH', 'TXT', '+nsid']);
    expect(rdataOf(id.answer, 'TXT')).toEqual(['"example-ams-1"']);
    expect(id.nsid).toBe('example-ams-1');
  } finally {
    expect(await srv.stop('SIGTERM')).toBe(0);
  }
});
