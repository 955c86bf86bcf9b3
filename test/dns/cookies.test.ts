// Server cookies (RFC 7873 + RFC 9018): the RFC 9018 Appendix A vectors, the lifetime rules of §4.3, the previous
// secret after a reload or a rotation, and rotation keys that every instance sharing the secret agrees on.
import { CLOCK_EPOCH } from '../../src/dns/clock';
import { CookieStatus, ServerCookies, secretFromHex, type CookieSettings } from '../../src/dns/cookies';
import { ClientInfo } from '../../src/dns/dynamic';

const SECRET_A = 'e5e973e5a6b2a43f48e7dc849e37bfcf';
// The tests speak Unix seconds (the RFC's vectors do); the cookie code takes the coarse clock (seconds since 2020).
const clock = (unix: number): number => unix - CLOCK_EPOCH;
const cookies = (settings: CookieSettings, unix: number): ServerCookies => new ServerCookies(settings, clock(unix));
const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));

/** The response COOKIE data as hex. */
function responseHex(c: ServerCookies): string {
  const b = Buffer.alloc(24);
  for (let i = 0; i < 6; i++) b.writeInt32BE(c.response[i], 4 * i);
  return b.toString('hex');
}

function check(c: ServerCookies, cookieHex: string, from: string, now: number): CookieStatus {
  const data = bytes(`ffff${cookieHex}`); // an offset, as in a real packet
  return c.check(data, 2, data.length - 2, new ClientInfo(from, null, 'udp'), clock(now));
}

describe('server cookies, RFC 9018 Appendix A', () => {
  it('A.1: a client cookie alone gets the vector\'s server cookie', () => {
    const c = cookies({ secret: secretFromHex(SECRET_A), rotation: 0 }, 1559731985);
    expect(check(c, '2464c4abcf10c957', '198.51.100.100', 1559731985)).toBe(CookieStatus.ClientOnly);
    expect(responseHex(c)).toBe('2464c4abcf10c957010000005cf79f111f8130c3eee29480');
  });

  it('A.2: that cookie 40 minutes later is valid and renewed (older than half an hour)', () => {
    const c = cookies({ secret: secretFromHex(SECRET_A), rotation: 0 }, 1559734385);
    expect(check(c, '2464c4abcf10c957010000005cf79f111f8130c3eee29480', '198.51.100.100', 1559734385)).toBe(CookieStatus.Valid);
    expect(responseHex(c)).toBe('2464c4abcf10c957010000005cf7a871d4a564a1442aca77');
  });

  it('A.3: reserved bytes the client set count in the hash; a new cookie clears them', () => {
    const c = cookies({ secret: secretFromHex(SECRET_A), rotation: 0 }, 1559734700);
    const cookie = 'fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5';
    // Within the hour after its timestamp (0x5cf78f71) the cookie verifies, reserved bytes and all…
    expect(check(c, cookie, '203.0.113.203', 0x5cf78f71 + 100)).toBe(CookieStatus.Valid);
    // …but the vector's reply comes 1h52m later, past the lifetime: a fresh cookie, the one the RFC shows.
    expect(check(c, cookie, '203.0.113.203', 1559734700)).toBe(CookieStatus.Invalid);
    expect(responseHex(c)).toBe('fc93fc62807ddb86010000005cf7a9acf73a7810aca2381e');
  });

  it('A.4: IPv6, a cookie of the previous secret is valid and renewed with the new one', () => {
    const c = cookies({ secret: secretFromHex('dd3bdf9344b678b185a6f5cb60fca715'), rotation: 0 }, 1559741817);
    c.configure({ secret: secretFromHex('445536bcd2513298075a5d379663c962'), rotation: 0 }, clock(1559741961));
    expect(check(c, '22681ab97d52c298010000005cf7c57926556bd0934c72f8', '2001:db8:220:1:59de:d0f4:8769:82b8', 1559741961)).toBe(CookieStatus.Valid);
    expect(responseHex(c)).toBe('22681ab97d52c298010000005cf7c609a6bb79d16625507a');
  });
});

describe('server cookie validity', () => {
  const T = 1700000000;
  const make = (): ServerCookies => cookies({ secret: secretFromHex(SECRET_A), rotation: 0 }, T);
  const issued = (c: ServerCookies, client: string, from: string, now: number): string => {
    check(c, client, from, now);
    return responseHex(c);
  };

  it('echoes a recent valid cookie as it is', () => {
    const c = make();
    const cookie = issued(c, '0102030405060708', '127.0.0.3', T);
    expect(check(c, cookie, '127.0.0.3', T + 600)).toBe(CookieStatus.Valid);
    expect(responseHex(c)).toBe(cookie);
  });

  it('accepts up to an hour old and five minutes ahead, and no more (§4.3)', () => {
    const c = make();
    const cookie = issued(c, '0102030405060708', '127.0.0.3', T);
    expect(check(c, cookie, '127.0.0.3', T + 3600)).toBe(CookieStatus.Valid);
    expect(check(c, cookie, '127.0.0.3', T + 3601)).toBe(CookieStatus.Invalid);
    expect(check(c, cookie, '127.0.0.3', T - 300)).toBe(CookieStatus.Valid);
    expect(check(c, cookie, '127.0.0.3', T - 301)).toBe(CookieStatus.Invalid);
  });

  it('is bound to the client address, the client cookie and every byte of the server cookie', () => {
    const c = make();
    const cookie = issued(c, '0102030405060708', '127.0.0.3', T);
    // Verified once (and so remembered): the variants below must still fail.
    expect(check(c, cookie, '127.0.0.3', T)).toBe(CookieStatus.Valid);
    expect(check(c, cookie, '127.0.0.4', T)).toBe(CookieStatus.Invalid);
    expect(check(c, cookie, '::1', T)).toBe(CookieStatus.Invalid);
    // A dual-stack socket reports the same IPv4 client as ::ffff:127.0.0.3: the same address, so the same cookie.
    expect(check(c, cookie, '::ffff:127.0.0.3', T)).toBe(CookieStatus.Valid);
    expect(check(c, `ff${cookie.slice(2)}`, '127.0.0.3', T)).toBe(CookieStatus.Invalid);
    for (let i = 16; i < 48; i += 2) {
      const flipped = cookie.slice(0, i) + ((parseInt(cookie.slice(i, i + 2), 16) ^ 1).toString(16).padStart(2, '0')) + cookie.slice(i + 2);
      expect(check(c, flipped, '127.0.0.3', T)).toBe(CookieStatus.Invalid);
    }
    // After an invalid one, the response carries a fresh valid cookie for that client.
    expect(check(c, responseHex(c), '127.0.0.3', T)).toBe(CookieStatus.Valid);
  });

  it('remembers verified IPv6 cookies per address too', () => {
    const c = make();
    const cookie = issued(c, '0102030405060708', '2001:db8::53', T);
    expect(check(c, cookie, '2001:db8::53', T)).toBe(CookieStatus.Valid); // verified, remembered
    expect(check(c, cookie, '2001:db8::53', T)).toBe(CookieStatus.Valid); // remembered
    expect(check(c, cookie, '2001:db8::54', T)).toBe(CookieStatus.Invalid);
    expect(check(c, cookie, '2001:db8:0:1::53', T)).toBe(CookieStatus.Invalid);
  });

  it('validates every client when more cookies are remembered than a set holds (evictions)', () => {
    const c = make();
    // 40,000 IPv4 clients: more than the table's entries, so sets fill and evict; none may be refused for it.
    const clients = Array.from({ length: 40000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    const cookiesOf = clients.map((from, i) => issued(c, (0x01000000 + i).toString(16).padStart(16, '0'), from, T));
    for (let round = 0; round < 2; round++) {
      let valid = 0;
      clients.forEach((from, i) => {
        if (check(c, cookiesOf[i], from, T + 1) === CookieStatus.Valid) valid++;
      });
      expect(valid).toBe(clients.length);
    }
    expect(check(c, cookiesOf[0], clients[1], T + 1)).toBe(CookieStatus.Invalid);
  });

  it('treats server cookies of other lengths or versions as invalid (not malformed) and issues one', () => {
    const c = make();
    expect(check(c, '0102030405060708' + '00'.repeat(8), '127.0.0.3', T)).toBe(CookieStatus.Invalid);
    expect(check(c, '0102030405060708' + '02000000' + '00'.repeat(12), '127.0.0.3', T)).toBe(CookieStatus.Invalid);
    expect(check(c, '0102030405060708' + '00'.repeat(32), '127.0.0.3', T)).toBe(CookieStatus.Invalid);
    expect(responseHex(c).slice(16, 24)).toBe('01000000');
  });
});

describe('secret rotation', () => {
  const DAY = 86400;
  const T = 20000 * DAY + 100; // 100 s into a rotation period

  it('accepts the previous period\'s cookies after a rotation, not older ones', () => {
    const c = cookies({ secret: secretFromHex(SECRET_A), rotation: DAY }, T);
    check(c, '0102030405060708', '127.0.0.3', T + DAY - 200);
    const cookie = responseHex(c);
    expect(check(c, cookie, '127.0.0.3', T + DAY - 150)).toBe(CookieStatus.Valid);
    expect(responseHex(c)).toBe(cookie); // remembered, echoed
    // 300 s later the period changed: valid through the previous key, and renewed under the new one.
    expect(check(c, cookie, '127.0.0.3', T + DAY)).toBe(CookieStatus.Valid);
    expect(responseHex(c)).not.toBe(cookie);
    expect(check(c, responseHex(c), '127.0.0.3', T + DAY)).toBe(CookieStatus.Valid);
  });

  it('derives the same keys in two instances sharing the secret, different ones for another secret', () => {
    const a = cookies({ secret: secretFromHex(SECRET_A), rotation: DAY }, T);
    const b = cookies({ secret: secretFromHex(SECRET_A), rotation: DAY }, T + 5000);
    const other = cookies({ secret: secretFromHex('00112233445566778899aabbccddeeff'), rotation: DAY }, T);
    check(a, '0102030405060708', '127.0.0.3', T);
    const cookie = responseHex(a);
    expect(check(b, cookie, '127.0.0.3', T + 10)).toBe(CookieStatus.Valid);
    expect(check(other, cookie, '127.0.0.3', T + 10)).toBe(CookieStatus.Invalid);
    // Without rotation the secret is the SipHash key itself (RFC 9018 interoperability): not the derived key.
    const raw = cookies({ secret: secretFromHex(SECRET_A), rotation: 0 }, T);
    expect(check(raw, cookie, '127.0.0.3', T + 10)).toBe(CookieStatus.Invalid);
  });

  it('keeps accepting the old secret\'s cookies after a reload that changes the secret', () => {
    const c = cookies({ secret: secretFromHex(SECRET_A), rotation: 0 }, T);
    check(c, '0102030405060708', '127.0.0.3', T);
    const cookie = responseHex(c);
    c.configure({ secret: secretFromHex('00112233445566778899aabbccddeeff'), rotation: 0 }, clock(T + 10));
    expect(check(c, cookie, '127.0.0.3', T + 20)).toBe(CookieStatus.Valid);
    // An unchanged config keeps the state as it is.
    c.configure({ secret: secretFromHex('00112233445566778899aabbccddeeff'), rotation: 0 }, clock(T + 30));
    expect(check(c, cookie, '127.0.0.3', T + 40)).toBe(CookieStatus.Valid);
  });
});
