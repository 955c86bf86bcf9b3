// From request bytes to response bytes: the checks every query passes (RFC 1035, 6891, 8482, 9619) before the
// authority answers, DNS Cookies (RFC 7873/9018), the refusal of TSIG-signed requests (RFC 8945: we hold no keys),
// response rate limiting of UDP answers (rrl.ts), and the size limit of the transport. Synchronous; never throws
// on bad input.
import { answerQuestion, ProofKind } from './authority';
import type { QueryContext } from './context';
import { CookieStatus } from './cookies';
import { RrlAction, RrlKind } from './rrl';
import { TSIG_BADKEY } from './tsig';
import { CLASSIC_UDP_SIZE, Rcode, RRClass, RRType } from './wire/constants';
import { decodeQuery, type Query } from './wire/decode';
import { encodeHeaderOnly } from './wire/encode';
import { rdataTxt } from './wire/rdata';
import type { RData } from './wire/records';
import type { ZoneTable } from './zone';

/** What the handler needs from the running configuration; swapped as a whole on reload. */
export interface DnsRuntime {
  zones: ZoneTable;
  ednsUdpSize: number;
  nsid: Buffer | null;
  /** CH TXT answer for id.server / hostname.bind, or null when no identity is configured. */
  identity: RData | null;
  /** Online DNSSEC signing, null when no zone is signed. */
  signer: AnswerSigner | null;
}

/**
 * The signing step between the answer and the encoder (src/dnssec): for a query with DO=1 it adds the RRSIGs and
 * the denial-of-existence records of the signed zones to `ctx.msg`. Synchronous, like the rest of the query path.
 */
export interface AnswerSigner {
  sign(ctx: QueryContext, q: Query): void;
}

export function identityRData(identity: string | null): RData | null {
  return identity === null ? null : rdataTxt([Buffer.from(identity, 'utf8').subarray(0, 255)]);
}

/**
 * Answers one DNS message in `ctx` (whose `outcome` then says what happened). Returns null when the packet gets no
 * answer (too short, a response, or dropped by rate limiting). Over TCP the answer carries its 2-byte length prefix.
 */
export function handleQuery(ctx: QueryContext, rt: DnsRuntime, pkt: Buffer, remoteAddress: string, transport: 'udp' | 'tcp', traces: unknown[] | null = null): Uint8Array | null {
  const q = decodeQuery(pkt, ctx.query);
  const outcome = ctx.outcome;
  const msg = ctx.msg;
  outcome.status = 'answered';
  outcome.qtype = q.qtype;
  outcome.qname = q.qname;
  outcome.truncated = false;
  outcome.problem = q.problem;
  outcome.cookie = CookieStatus.None;
  outcome.rrl = RrlAction.Ok;
  outcome.rrlKind = RrlKind.None;
  msg.reset();

  if (q.status === 'drop') {
    outcome.status = 'dropped';
    return null;
  }
  const edns = q.edns;
  ctx.client.reset(remoteAddress, edns !== null ? edns.ecs : null, transport, traces);
  if (q.status !== 'ok') return answerFailure(ctx, rt, q, pkt, transport);

  const cookies = ctx.cookies;
  if (cookies !== null && edns !== null && edns.cookieLen > 0) {
    outcome.cookie = cookies.check(pkt, edns.cookieAt, edns.cookieLen, ctx.client, ctx.now);
    msg.cookie = cookies.response;
  }

  if (q.tsig !== null) {
    // RFC 8945 §5.2.1: a key we do not know (we know none) is NOTAUTH with TSIG error BADKEY, unsigned (§5.3.2).
    msg.rcode = Rcode.NOTAUTH;
    msg.tsigError = TSIG_BADKEY;
  } else if (edns !== null && edns.version > 0) {
    msg.rcode = Rcode.BADVERS;
  } else if (q.qclass === RRClass.CH) {
    answerChaos(rt, q, ctx);
  } else if (q.qclass !== RRClass.IN) {
    // Design §2.1: every class but IN is REFUSED (QCLASS * included: our data is IN only, and answering IN
    // records to a class-ANY question would put a class in the answer that the question did not name).
    msg.rcode = Rcode.REFUSED;
  } else if (q.qtype === RRType.AXFR || q.qtype === RRType.IXFR) {
    msg.rcode = Rcode.REFUSED;
  } else if (q.qtype === RRType.OPT || (q.qtype >= 128 && q.qtype <= 254)) {
    // OPT is not a question (RFC 6891 §6.1.1), nor is NXNAME (RFC 9824 §3.5); MAILA/MAILB/… meta types are not
    // implemented.
    msg.rcode = q.qtype === RRType.OPT || q.qtype === RRType.NXNAME ? Rcode.FORMERR : Rcode.NOTIMP;
  } else if (!answerQuestion(ctx.answering, rt.zones, q.qname, q.qnameLabels, q.qtype)) {
    msg.rcode = Rcode.REFUSED;
  } else if (rt.signer !== null && edns !== null && edns.dnssecOk) {
    rt.signer.sign(ctx, q); // RFC 4035 §3.1
  }
  if (ctx.rrl !== null && transport === 'udp' && rateLimited(ctx, q)) return null;
  return encode(ctx, rt, q, pkt, transport);
}

/** Requests that got no further than the decoder: FORMERR, NOTIMP, or a question-less cookie request. */
function answerFailure(ctx: QueryContext, rt: DnsRuntime, q: Query, pkt: Buffer, transport: 'udp' | 'tcp'): Uint8Array | null {
  const msg = ctx.msg;
  const edns = q.edns;
  if (q.status === 'cookie' && ctx.cookies !== null && edns !== null) {
    // RFC 7873 §5.4: answered NOERROR with a server cookie and nothing else.
    ctx.outcome.cookie = ctx.cookies.check(pkt, edns.cookieAt, edns.cookieLen, ctx.client, ctx.now);
    msg.cookie = ctx.cookies.response;
  } else if (q.status === 'notimp' && q.tsig !== null) {
    // The signature is checked before the opcode is acted on (RFC 8945 §5.2): an unknown key is BADKEY.
    msg.rcode = Rcode.NOTAUTH;
    msg.tsigError = TSIG_BADKEY;
  } else {
    const rcode = q.status === 'notimp' ? Rcode.NOTIMP : Rcode.FORMERR;
    if (edns !== null && edns.cookieLen < 0) ctx.outcome.cookie = CookieStatus.Malformed;
    if (ctx.rrl !== null && transport === 'udp' && errorLimited(ctx)) return null;
    ctx.outcome.rcode = rcode;
    if (q.questionEnd === 0) return encodeHeaderOnly(q.id, q.flags, rcode, transport === 'tcp' ? 2 : 0);
    // FORMERR: a malformed OPT is not answered with one; an OPT whose only fault was an ECS or COOKIE option is
    // (without them), as is a well-formed OPT on NOTIMP (RFC 6891 §7, RFC 7873 §5.2.2). The decoder leaves edns
    // null when it was not well formed.
    if (q.status === 'formerr' && !(edns && edns.badOption)) q.edns = null;
    msg.rcode = rcode;
    return encode(ctx, rt, q, pkt, transport);
  }
  if (ctx.rrl !== null && transport === 'udp' && rateLimited(ctx, q)) return null;
  return encode(ctx, rt, q, pkt, transport);
}

/** Rate limiting of an error the decoder found (errors are never slipped); true when it is dropped. */
function errorLimited(ctx: QueryContext): boolean {
  const action = (ctx.rrl as NonNullable<QueryContext['rrl']>).account(ctx.client.resolver, RrlKind.Error, 0, 0, ctx.now);
  if (action === RrlAction.Ok) return false;
  const outcome = ctx.outcome;
  outcome.rrlKind = RrlKind.Error;
  outcome.rrl = action;
  if (action === RrlAction.LogOnly) return false;
  outcome.status = 'limited';
  return true;
}

/**
 * Response rate limiting of the UDP response in `ctx.msg` (rrl.ts). Returns true when it is dropped; a slipped
 * response is emptied and truncated in place. A request with a valid server cookie proved its address (RFC 7873
 * §5.2.5) and is not limited. One whose cookie was missing its server part or invalid gets BADCOOKIE with a fresh
 * server cookie as its slip (RFC 7873 §5.2.3–5.2.4: the client retries at once with it, over UDP) rather than TC=1.
 */
function rateLimited(ctx: QueryContext, q: Query): boolean {
  const outcome = ctx.outcome;
  if (outcome.cookie === CookieStatus.Valid) return false;
  const msg = ctx.msg;
  const rcode = msg.rcode;
  let kind: RrlKind;
  let qtype = 0;
  let nameHash = 0;
  if (rcode === Rcode.NOERROR || rcode === Rcode.NXDOMAIN) {
    // In class IN the authority said what the response is about; CH identity answers and cookie-only responses
    // have no name.
    const subject = q.qclass === RRClass.IN && q.questionEnd > 0 ? ctx.answering.subject : null;
    if (subject !== null) nameHash = subject.hash;
    // A signed denial of a name is NOERROR with compact denial (RFC 9824): still a nonexistent name for the limiter.
    if (rcode === Rcode.NXDOMAIN || ctx.answering.proofKind === ProofKind.NxDomain) {
      kind = RrlKind.Nxdomain;
    } else if (msg.answer.length > 0 || q.questionEnd === 0) {
      kind = RrlKind.Answer;
      qtype = q.qtype;
    } else if (!msg.aa) {
      kind = RrlKind.Referral;
    } else {
      kind = RrlKind.Nodata;
    }
  } else {
    kind = RrlKind.Error;
  }
  const action = (ctx.rrl as NonNullable<QueryContext['rrl']>).account(ctx.client.resolver, kind, qtype, nameHash, ctx.now);
  if (action === RrlAction.Ok) return false;
  outcome.rrlKind = kind;
  outcome.rrl = action;
  if (action === RrlAction.Drop) {
    outcome.status = 'limited';
    return true;
  }
  if (action === RrlAction.Slip) {
    const cookie = msg.cookie;
    const tsigError = msg.tsigError;
    msg.reset();
    msg.cookie = cookie;
    msg.tsigError = tsigError;
    if (cookie !== null) msg.rcode = Rcode.BADCOOKIE;
    else msg.truncate = true;
  }
  return false;
}

function encode(ctx: QueryContext, rt: DnsRuntime, q: Query, pkt: Buffer, transport: 'udp' | 'tcp'): Uint8Array {
  const encodeOptions = ctx.encodeOptions;
  let limit = 65535;
  if (transport === 'udp') {
    limit = q.edns ? Math.min(Math.max(q.edns.udpSize, CLASSIC_UDP_SIZE), rt.ednsUdpSize) : CLASSIC_UDP_SIZE;
  }
  encodeOptions.limit = limit;
  encodeOptions.ednsUdpSize = rt.ednsUdpSize;
  encodeOptions.nsid = rt.nsid;
  encodeOptions.prefix = transport === 'tcp' ? 2 : 0;
  encodeOptions.now = ctx.now;
  const msg = ctx.msg;
  const out = ctx.encoder.encode(q, pkt, msg, encodeOptions);
  ctx.outcome.rcode = msg.rcode;
  ctx.outcome.truncated = ctx.encoder.truncated;
  return out;
}

function answerChaos(rt: DnsRuntime, q: Query, ctx: QueryContext): void {
  const msg = ctx.msg;
  if (rt.identity !== null && q.qtype === RRType.TXT && (q.qname === 'id.server' || q.qname === 'hostname.bind')) {
    msg.answer.push({ owner: null, type: RRType.TXT, klass: RRClass.CH, ttl: 0, rdata: [rt.identity] });
    msg.aa = true;
    return;
  }
  msg.rcode = Rcode.REFUSED;
}
