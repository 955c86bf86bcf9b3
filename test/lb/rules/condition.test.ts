import { type IpAddr, parseIp } from '../../../src/util/ip';
import { ConditionError, type RuleInput, compileCondition } from '../../../src/lb/rules/condition';

function ip(text: string): IpAddr {
  const parsed = parseIp(text);
  if (!parsed) throw new Error(`bad test address ${text}`);
  return parsed;
}

function input(over: Partial<RuleInput> = {}): RuleInput {
  const qname = over.qname ?? 'www.example.com.';
  return {
    qname,
    qnameLength: qname.length,
    qtype: 1,
    ecs: null,
    resolver: ip('198.51.100.7'),
    lbName: 'lb.example.com',
    region: 'WNAM',
    ...over,
  };
}

function t(source: string, over: Partial<RuleInput> = {}): boolean {
  return compileCondition(source).test(input(over));
}

function compileError(source: string): ConditionError {
  try {
    compileCondition(source);
  } catch (e) {
    if (e instanceof ConditionError) return e;
    throw e;
  }
  throw new Error(`expected a ConditionError for ${source}`);
}

describe('empty condition', () => {
  it.each(['', '   ', '\n\t '])('%j is always true', (src) => {
    const c = compileCondition(src);
    expect(c.test(input())).toBe(true);
    expect(c.readsClientAddress).toBe(false);
    expect(c.source).toBe(src);
  });
});

describe('dns.qry.name', () => {
  it('compares with == / eq / != / ne', () => {
    expect(t('dns.qry.name == "www.example.com."')).toBe(true);
    expect(t('dns.qry.name eq "www.example.com."')).toBe(true);
    expect(t('dns.qry.name == "example.com."')).toBe(false);
    expect(t('dns.qry.name != "example.com."')).toBe(true);
    expect(t('dns.qry.name ne "www.example.com."')).toBe(false);
  });

  it('compares case-insensitively and accepts literals without the trailing dot', () => {
    expect(t('dns.qry.name == "WWW.Example.COM."')).toBe(true);
    expect(t('dns.qry.name == "www.example.com"')).toBe(true);
    expect(t('dns.qry.name != "www.example.com"')).toBe(false);
    expect(t('dns.qry.name in {"www.example.com" "api.example.com"}')).toBe(true);
    expect(t('dns.qry.name contains "EXAMPLE"')).toBe(true);
  });

  it('supports contains', () => {
    expect(t('dns.qry.name contains "example"')).toBe(true);
    expect(t('dns.qry.name contains "com."')).toBe(true);
    expect(t('dns.qry.name contains "net"')).toBe(false);
  });

  it('supports matches and ~ with regex escapes passed through', () => {
    expect(t('dns.qry.name matches "^www\\.example\\.com\\.$"')).toBe(true);
    expect(t('dns.qry.name ~ "^www\\.examplexcom"')).toBe(false);
    expect(t('dns.qry.name ~ "^(www|api)\\."')).toBe(true);
    expect(t('dns.qry.name ~ "^WWW\\."')).toBe(true); // names are case-insensitive
    expect(t('dns.qry.name matches "^api\\."')).toBe(false);
    expect(t('dns.qry.name matches "\\d"', { qname: 'host1.example.com.' })).toBe(true);
    expect(t('dns.qry.name matches "\\d"')).toBe(false);
  });

  it('keeps regex state-free across calls', () => {
    const c = compileCondition('dns.qry.name matches "example"');
    for (let k = 0; k < 5; k++) expect(c.test(input())).toBe(true);
  });

  it('orders strings lexicographically', () => {
    expect(t('dns.qry.name < "x"')).toBe(true);
    expect(t('dns.qry.name lt "a"')).toBe(false);
    expect(t('dns.qry.name <= "www.example.com."')).toBe(true);
    expect(t('dns.qry.name le "www"')).toBe(false);
    expect(t('dns.qry.name > "www"')).toBe(true);
    expect(t('dns.qry.name gt "x"')).toBe(false);
    expect(t('dns.qry.name >= "www.example.com."')).toBe(true);
    expect(t('dns.qry.name ge "z"')).toBe(false);
  });
});

describe('dns.qry.name.len', () => {
  it('is the length of the name including the trailing dot', () => {
    expect(t('dns.qry.name.len == 16')).toBe(true);
    expect(t('dns.qry.name.len == 16', { qname: '.' })).toBe(false);
    expect(t('dns.qry.name.len == 1', { qname: '.' })).toBe(true);
    expect(t('dns.qry.name.len > 15 and dns.qry.name.len < 17')).toBe(true);
    expect(t('dns.qry.name.len in {10..20}')).toBe(true);
    expect(t('dns.qry.name.len in {1..15 17..255}')).toBe(false);
  });
});

describe('dns.qry.type', () => {
  const aaaa = { qtype: 28 };
  it('compares with ints', () => {
    expect(t('dns.qry.type == 28', aaaa)).toBe(true);
    expect(t('dns.qry.type == 28')).toBe(false);
    expect(t('dns.qry.type eq 28', aaaa)).toBe(true);
    expect(t('dns.qry.type != 28', aaaa)).toBe(false);
    expect(t('dns.qry.type ne 1', aaaa)).toBe(true);
    expect(t('dns.qry.type < 28', aaaa)).toBe(false);
    expect(t('dns.qry.type lt 29', aaaa)).toBe(true);
    expect(t('dns.qry.type <= 28', aaaa)).toBe(true);
    expect(t('dns.qry.type le 27', aaaa)).toBe(false);
    expect(t('dns.qry.type > 27', aaaa)).toBe(true);
    expect(t('dns.qry.type gt 28', aaaa)).toBe(false);
    expect(t('dns.qry.type >= 28', aaaa)).toBe(true);
    expect(t('dns.qry.type ge 29', aaaa)).toBe(false);
  });

  it('tests membership with singles and ranges, commas tolerated', () => {
    expect(t('dns.qry.type in {1 28}', aaaa)).toBe(true);
    expect(t('dns.qry.type in {1, 28,}', aaaa)).toBe(true);
    expect(t('dns.qry.type in {1 5 15}', aaaa)).toBe(false);
    expect(t('dns.qry.type in {25..30}', aaaa)).toBe(true);
    expect(t('dns.qry.type in {28..28}', aaaa)).toBe(true);
    expect(t('dns.qry.type in {1 29..65}', aaaa)).toBe(false);
    expect(t('dns.qry.type in {1 29..65}', { qtype: 65 })).toBe(true);
  });
});

describe('boolean fields', () => {
  const ecs = { ecs: ip('203.0.113.0') };
  it('dns.qry.qu is always true', () => {
    expect(t('dns.qry.qu')).toBe(true);
    expect(t('dns.qry.qu == true')).toBe(true);
    expect(t('dns.qry.qu == false')).toBe(false);
    expect(t('not dns.qry.qu')).toBe(false);
  });

  it('dns.rr.opt.client tells whether ECS was sent', () => {
    expect(t('dns.rr.opt.client')).toBe(false);
    expect(t('dns.rr.opt.client', ecs)).toBe(true);
    expect(t('dns.rr.opt.client == true', ecs)).toBe(true);
    expect(t('dns.rr.opt.client eq false', ecs)).toBe(false);
    expect(t('dns.rr.opt.client eq false')).toBe(true);
    expect(t('dns.rr.opt.client != true')).toBe(true);
    expect(t('dns.rr.opt.client ne false', ecs)).toBe(true);
    expect(t('!dns.rr.opt.client')).toBe(true);
  });
});

describe('dns.rr.opt.client.addr', () => {
  it('is false for every comparison when ECS is absent', () => {
    expect(t('dns.rr.opt.client.addr == 198.51.100.7')).toBe(false);
    expect(t('dns.rr.opt.client.addr != 203.0.113.0')).toBe(false);
    expect(t('dns.rr.opt.client.addr in {0.0.0.0/0 ::/0}')).toBe(false);
    // ...but a negated comparison is a plain boolean negation.
    expect(t('not dns.rr.opt.client.addr == 203.0.113.0')).toBe(true);
  });

  it('compares the ECS address when present', () => {
    const ecs = { ecs: ip('203.0.113.0') };
    expect(t('dns.rr.opt.client.addr == 203.0.113.0', ecs)).toBe(true);
    expect(t('dns.rr.opt.client.addr eq 203.0.113.1', ecs)).toBe(false);
    expect(t('dns.rr.opt.client.addr == 203.0.113.0/24', ecs)).toBe(true);
    expect(t('dns.rr.opt.client.addr != 203.0.113.0/24', ecs)).toBe(false);
    expect(t('dns.rr.opt.client.addr ne 10.0.0.0/8', ecs)).toBe(true);
    expect(t('dns.rr.opt.client.addr in {10.0.0.0/8 203.0.113.0/25}', ecs)).toBe(true);
    // Never the resolver, even if it would match.
    expect(t('dns.rr.opt.client.addr == 198.51.100.7', ecs)).toBe(false);
  });
});

describe('ip.src', () => {
  it('is the ECS address when present, else the resolver', () => {
    expect(t('ip.src == 198.51.100.7')).toBe(true);
    expect(t('ip.src == 198.51.100.7', { ecs: ip('203.0.113.0') })).toBe(false);
    expect(t('ip.src == 203.0.113.0/24', { ecs: ip('203.0.113.0') })).toBe(true);
    expect(t('ip.src != 203.0.113.0/24', { ecs: ip('203.0.113.0') })).toBe(false);
    expect(t('ip.src ne 203.0.113.0/24')).toBe(true);
  });

  it('matches IPv6 addresses and prefixes', () => {
    const v6 = { resolver: ip('2001:db8:1234::53') };
    expect(t('ip.src == 2001:db8:1234::53', v6)).toBe(true);
    expect(t('ip.src == 2001:db8::/32', v6)).toBe(true);
    expect(t('ip.src in {10.0.0.0/8 192.0.2.1 2001:db8::/32}', v6)).toBe(true);
    expect(t('ip.src in {2001:db8:1235::/48}', v6)).toBe(false);
    expect(t('ip.src in {2001:db8:1234::/48}', v6)).toBe(true);
    expect(t('ip.src in {::/0}', v6)).toBe(true);
    expect(t('ip.src in {::/0}')).toBe(false); // families never match across
    expect(t('ip.src in {0.0.0.0/0}', v6)).toBe(false);
    expect(t('ip.src in {2001:db8:1234::1..2001:db8:1234::ff}', v6)).toBe(true);
  });

  it('matches IPv4 sets with hosts, CIDRs and ranges', () => {
    const src = 'ip.src in {10.0.0.0/8, 192.0.2.1 198.51.100.1..198.51.100.9}';
    expect(t(src)).toBe(true);
    expect(t(src, { resolver: ip('198.51.100.10') })).toBe(false);
    expect(t(src, { resolver: ip('10.255.0.1') })).toBe(true);
    expect(t(src, { resolver: ip('192.0.2.1') })).toBe(true);
    expect(t(src, { resolver: ip('192.0.2.2') })).toBe(false);
    expect(t(src, { resolver: ip('198.51.100.1') })).toBe(true);
  });

  it('splits IPv4 space in halves (DNS persistence, method 3)', () => {
    const c = compileCondition('ip.src in {0.0.0.0/1}');
    expect(c.test(input({ resolver: ip('10.0.0.1') }))).toBe(true);
    expect(c.test(input({ resolver: ip('127.255.255.255') }))).toBe(true);
    expect(c.test(input({ resolver: ip('128.0.0.0') }))).toBe(false);
    expect(c.test(input({ resolver: ip('200.1.1.1') }))).toBe(false);
    expect(c.test(input({ resolver: ip('2001:db8::1') }))).toBe(false);
    // With ECS the split follows the client subnet, not the resolver.
    expect(c.test(input({ resolver: ip('200.1.1.1'), ecs: ip('100.64.1.0') }))).toBe(true);
    expect(c.test(input({ resolver: ip('10.0.0.1'), ecs: ip('150.0.0.0') }))).toBe(false);
    expect(c.readsClientAddress).toBe(true);
  });
});

describe('cf.load_balancer.*', () => {
  it('compares the load balancer name like a DNS name', () => {
    expect(t('cf.load_balancer.name == "lb.example.com"')).toBe(true);
    expect(t('cf.load_balancer.name == "LB.example.com."')).toBe(true);
    expect(t('cf.load_balancer.name == "*.example.com"', { lbName: '*.example.com' })).toBe(true);
    expect(t('cf.load_balancer.name in {"a.example.com" "lb.example.com"}')).toBe(true);
    expect(t('cf.load_balancer.name contains "example"')).toBe(true);
    expect(t('cf.load_balancer.name matches "^lb\\."')).toBe(true);
  });

  it('reads the region, "" when unknown', () => {
    expect(t('cf.load_balancer.region == "WNAM"')).toBe(true);
    expect(t('cf.load_balancer.region == "ENAM"')).toBe(false);
    expect(t('cf.load_balancer.region in {"ENAM" "WNAM"}')).toBe(true);
    expect(t('cf.load_balancer.region == ""', { region: null })).toBe(true);
    expect(t('cf.load_balancer.region != ""', { region: null })).toBe(false);
    expect(t('cf.load_balancer.region == ""')).toBe(false);
  });
});

describe('string literals', () => {
  it('understands \\" and \\\\ escapes', () => {
    expect(t('cf.load_balancer.region == "a\\"b"', { region: 'a"b' })).toBe(true);
    expect(t('cf.load_balancer.region == "a\\\\b"', { region: 'a\\b' })).toBe(true);
    expect(t('cf.load_balancer.region matches "^a\\"b$"', { region: 'a"b' })).toBe(true);
  });

  it('keeps region literals case-sensitive', () => {
    expect(t('cf.load_balancer.region == "wnam"')).toBe(false);
    expect(t('cf.load_balancer.region matches "(?i)^wnam$"')).toBe(true);
    expect(t('cf.load_balancer.region matches "^wnam$"')).toBe(false);
  });
});

describe('logical operators', () => {
  // T and F are comparisons with known outcomes for the default input (qtype 1).
  const T = 'dns.qry.type == 1';
  const F = 'dns.qry.type == 2';
  const cases: Array<[string, boolean]> = [
    [`${T} and ${T}`, true],
    [`${T} && ${F}`, false],
    [`${F} or ${T}`, true],
    [`${F} || ${F}`, false],
    [`${T} xor ${F}`, true],
    [`${T} ^^ ${T}`, false],
    [`not ${T}`, false],
    [`! ${F}`, true],
    [`not not ${T}`, true],
    [`!!${T}`, true],
    // and binds tighter than or
    [`${T} or ${F} and ${F}`, true],
    [`${F} and ${F} or ${T}`, true],
    // xor sits between and/or
    [`${T} xor ${T} or ${T}`, true],
    [`${T} or ${T} xor ${T}`, true],
    [`${T} xor ${T} and ${F}`, true],
    [`${F} and ${T} xor ${T}`, true],
    // not binds tightest
    [`not ${F} and ${F}`, false],
    [`not ${T} or ${T}`, true],
    [`! ${T} || ${T}`, true],
    // parentheses
    [`(${T} or ${F}) and ${F}`, false],
    [`not (${T} and ${F})`, true],
    [`(${T} xor ${T}) or (${F})`, false],
    [`((${T}))`, true],
    [`${T} xor (${T} or ${T})`, false],
    [`${T} and (${F} or (${T} and not ${F}))`, true],
    [`${T} xor ${T} xor ${T}`, true],
  ];
  it.each(cases)('%s → %s', (src, expected) => {
    expect(t(src)).toBe(expected);
  });

  it('allows newlines and no spaces around symbols', () => {
    expect(t('(dns.qry.type==1)&&(ip.src in{198.51.100.0/24})\n||dns.qry.qu')).toBe(true);
    expect(t('dns.qry.type==28||!dns.rr.opt.client')).toBe(true);
  });
});

describe('readsClientAddress', () => {
  it.each<[string, boolean]>([
    ['ip.src in {0.0.0.0/1}', true],
    ['dns.rr.opt.client.addr == 10.0.0.0/8', true],
    ['dns.qry.type == 1 or ip.src == 10.0.0.1', true],
    ['not (dns.qry.qu and dns.rr.opt.client.addr in {10.0.0.0/8})', true],
    ['dns.rr.opt.client', false],
    ['dns.qry.name == "www.example.com." and dns.qry.type == 28', false],
    ['cf.load_balancer.region == "WNAM"', false],
    ['', false],
  ])('%s → %s', (src, expected) => {
    expect(compileCondition(src).readsClientAddress).toBe(expected);
  });
});

describe('errors', () => {
  const cases: Array<[string, number, number, RegExp]> = [
    ['dns.qry.nmae == "x"', 0, 12, /^unknown field "dns\.qry\.nmae"; did you mean "dns\.qry\.name"\?$/],
    ['foo == 1', 0, 3, /^unknown field "foo"$/],
    ['dns.qry.name ==', 15, 0, /^expected a value after "=="$/],
    ['dns.qry.name == and dns.qry.qu', 16, 3, /^expected a value after "=="$/],
    ['dns.qry.type contains "x"', 13, 8, /^"contains" needs a string field/],
    ['dns.qry.type matches "x"', 13, 7, /^"matches" needs a string field/],
    ['ip.src == "abc"', 10, 5, /^expected an IP address or CIDR after "==".*found string "abc"$/],
    ['dns.qry.name == 5', 16, 1, /^expected a double-quoted string after "==".*found integer 5$/],
    ['dns.qry.type == "28"', 16, 4, /^expected an integer after "=="/],
    ['dns.qry.type == AAAA', 16, 4, /AAAA is 28$/],
    ['cf.load_balancer.region == WNAM', 27, 4, /^expected a double-quoted string/],
    ['ip.src.asnum == 13335', 0, 12, /not available: steerdns has no ASN database/],
    ['http.request.uri.path contains "/blog"', 0, 21, /proxied-only/],
    ['dns.qry.name matches "(www"', 21, 6, /^invalid regular expression: /],
    ['(dns.qry.qu', 0, 1, /^missing "\)"/],
    ['dns.qry.qu)', 10, 1, /^unexpected "\)"/],
    ['(dns.qry.qu dns.qry.qu)', 12, 10, /^expected "and", "or", "xor" or "\)"/],
    ['dns.qry.type in {}', 16, 2, /^empty set$/],
    ['dns.qry.type in {1 2', 16, 1, /^missing "}"/],
    ['dns.qry.type in 1', 16, 1, /^expected "{" after "in"/],
    ['dns.qry.type in {1 "x"}', 19, 3, /takes integers or ranges/],
    ['ip.src in {10.0.0.0/8 "x"}', 22, 3, /takes IP addresses, CIDRs or ranges/],
    ['dns.qry.name in {"a" 1}', 21, 1, /takes strings/],
    ['dns.qry.name', 0, 12, /needs an operator and a value/],
    ['dns.qry.name = "x"', 13, 1, /^unexpected "="; use "=="/],
    ['dns.qry.name contain "x"', 13, 7, /^unknown operator "contain"; did you mean "contains"\?$/],
    ['dns.qry.name "x"', 13, 3, /^expected an operator after "dns.qry.name"/],
    ['"x" == dns.qry.name', 0, 3, /^expected a field name, found string "x"$/],
    ['28 == dns.qry.type', 0, 2, /^expected a field name/],
    ['dns.qry.qu and', 14, 0, /^expected a condition after "and"$/],
    ['dns.qry.qu or or dns.qry.qu', 14, 2, /^expected a field name after "or"/],
    ['not', 3, 0, /^expected a condition after "not"$/],
    ['ip.src < 1.2.3.4', 7, 1, /^"<" needs an integer or string field/],
    ['dns.rr.opt.client >= true', 18, 2, /^">=" needs an integer or string field/],
    ['dns.rr.opt.client in {true}', 18, 2, /^"in" needs a string, integer or IP field/],
    ['dns.qry.qu == 1', 14, 1, /^expected true or false/],
    ['dns.qry.qu "x"', 11, 3, /^expected "and", "or" or "xor" before string "x"$/],
    ['dns.qry.name == "a\\nb"', 18, 2, /^unknown escape "\\n"/],
    ['dns.qry.name == "abc', 16, 4, /^unterminated string/],
    ['dns.qry.type in {90..80}', 17, 6, /^range start 90 is greater than its end 80$/],
    ['ip.src in {10.0.0.9..10.0.0.1}', 11, 18, /greater than its end/],
    ['ip.src in {10.0.0.1..::1}', 11, 13, /mixes IPv4 and IPv6/],
    ['dns.qry.type in {1 .. 3}', 19, 2, /^invalid range/],
    ['ip.src == 1.2.3', 10, 5, /^invalid IP address or CIDR "1\.2\.3"$/],
    ['ip.src == 10.0.0.0/33', 10, 11, /^invalid CIDR: "10\.0\.0\.0\/33": the prefix length must be 0 to 32 for IPv4$/],
    ['ip.src in {10.0.0.1/8}', 11, 10, /^invalid CIDR: 10\.0\.0\.1\/8 has host bits set \(the network is 10\.0\.0\.0\/8\)$/],
    ['ip.src in {2001:db8::1/32}', 11, 14, /^invalid CIDR: 2001:db8::1\/32 has host bits set \(the network is 2001:db8::\/32\)$/],
    ['ip.src == 2001:db8::g', 10, 11, /^invalid IP address or CIDR/],
    ['dns.qry.type == 1..3', 16, 4, /only allowed inside a set/],
    ['lower(dns.qry.name) == "x"', 0, 5, /^function calls .* are not supported$/],
    ['dns.qry.type == 1 & dns.qry.qu', 18, 1, /^unexpected "&"; use "&&"/],
    ['dns.qry.type == -1', 16, 1, /negative numbers/],
    ['dns.qry.type == 99999999999999999999', 16, 20, /out of range/],
    ["dns.qry.name == 'x'", 16, 1, /double-quoted/],
    ['dns.qry.name == "x" $', 20, 1, /^unexpected character "\$"$/],
  ];
  it.each(cases)('%s', (src, offset, length, message) => {
    const e = compileError(src);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('ConditionError');
    expect(e.message).toMatch(message);
    expect({ offset: e.offset, length: e.length }).toEqual({ offset, length });
  });
});
