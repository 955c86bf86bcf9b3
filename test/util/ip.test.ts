// parseIpv4 is read by hand (it runs 50,000 times when a big config loads): it must accept exactly what node:net's
// isIPv4 accepts, and read the octets right.
import { isIPv4 } from 'node:net';
import { parseIpv4 } from '../../src/util/ip';

test('parseIpv4 accepts exactly the dotted quads node:net accepts', () => {
  const cases = ['1.2.3.4', '0.0.0.0', '255.255.255.255', '256.1.1.1', '01.2.3.4', '1.2.3', '1.2.3.4.5', '1..2.3', 'a.b.c.d', '1.2.3.04',
    '10.0.0.1 ', ' 10.0.0.1', '192.0.2.313', '1.2.3.-1', '000.0.0.0', '1.2.3.4.', '.1.2.3.4', '1.2.3.4\n', '', '1234.1.1.1', '1.2.3.4e0'];
  for (const c of cases) expect([c, parseIpv4(c) !== null]).toEqual([c, isIPv4(c)]);
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  for (let i = 0; i < 20000; i++) {
    const s = [0, 1, 2, 3].map(() => (rnd(10) === 0 ? `0${rnd(99)}` : String(rnd(10) < 2 ? rnd(400) : rnd(256)))).join(rnd(50) === 0 ? '..' : '.');
    expect([s, parseIpv4(s) !== null]).toEqual([s, isIPv4(s)]);
  }
  expect([...(parseIpv4('192.0.2.255') as Uint8Array)]).toEqual([192, 0, 2, 255]);
});
