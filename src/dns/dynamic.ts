// The seam between the authority and whatever answers names dynamically (the load balancers). The DNS layer
// knows only this interface: which types a name answers, and a synchronous call that fills in an answer.
import { parseIp, unmapIpv4, type IpAddr } from '../util/ip';
import type { Ecs } from './wire/decode';
import type { RData } from './wire/records';

// Resolvers are few and ask often: their parsed addresses are kept (bounded; cleared when full).
const parsedResolvers = new Map<string, IpAddr>();
const MAX_PARSED_RESOLVERS = 65536;

function resolverAddress(text: string): IpAddr {
  let ip = parsedResolvers.get(text);
  if (ip === undefined) {
    ip = unmapIpv4(parseIp(text) ?? { family: 4, bytes: new Uint8Array(4) });
    if (parsedResolvers.size >= MAX_PARSED_RESOLVERS) parsedResolvers.clear();
    parsedResolvers.set(text, ip);
  }
  return ip;
}

/** Who asked: the resolver's address (parsed on first use) and its ECS option. */
export class ClientInfo {
  private parsed: IpAddr | null = null;
  /**
   * Working memory a dynamic answerer (the load balancers) keeps with this query context, made by it on first use.
   * Opaque to the DNS layer; it lives as long as the context, so answers need no allocation of their own.
   */
  scratch: object | null = null;
  /**
   * Set by the authority while it answers for itself rather than for the client's question (addresses of MX/SRV
   * targets in ADDITIONAL, hostname endpoints resolved from our zones): dynamic answerers do not count these.
   */
  internal = false;
  constructor(
    public remoteAddress: string,
    public ecs: Ecs | null,
    public transport: 'udp' | 'tcp',
    /** When set (explain), dynamic names append a record of their decision here. Opaque to the DNS layer. */
    public traces: unknown[] | null = null,
  ) {}

  /** Reuses this object for the next query (each query context keeps one). */
  reset(remoteAddress: string, ecs: Ecs | null, transport: 'udp' | 'tcp', traces: unknown[] | null): this {
    this.remoteAddress = remoteAddress;
    this.ecs = ecs;
    this.transport = transport;
    this.traces = traces;
    this.parsed = null;
    this.internal = false;
    return this;
  }

  get resolver(): IpAddr {
    if (this.parsed === null) this.parsed = resolverAddress(this.remoteAddress);
    return this.parsed;
  }

  /** ECS that carries an address (source prefix 0 means "do not use my address", RFC 7871 §7.1.2). */
  get usableEcs(): Ecs | null {
    return this.ecs !== null && this.ecs.sourcePrefix > 0 ? this.ecs : null;
  }
}

export interface DynamicAnswer {
  /** 'answer': `rdata` holds the records; 'nodata': nothing to answer (NOERROR with the zone SOA). */
  status: 'answer' | 'nodata';
  rdata: RData[];
  ttl: number;
  /** ECS scope prefix this answer depends on (0: not on the client address). */
  ecsScope: number;
}

export interface DynamicName {
  /** Query types answered dynamically at this name; other types fall through to static records. */
  serves(qtype: number): boolean;
  /** Synchronous, no I/O: fills `out` for this client. `qname` is the lowercase name asked (wildcards). */
  answer(qtype: number, qname: string, client: ClientInfo, out: DynamicAnswer): void;
  /**
   * The answers this name is likely to give (each candidate pool's set as health stands), so that a signer can
   * sign them ahead, off the query path. Optional; never called on the query path.
   */
  likelyAnswers?(visit: (qtype: number, ttl: number, rdata: readonly RData[]) => void): void;
}

export function newDynamicAnswer(): DynamicAnswer {
  return { status: 'nodata', rdata: [], ttl: 0, ecsScope: 0 };
}
