// Cookies, TSIG refusal and rate limiting through the handler (in-process, one query context): what the response
// looks like on the wire and what the context's outcome records for the metrics.
import * as os from 'node:os';
import * as path from 'node:path';
import * as dnsPacket from 'dns-packet';
import { loadConfigText } from '../../src/config/load';
import type { RrlConfig } from '../../src/config/types';
import { CLOCK_EPOCH } from '../../src/dns/clock';
import { QueryContext } from '../../src/dns/context';
import { CookieStatus, ServerCookies, secretFromHex } from '../../src/dns/cookies';
import { handleQuery } from '../../src/dns/handler';
import { RateLimiter, RrlAction, RrlKind, rrlSettings } from '../../src/dns/rrl';
import { noHostnames } from '../../src/lb/views';
import { buildRuntime, type Runtime } from '../../src/runtime';
import { COOKIE, NSID, optRecord, rawQuery, u16, wireName, type EdnsOpt, type RawQuery } from './packets';

const YAML = `
server: { listen: ["127.0.0.1:0"], http: null, identity: guard-id }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: www, type: A, values: [192.0.2.1, 192.0.2.2] }
      - { name: "*.wild", type: A, value: 192.0.2.9 }
      - { name: sub, type: NS, value: ns.sub }
      - { name: ns.sub, type: A, value: 192.0.2.99 }
`;

function runtime(): Runtime {
  const { config, problems } = loadConfigText(YAML, 'guard.yaml', path.join(os.tmpdir(), 'guard.yaml'));
  if (!config) throw new Error(problems.map((p) => p.message).join('\n'));
  const built = buildRuntime(config, { store: null, hostnames: noHostnames });
  if (!built.runtime) throw new Error(built.problems.map((p) => p.message).join('\n'));
  return built.runtime;
}

const rt = runtime();
const T = 1_700_000_000; // Unix seconds
const NOW = T - CLOCK_EPOCH; // the coarse clock
const SECRET = secretFromHex('e5e973e5a6b2a43f48e7dc849e37bfcf');

function context(o: { cookies?: boolean; rrl?: Partial<RrlConfig> } = {}): QueryContext {
  const ctx = new QueryContext();
  ctx.now = NOW;
  if (o.cookies !== false) ctx.cookies = new ServerCookies({ secret: SECRET, rotation: 0 }, NOW);
  if (o.rrl) {
    const cfg: RrlConfig = { responses_per_second: 3, nxdomains_per_second: null, errors_per_second: null, window: 5, slip: 2, ipv4_prefix_length: 24, ipv6_prefix_length: 56, exempt: [], log_only: false, max_table_size: 1024, ...o.rrl };
    ctx.rrl = new RateLimiter(rrlSettings(cfg), NOW);
  }
  return ctx;
}

const cookieOpt = (hex: string): EdnsOpt => ({ code: 10, data: Buffer.from(hex, 'hex') });

function ask(ctx: QueryContext, pkt: Buffer, from = '127.0.0.2', transport: 'udp' | 'tcp' = 'udp'): dnsPacket.DecodedPacket & { raw: Buffer } | null {
  const out = handleQuery(ctx, rt, pkt, from, transport);
  if (out === null) return null;
  const raw = Buffer.from(transport === 'tcp' ? out.subarray(2) : out);
  return Object.assign(dnsPacket.decode(raw), { raw });
}

/** The COOKIE option data of a response, as hex ('' when none). */
function cookieOf(r: dnsPacket.DecodedPacket): string {
  const opt = (r.additionals ?? []).find((a) => a.type === 'OPT') as { options?: { code: number; data: Buffer }[] } | undefined;
  const c = opt?.options?.find((o) => o.code === 10);
  return c ? Buffer.from(c.data).toString('hex') : '';
}

/** dns-packet's rcode name (its typings leave it out). */
const rcodeName = (r: dnsPacket.DecodedPacket): string => (r as unknown as { rcode: string }).rcode;

function rcodeOf(raw: Buffer, r: dnsPacket.DecodedPacket): number {
  const opt = (r.additionals ?? []).find((a) => a.type === 'OPT') as { extendedRcode?: number } | undefined;
  return ((opt?.extendedRcode ?? 0) << 4) | (raw[3] & 0xf);
}

describe('DNS cookies through the handler', () => {
  test('a client cookie gets a server cookie; sending it back is valid and echoed', () => {
    const ctx = context();
    const first = ask(ctx, rawQuery({ opt: { options: [COOKIE] } }))!;
    expect(ctx.outcome.cookie).toBe(CookieStatus.ClientOnly);
    expect(rcodeName(first)).toBe('NOERROR');
    expect(first.answers).toHaveLength(2);
    const cookie = cookieOf(first);
    expect(cookie).toHaveLength(48);
    expect(cookie.slice(0, 16)).toBe(COOKIE.data.toString('hex'));
    const again = ask(ctx, rawQuery({ opt: { options: [cookieOpt(cookie)] } }))!;
    expect(ctx.outcome.cookie).toBe(CookieStatus.Valid);
    expect(cookieOf(again)).toBe(cookie);
    // From another address the same cookie is not ours.
    ask(ctx, rawQuery({ opt: { options: [cookieOpt(cookie)] } }), '127.0.0.9');
    expect(ctx.outcome.cookie).toBe(CookieStatus.Invalid);
  });

  test('an invalid server cookie is answered normally, with a fresh one', () => {
    const ctx = context();
    const r = ask(ctx, rawQuery({ opt: { options: [cookieOpt('0123456789abcdef' + '01000000' + '6553f100' + '0000000000000000')] } }))!;
    expect(ctx.outcome.cookie).toBe(CookieStatus.Invalid);
    expect(rcodeName(r)).toBe('NOERROR');
    expect(r.answers).toHaveLength(2);
    const fresh = cookieOf(r);
    ask(ctx, rawQuery({ opt: { options: [cookieOpt(fresh)] } }));
    expect(ctx.outcome.cookie).toBe(CookieStatus.Valid);
  });

  test('a malformed cookie is FORMERR with an OPT and no cookie (RFC 7873 §5.2.2)', () => {
    const ctx = context();
    const r = ask(ctx, rawQuery({ opt: { options: [cookieOpt('0102030405')] } }))!;
    expect(rcodeName(r)).toBe('FORMERR');
    expect(ctx.outcome.cookie).toBe(CookieStatus.Malformed);
    expect((r.additionals ?? []).some((a) => a.type === 'OPT')).toBe(true);
    expect(cookieOf(r)).toBe('');
  });

  test('cookies off: the option is ignored', () => {
    const ctx = context({ cookies: false });
    const r = ask(ctx, rawQuery({ opt: { options: [COOKIE] } }))!;
    expect(rcodeName(r)).toBe('NOERROR');
    expect(cookieOf(r)).toBe('');
    expect(ctx.outcome.cookie).toBe(CookieStatus.None);
  });

  test('a question-less query with a cookie gets NOERROR and a server cookie (§5.4); FORMERR with cookies off', () => {
    const pkt = rawQuery({ questions: [], opt: { options: [COOKIE] } });
    const r = ask(context(), pkt)!;
    expect(rcodeName(r)).toBe('NOERROR');
    expect(r.questions).toHaveLength(0);
    expect(r.answers).toHaveLength(0);
    expect(cookieOf(r)).toHaveLength(48);
    const off = ask(context({ cookies: false }), pkt)!;
    expect(rcodeName(off)).toBe('FORMERR');
    expect(off.raw).toHaveLength(12);
  });

  test('BADVERS and NXDOMAIN answers carry the cookie too', () => {
    const ctx = context();
    const bad = ask(ctx, rawQuery({ opt: { version: 1, options: [COOKIE] } }))!;
    expect(rcodeOf(bad.raw, bad)).toBe(16);
    expect(cookieOf(bad)).toHaveLength(48);
    const nx = ask(ctx, rawQuery({ questions: [{ name: 'nope.example.com', type: 1 }], opt: { options: [COOKIE] } }))!;
    expect(rcodeName(nx)).toBe('NXDOMAIN');
    expect(cookieOf(nx)).toHaveLength(48);
  });
});

describe('TSIG through the handler (RFC 8945)', () => {
  function tsigRecord(owner = wireName('key.example'), alg = wireName('hmac-sha256')): Buffer {
    const rdata = Buffer.concat([alg, Buffer.from([0, 0, 0x65, 0x5f, 0x1a, 0x00]), u16(300), u16(32), Buffer.alloc(32, 9), u16(0x4242), u16(0), u16(0)]);
    return Buffer.concat([owner, u16(250), u16(255), Buffer.alloc(4), u16(rdata.length), rdata]);
  }

  /** The last record of the response, which must be the TSIG: owner, and its RDATA fields. */
  function lastTsig(raw: Buffer): { owner: string; alg: string; fudge: number; macSize: number; originalId: number; error: number; otherLen: number; time: number } {
    const d = dnsPacket.decode(raw);
    const last = d.additionals![d.additionals!.length - 1] as unknown as { name: string; type: string; data: Buffer };
    expect(last.type).toBe('TSIG');
    const b = Buffer.from(last.data);
    let off = 0;
    const labels: string[] = [];
    while (b[off] !== 0) {
      labels.push(b.subarray(off + 1, off + 1 + b[off]).toString());
      off += b[off] + 1;
    }
    off++;
    const time = b.readUInt16BE(off) * 2 ** 32 + b.readUInt32BE(off + 2);
    const macSize = b.readUInt16BE(off + 8);
    const at = off + 10 + macSize;
    expect(at + 6 + b.readUInt16BE(at + 4)).toBe(b.length);
    return { owner: last.name, alg: labels.join('.'), time, fudge: b.readUInt16BE(off + 6), macSize, originalId: b.readUInt16BE(at), error: b.readUInt16BE(at + 2), otherLen: b.readUInt16BE(at + 4) };
  }

  test('a signed query gets NOTAUTH, no answer, and an unsigned TSIG with BADKEY last', () => {
    const ctx = context();
    const pkt = rawQuery({ id: 0x5151, opt: { options: [COOKIE] }, extraAdditional: [tsigRecord()] });
    const r = ask(ctx, pkt)!;
    expect(r.raw[3] & 0xf).toBe(9); // NOTAUTH
    expect(r.answers).toHaveLength(0);
    expect(r.questions).toEqual([{ name: 'www.example.com', type: 'A', class: 'IN' }]);
    expect(r.additionals!.map((a) => a.type)).toEqual(['OPT', 'TSIG']);
    expect(cookieOf(r)).toHaveLength(48);
    expect(lastTsig(r.raw)).toEqual({ owner: 'key.example', alg: 'hmac-sha256', time: T, fudge: 300, macSize: 0, originalId: 0x5151, error: 17, otherLen: 0 });
  });

  test('a compressed key name is written out in full', () => {
    const owner = Buffer.concat([Buffer.from([3]), Buffer.from('key'), Buffer.from([0xc0, 16])]);
    const r = ask(context(), rawQuery({ extraAdditional: [tsigRecord(owner)] }))!;
    expect(lastTsig(r.raw).owner).toBe('key.example.com');
  });

  test('TSIG on an opcode we do not implement is BADKEY too; a misplaced TSIG is FORMERR without one', () => {
    const upd = ask(context(), rawQuery({ flags: 5 << 11, extraAdditional: [tsigRecord()] }))!;
    expect(upd.raw[3] & 0xf).toBe(9);
    expect(lastTsig(upd.raw).error).toBe(17);
    const bad = ask(context(), rawQuery({ extraAdditional: [tsigRecord(), optRecord({})] }))!;
    expect(rcodeName(bad)).toBe('FORMERR');
    expect((bad.additionals ?? []).some((a) => (a.type as string) === 'TSIG')).toBe(false);
  });
});

describe('rate limiting through the handler', () => {
  const q = (name: string, type = 1, opt?: RawQuery['opt']): Buffer => rawQuery({ questions: [{ name, type }], opt });

  test('answers over the rate: every other one slips as TC=1 with the question and nothing else', () => {
    const ctx = context({ rrl: {} });
    const seen: string[] = [];
    for (let i = 0; i < 9; i++) {
      const r = ask(ctx, q('www.example.com'));
      if (r === null) {
        expect(ctx.outcome.status).toBe('limited');
        expect(ctx.outcome.rrl).toBe(RrlAction.Drop);
        seen.push('drop');
      } else if (r.flag_tc) {
        expect(r.answers).toHaveLength(0);
        expect(r.authorities).toHaveLength(0);
        expect(r.questions).toHaveLength(1);
        expect(ctx.outcome.rrl).toBe(RrlAction.Slip);
        expect(ctx.outcome.rrlKind).toBe(RrlKind.Answer);
        seen.push('tc');
      } else {
        expect(r.answers).toHaveLength(2);
        seen.push('ok');
      }
    }
    expect(seen).toEqual(['ok', 'ok', 'ok', 'tc', 'drop', 'tc', 'drop', 'tc', 'drop']);
  });

  test('TCP is never limited', () => {
    const ctx = context({ rrl: {} });
    for (let i = 0; i < 20; i++) expect(ask(ctx, q('www.example.com'), '127.0.0.2', 'tcp')?.answers).toHaveLength(2);
  });

  test('NXDOMAIN is keyed by the zone: random names share one account', () => {
    const ctx = context({ rrl: { nxdomains_per_second: 2, slip: 0 } });
    const answered = Array.from({ length: 10 }, (_, i) => ask(ctx, q(`r${i}-${Math.random()}.example.com`))).filter((r) => r !== null);
    expect(answered).toHaveLength(2);
    expect(ctx.outcome.rrlKind).toBe(RrlKind.Nxdomain);
  });

  test('wildcard answers share one account (the wildcard); kinds and types are apart', () => {
    const ctx = context({ rrl: { slip: 0 } });
    expect(Array.from({ length: 6 }, (_, i) => ask(ctx, q(`h${i}.wild.example.com`))).filter((r) => r !== null)).toHaveLength(3);
    // NODATA for the same names is another kind, another account.
    expect(rcodeName(ask(ctx, q('h0.wild.example.com', 28))!)).toBe('NOERROR');
    expect(ctx.outcome.rrl).toBe(RrlAction.Ok);
    // A referral, keyed by the delegation.
    for (let i = 0; i < 3; i++) expect(ask(ctx, q(`a${i}.sub.example.com`))).not.toBeNull();
    expect(ask(ctx, q('zz.sub.example.com'))).toBeNull();
    expect(ctx.outcome.rrlKind).toBe(RrlKind.Referral);
  });

  test('errors share one account per prefix, whatever the question', () => {
    const ctx = context({ rrl: { errors_per_second: 2, slip: 1 } });
    const out = [q('www.example.net'), q('x.example.org'), rawQuery({ qdcount: 2 }), q('www.example.com', 252)].map((p) => ask(ctx, p));
    expect(out.map((r) => (r === null ? null : rcodeName(r)))).toEqual(['REFUSED', 'REFUSED', null, null]);
    expect(ctx.outcome.rrlKind).toBe(RrlKind.Error);
  });

  test('a valid server cookie is exempt; a client-only cookie slips as BADCOOKIE with a fresh cookie', () => {
    const ctx = context({ rrl: { slip: 1 } });
    const first = ask(ctx, q('www.example.com', 1, { options: [COOKIE] }))!;
    const cookie = cookieOf(first);
    for (let i = 0; i < 20; i++) {
      const r = ask(ctx, q('www.example.com', 1, { options: [cookieOpt(cookie)] }))!;
      expect(r.answers).toHaveLength(2);
      expect(ctx.outcome.cookie).toBe(CookieStatus.Valid);
    }
    // The valid requests did not touch the account: 2 credits remain for the client-only ones.
    const seen = Array.from({ length: 4 }, () => ask(ctx, q('www.example.com', 1, { options: [COOKIE] }))!);
    expect(seen.map((r) => rcodeOf(r.raw, r))).toEqual([0, 0, 23, 23]);
    const bad = seen[3];
    expect(bad.flag_tc).toBe(false);
    expect(bad.answers).toHaveLength(0);
    expect(cookieOf(bad)).toHaveLength(48);
    // The BADCOOKIE's cookie is valid: the retry is answered.
    expect(ask(ctx, q('www.example.com', 1, { options: [cookieOpt(cookieOf(bad))] }))!.answers).toHaveLength(2);
  });

  test('log_only answers everything and records what it would have limited', () => {
    const ctx = context({ rrl: { log_only: true } });
    const actions: RrlAction[] = [];
    for (let i = 0; i < 6; i++) {
      expect(ask(ctx, q('www.example.com'))!.answers).toHaveLength(2);
      actions.push(ctx.outcome.rrl);
    }
    expect(actions).toEqual([0, 0, 0, RrlAction.LogOnly, RrlAction.LogOnly, RrlAction.LogOnly]);
    expect(ctx.rrl?.report()?.limited).toBe(3);
  });

  test('identity (CH TXT) answers are accounted as answers without a name', () => {
    const ctx = context({ rrl: { slip: 0 } });
    const out = Array.from({ length: 5 }, () => ask(ctx, rawQuery({ questions: [{ name: 'id.server', type: 16, klass: 3 }] })));
    expect(out.filter((r) => r !== null)).toHaveLength(3);
    expect(ctx.outcome.rrlKind).toBe(RrlKind.Answer);
  });

  test('NSID requests are unaffected by cookies being on', () => {
    const r = ask(context(), rawQuery({ opt: { options: [NSID] } }))!;
    expect(rcodeName(r)).toBe('NOERROR');
    expect(cookieOf(r)).toBe('');
  });
});
