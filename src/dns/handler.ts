// From request bytes to response bytes: the checks every query passes (RFC 1035, 6891, 8482, 9619) before the
// authority answers, and the size limit of the transport. Synchronous; never throws on bad input.
import { answerQuestion } from './authority';
import type { QueryContext } from './context';
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
 * answer (too short, or a response). Over TCP the answer carries its 2-byte length prefix.
 */
export function handleQuery(ctx: QueryContext, rt: DnsRuntime, pkt: Buffer, remoteAddress: string, transport: 'udp' | 'tcp', traces: unknown[] | null = null): Uint8Array | null {
  const q = decodeQuery(pkt, ctx.query);
  const outcome = ctx.outcome;
  const msg = ctx.msg;
  const prefix = transport === 'tcp' ? 2 : 0;
  outcome.status = 'answered';
  outcome.qtype = q.qtype;
  outcome.qname = q.qname;
  outcome.truncated = false;
  outcome.problem = q.problem;
  msg.reset();

  if (q.status === 'drop') {
    outcome.status = 'dropped';
    return null;
  }
  if (q.status !== 'ok') {
    const rcode = q.status === 'notimp' ? Rcode.NOTIMP : Rcode.FORMERR;
    outcome.rcode = rcode;
    if (q.questionEnd === 0) return encodeHeaderOnly(q.id, q.flags, rcode, prefix);
    // FORMERR: a malformed OPT is not answered with one; an OPT whose only fault was its ECS option is (without
    // ECS), as is a well-formed OPT on NOTIMP (RFC 6891 §7). The decoder leaves edns null when it was not well formed.
    if (q.status === 'formerr' && !(q.edns && q.edns.badEcs)) q.edns = null;
    msg.rcode = rcode;
    return encode(ctx, rt, q, pkt, transport);
  }

  if (q.edns && q.edns.version > 0) {
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
  } else {
    ctx.client.reset(remoteAddress, q.edns ? q.edns.ecs : null, transport, traces);
    if (!answerQuestion(ctx.answering, rt.zones, q.qname, q.qnameLabels, q.qtype)) msg.rcode = Rcode.REFUSED;
    else if (rt.signer !== null && q.edns !== null && q.edns.dnssecOk) rt.signer.sign(ctx, q); // RFC 4035 §3.1
  }
  return encode(ctx, rt, q, pkt, transport);
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
