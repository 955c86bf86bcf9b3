// Response rate limiting and DNS cookies on the real server over real UDP: one source floods (127.0.0.2) while
// another (127.0.0.3) and a client proving its address with a server cookie (from 127.0.0.2 itself) are answered
// as usual; dig and kdig get server cookies, send them back and are treated as valid (and exempt); a TSIG-signed
// query from dig and kdig gets NOTAUTH/BADKEY.
import * as dgram from 'node:dgram';
import * as http from 'node:http';
import { CookieStatus } from '../../src/dns/cookies';
import { RrlKind } from '../../src/dns/rrl';
import { RRL_COUNTER_LABELS } from '../../src/observe/query-stats';
import { rawQuery } from '../dns/packets';
import { dig, run } from '../dns/tools';
import { sleep, startServer, udpExchange, type TestServer } from '../helpers/server';

const MANY = Array.from({ length: 60 }, (_, i) => `10.0.${i >> 8}.${i & 255}`).join(', ');
const RATE = 20;

function yaml(rrl: string): string {
  return `
server:
  listen: ["127.0.0.1:0"]
  http: "127.0.0.1:0"
  rrl: ${rrl}
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: www, type: A, values: [192.0.2.1, 192.0.2.2] }
      - { name: many, type: A, values: [${MANY}] }
`;
}

function metricsText(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

const ancount = (r: Buffer): number => r.readUInt16BE(6);
const tc = (r: Buffer): boolean => (r[2] & 0x02) !== 0;
const COOKIE_CLIENT = Buffer.from('a1b2c3d4e5f60718', 'hex');

/** The COOKIE option data in a response ('' when none): the OPT is the last record here. */
function responseCookie(r: Buffer): Buffer | null {
  const i = r.lastIndexOf(Buffer.from([0x00, 0x0a, 0x00, 0x18]));
  return i < 0 ? null : r.subarray(i + 4, i + 28);
}

describe('a flood from one source (rrl: 20/s, window 5, slip 2, /32 prefixes)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(yaml(`{ responses_per_second: ${RATE}, window: 5, slip: 2, ipv4_prefix_length: 32 }`));
  });
  afterAll(async () => {
    await s.stop();
  });

  test('gets at most the rate plus the slip share; 127.0.0.3 and a cookie client at the same address are unaffected', async () => {
    // The cookie client learns its server cookie before the flood starts.
    const learned = await udpExchange(s.port, rawQuery({ questions: [{ name: 'www.example.com', type: 1 }], opt: { options: [{ code: 10, data: COOKIE_CLIENT }] } }), { from: '127.0.0.2' });
    const cookie = responseCookie(learned);
    expect(cookie).not.toBeNull();

    const flood = dgram.createSocket('udp4');
    await new Promise<void>((r) => flood.bind({ address: '127.0.0.2', port: 0 }, () => r()));
    let full = 0;
    let slipped = 0;
    let other = 0;
    flood.on('message', (m) => {
      if (tc(m) && ancount(m) === 0) slipped++;
      else if (ancount(m) === 60) full++;
      else other++;
    });
    const pkt = rawQuery({ id: 7, questions: [{ name: 'many.example.com', type: 1 }], opt: { udpSize: 4096 } });
    let sent = 0;
    const started = Date.now();
    const floodDone = (async () => {
      // 1500 queries a second for 3 s: far more than 20/s, far less than what the server can answer.
      while (Date.now() - started < 3000) {
        for (let i = 0; i < 150; i++, sent++) flood.send(pkt, s.port, '127.0.0.1');
        await sleep(100);
      }
    })();

    // Meanwhile: 127.0.0.3 asks five times a second, the cookie client (from 127.0.0.2) too.
    const bystander: number[] = [];
    const withCookie: number[] = [];
    const cookieQuery = rawQuery({ questions: [{ name: 'many.example.com', type: 1 }], opt: { udpSize: 4096, options: [{ code: 10, data: Buffer.from(cookie!) }] } });
    for (let i = 0; i < 12; i++) {
      await sleep(200);
      const [a, b] = await Promise.all([
        udpExchange(s.port, rawQuery({ questions: [{ name: 'many.example.com', type: 1 }], opt: { udpSize: 4096 } }), { from: '127.0.0.3' }),
        udpExchange(s.port, cookieQuery, { from: '127.0.0.2' }),
      ]);
      bystander.push(ancount(a));
      withCookie.push(ancount(b));
    }
    await floodDone;
    const seconds = (Date.now() - started) / 1000;
    await sleep(500);
    flood.close();

    expect(bystander).toEqual(new Array(12).fill(60));
    expect(withCookie).toEqual(new Array(12).fill(60));
    expect(sent).toBeGreaterThan(3000);
    // The account starts with one second of credit and earns RATE each second after (one more second of slack
    // for the coarse clock).
    expect(full).toBeLessThanOrEqual(RATE * (Math.ceil(seconds) + 2));
    expect(full).toBeGreaterThanOrEqual(RATE);
    // Half of the limited responses slip (TC=1, empty, 1 in 2), the rest are dropped.
    const limited = sent - full;
    expect(slipped).toBeGreaterThan(limited / 2 - 50);
    expect(slipped).toBeLessThanOrEqual(limited / 2 + 1);
    expect(other).toBe(0);

    // The counters saw the same.
    const rrl = s.plane.queryStats.rrl;
    const at = RrlKind.Answer * RRL_COUNTER_LABELS.length;
    expect(rrl[at]).toBe(limited);
    expect(rrl[at + 1] + rrl[at + 2]).toBe(limited);
    expect(rrl[at + 2]).toBe(slipped);
    expect(s.plane.queryStats.cookies[CookieStatus.Valid]).toBe(12);
    const text = await metricsText(s.server.statusPort);
    expect(text).toContain(`steerdns_rrl_limited_total{kind="answer"} ${limited}`);
    expect(text).toContain(`steerdns_rrl_slipped_total{kind="answer",response="truncated"} ${slipped}`);
    expect(text).toContain('steerdns_cookies_total{status="valid"} 12');
    expect(text).toMatch(/steerdns_dropped_packets_total\{transport="udp",reason="rate limited"\} \d+/);
  }, 30000);
});

describe.each(['dig', 'kdig'] as const)('%s +cookie', (tool) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(yaml('{ responses_per_second: 2, window: 5, slip: 0 }'));
  });
  afterAll(async () => {
    await s.stop();
  });

  const cookieOf = (stdout: string): string => /COOKIE: ([0-9A-Fa-f]{48})/.exec(stdout)?.[1].toLowerCase() ?? '';

  test('gets a server cookie; sending it back is valid, and exempt from rate limiting', async () => {
    const first = await dig(tool, s.port, ['www.example.com', 'A', '+cookie']);
    expect(first.status).toBe('NOERROR');
    const cookie = cookieOf(first.stdout);
    expect(cookie).toHaveLength(48);
    expect(cookie.slice(16, 24)).toBe('01000000'); // RFC 9018 version 1
    if (tool === 'dig') expect(first.stdout).toContain('(good)'); // dig checks that its client cookie came back
    const valid = s.plane.queryStats.cookies[CookieStatus.Valid];

    // Exhaust the account of 127.0.0.1 for www (2/s, no slip): plain queries go unanswered.
    const plain = rawQuery({ questions: [{ name: 'www.example.com', type: 1 }] });
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind({ address: '127.0.0.1', port: 0 }, () => r()));
    let answered = 0;
    sock.on('message', () => answered++);
    for (let i = 0; i < 50; i++) sock.send(plain, s.port, '127.0.0.1');
    await sleep(300);
    sock.close();
    expect(answered).toBeLessThan(10);

    // The same client with its cookie: answered at once (one try), and counted as valid.
    const tries = tool === 'dig' ? '+tries=1' : '+retry=0';
    const again = await dig(tool, s.port, ['www.example.com', 'A', `+cookie=${cookie}`, tries]);
    expect(again.status).toBe('NOERROR');
    expect(again.answer).toHaveLength(2);
    expect(cookieOf(again.stdout)).toBe(cookie); // valid and recent: echoed as it was
    expect(s.plane.queryStats.cookies[CookieStatus.Valid]).toBe(valid + 1);
  });

  test('a TSIG-signed query gets NOTAUTH with an unsigned TSIG carrying BADKEY', async () => {
    // dig and kdig print the failure and exit non-zero on an unverifiable TSIG: read the output either way.
    const out = await run(tool, ['@127.0.0.1', '-p', String(s.port), '+time=2', 'www.example.com', '-y', 'hmac-sha256:testkey:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0']).catch((e: Error) => ({ stdout: e.message, stderr: '' }));
    expect(out.stdout).toMatch(tool === 'dig' ? /status: NOTAUTH/ : /status: (NOTAUTH|BADKEY)/);
    expect(out.stdout).toMatch(/testkey\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 0 \d+ BADKEY 0/);
  });
});
