// CIDR literal checks (rule sets, explain --ecs): the IPv4 shortcut that skips ip-cidr for a well-formed network
// must agree with ip-cidr on every input, so that no message or verdict depends on which path ran.
import IPCIDR from 'ip-cidr';
import { cidrLiteralProblem } from '../../src/util/cidr-literal';

/** A deterministic spread of addresses (mulberry32), with the edges of the address space. */
function addresses(): string[] {
  let a = 7;
  const rnd = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = ['0.0.0.0', '255.255.255.255', '10.0.0.0', '10.0.0.1', '128.0.0.0', '192.168.0.0', '172.16.0.0'];
  for (let i = 0; i < 100; i++) out.push([0, 0, 0, 0].map(() => Math.floor(rnd() * 256)).join('.'));
  return out;
}

describe('cidrLiteralProblem', () => {
  test('IPv4: accepted exactly when ip-cidr says the address is the network, with prefixes 0 to 32', () => {
    for (const ip of addresses()) {
      for (let p = 0; p <= 32; p++) {
        const text = `${ip}/${p}`;
        const network = new IPCIDR(text).start<string>();
        const problem = cidrLiteralProblem(text);
        if (network === ip) expect(problem).toBeNull();
        else expect(problem).toBe(`${text} has host bits set (the network is ${network}/${p})`);
      }
    }
  });

  test('the messages for what is not a network', () => {
    expect(cidrLiteralProblem('10.0.0.1/8')).toBe('10.0.0.1/8 has host bits set (the network is 10.0.0.0/8)');
    expect(cidrLiteralProblem('10.0.0.0/08')).toBeNull();
    expect(cidrLiteralProblem('10.0.0.1/08')).toBe('10.0.0.1/08 has host bits set (the network is 10.0.0.0/08)');
    expect(cidrLiteralProblem('10.0.0.0/33')).toBe('"10.0.0.0/33": the prefix length must be 0 to 32 for IPv4');
    expect(cidrLiteralProblem('010.0.0.0/8')).toBe('"010.0.0.0/8": "010.0.0.0" is not an IP address');
    expect(cidrLiteralProblem('2001:db8::1/32')).toBe('2001:db8::1/32 has host bits set (the network is 2001:db8::/32)');
    expect(cidrLiteralProblem('2001:db8::/32')).toBeNull();
  });
});
