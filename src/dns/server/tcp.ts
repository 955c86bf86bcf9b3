// TCP listener (RFC 7766): 2-byte length framing, pipelined queries answered in order on one connection,
// an idle timeout that only a complete query resets, a limit on how long one frame may take to arrive, caps on
// connections overall and per client network, and bounded memory for answers that clients do not read.
//
// RFC 7766 §6.2.3 (https://www.rfc-editor.org/rfc/rfc7766#section-6.2.3): the server's idle period should be on
// the order of seconds, and a server may close idle connections (sooner under load or attack) to get its
// resources back. A client that trickles bytes without ever completing a query is idle in that sense. §10
// (https://www.rfc-editor.org/rfc/rfc7766#section-10) lists the limits a server should have: total connections,
// connections per source address or subnet, idle timeout.
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { ListenAddress } from '../../config/types';
import type { Logger } from '../../observe/log';
import type { Responder, TransportEvents } from './types';

export interface TcpLimits {
  /** Seconds without a complete query (since accept or the last answered query) before the connection is closed. */
  idleTimeout: number;
  maxConnections: number;
  /** Open connections per client network: the /24 of an IPv4 address, the /56 of an IPv6 address. */
  maxConnectionsPerClient: number;
}

/** Real bytes of unread answers one connection may hold before it is dropped ('slow_reader'). */
const MAX_UNREAD_BYTES = 1024 * 1024;
/** Default for the process-wide budget of unread TCP answers (tcpQueueBudget). */
export const DEFAULT_MAX_QUEUED_BYTES = 32 * 1024 * 1024;
/**
 * A frame (length prefix and message) must arrive in full within this many ms of its first byte, or the
 * connection is closed ('partial_frame'); never longer than idle_timeout. A query is one or two segments, so a
 * client that needs seconds for one is trickling bytes to hold a slot (slowloris). Knot DNS's tcp-io-timeout
 * (500 ms) is stricter; 2 s leaves room for a few retransmissions on a lossy path.
 */
const PARTIAL_FRAME_TIMEOUT_MS = 2000;
/** A connection closed by a timeout has this long to read the answers still queued for it, then it is destroyed. */
const CLOSE_GRACE_MS = 2000;
/**
 * Answers are copied out of the encoder's 256 KB slab (a view that waits in a socket queue would keep the whole
 * slab alive) into buffers of this size: one shared by a listener's connections for answers written at once,
 * and one per connection that coalesces the answers waiting while its socket is backed up.
 */
const CHUNK_SIZE = 16 * 1024;
/** Larger answers get a copy of their own rather than a quarter or more of a shared chunk. */
const OWN_COPY_ABOVE = CHUNK_SIZE / 4;

/**
 * Bytes held in this process for TCP clients that have not read them yet, across every listener and connection:
 * what the socket queues pin (buffer capacities, not answer lengths). Memory is per process, so the budget is.
 * A connection whose queue would grow past `limit` is closed ('queue_budget').
 */
export const tcpQueueBudget = { limit: DEFAULT_MAX_QUEUED_BYTES, used: 0 };

/**
 * The key that per-client caps count under: the /24 of an IPv4 address (IPv4-mapped IPv6 included), the /56 of
 * an IPv6 address (the smallest assignment to one customer site). One host owns many addresses of its network,
 * so counting per address lets it take every slot.
 */
export function clientPrefix(address: string): string {
  let a = address;
  if (a.startsWith('::ffff:') && a.includes('.')) a = a.slice(7);
  if (!a.includes(':')) return `${a.slice(0, a.lastIndexOf('.'))}.0/24`;
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  const halves = a.split('::');
  const head = halves[0] === '' ? [] : halves[0].split(':');
  const tail = halves.length > 1 && halves[1] !== '' ? halves[1].split(':') : [];
  // An embedded IPv4 address (last 32 bits) counts as two groups.
  const width = (gs: string[]): number => gs.length + (gs.length > 0 && gs[gs.length - 1].includes('.') ? 1 : 0);
  const gap = halves.length > 1 ? 8 - width(head) - width(tail) : 0;
  const groups: number[] = [];
  for (const g of head) groups.push(parseInt(g, 16) || 0);
  for (let i = 0; i < gap; i++) groups.push(0);
  for (const g of tail) groups.push(parseInt(g, 16) || 0);
  while (groups.length < 4) groups.push(0);
  return `${groups[0].toString(16)}:${groups[1].toString(16)}:${groups[2].toString(16)}:${(groups[3] >> 8).toString(16)}/56`;
}

/** One accepted connection: framing state, timestamps for the sweep, and the answers waiting to be written. */
class Connection {
  /** performance.now() of the accept or the last answered query. */
  lastQuery: number;
  /** performance.now() of the first byte of the frame still incomplete; 0 when none is. */
  partialSince = 0;
  /** performance.now() when a timeout closed it; 0 while open. */
  closingSince = 0;
  /** After 'close': late write callbacks must not touch the budget. */
  gone = false;
  /** The incomplete frame received so far (length prefix included); grows by doubling up to the frame size. */
  pending: Buffer | null = null;
  pendingUsed = 0;

  /** Bytes this connection holds in tcpQueueBudget. */
  charged = 0;
  /** The charge of each write handed to the socket and not yet done (0: the kernel took it at once), oldest first. */
  readonly inFlight: number[] = [];
  /** Answers waiting while the socket is backed up, coalesced. */
  chunk: Buffer | null = null;
  chunkUsed = 0;
  readonly onWritten: () => void;

  constructor(
    readonly sock: net.Socket,
    readonly client: string,
    readonly prefix: string,
    now: number,
    written: (c: Connection) => void,
  ) {
    this.lastQuery = now;
    this.onWritten = () => written(this);
  }
}

export class TcpListener {
  private server: net.Server | null = null;
  private readonly connections = new Set<Connection>();
  private readonly perClient = new Map<string, number>();
  private closing = false;
  private sweepTimer: NodeJS.Timeout | null = null;
  /** The shared buffer answers written at once are copied into. */
  private out = new Uint8Array(CHUNK_SIZE);
  private outUsed = 0;

  constructor(
    readonly address: ListenAddress,
    private readonly respond: Responder,
    private limits: TcpLimits,
    private readonly events: TransportEvents,
    private readonly log: Logger,
  ) {}

  setLimits(limits: TcpLimits): void {
    this.limits = limits;
    if (this.sweepTimer) {
      this.stopSweep();
      this.startSweep();
    }
  }

  start(exclusive = true): Promise<void> {
    // allowHalfOpen: a client that sends its queries and then FIN still gets the answers queued behind a write.
    const server = net.createServer({ noDelay: true, pauseOnConnect: false, allowHalfOpen: true }, (sock) => this.onConnection(sock));
    this.server = server;
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      server.listen({ host: this.address.host, port: this.address.port, ipv6Only: this.address.family === 6, exclusive, backlog: 1024 }, () => {
        server.off('error', onError);
        server.on('error', (err) => this.log.error('tcp server error', { err }));
        resolve();
      });
    });
  }

  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : this.address.port;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private onConnection(sock: net.Socket): void {
    const client = sock.remoteAddress ?? '?';
    if (this.closing || this.connections.size >= this.limits.maxConnections) {
      this.events.tcpRejected('max_connections');
      sock.destroy();
      return;
    }
    const prefix = clientPrefix(client);
    const n = this.perClient.get(prefix) ?? 0;
    if (n >= this.limits.maxConnectionsPerClient) {
      this.events.tcpRejected('per_client');
      sock.destroy();
      return;
    }
    this.perClient.set(prefix, n + 1);
    const c = new Connection(sock, client, prefix, performance.now(), (conn) => this.written(conn));
    this.connections.add(c);
    if (!this.sweepTimer) this.startSweep();

    sock.on('data', (chunk: Buffer) => this.onData(c, chunk));
    sock.on('end', () => {
      // The client is done sending: finish writing its answers, then close our side.
      if (c.closingSince === 0) this.flushChunk(c);
      sock.end();
    });
    sock.on('error', (err) => this.log.debug('tcp connection error', { client, err: err.message }));
    sock.on('close', () => this.forget(c));
  }

  private onData(c: Connection, chunk: Buffer): void {
    if (c.closingSince !== 0 || c.sock.destroyed) return;
    const now = performance.now();
    let off = 0;
    if (c.pending !== null) {
      off = fillPending(c, c.pending, chunk);
      if (c.pendingUsed < 2 || c.pendingUsed < 2 + c.pending.readUInt16BE(0)) return; // still incomplete
      const frame = c.pending.subarray(2, c.pendingUsed);
      c.pending = null;
      c.pendingUsed = 0;
      if (this.answer(c, frame)) c.lastQuery = now;
      if (c.sock.destroyed) return;
    }
    while (chunk.length - off >= 2) {
      const len = chunk.readUInt16BE(off);
      if (chunk.length - off - 2 < len) break;
      const frame = chunk.subarray(off + 2, off + 2 + len);
      off += 2 + len;
      if (this.answer(c, frame)) c.lastQuery = now;
      if (c.sock.destroyed) return;
    }
    if (off < chunk.length) {
      // A new frame starts in this chunk. Copy its bytes: a view would keep the whole received chunk alive.
      const rest = chunk.length - off;
      c.pending = Buffer.allocUnsafeSlow(Math.max(rest, 64));
      chunk.copy(c.pending, 0, off);
      c.pendingUsed = rest;
      c.partialSince = now;
    } else {
      c.partialSince = 0;
    }
  }

  /** Answers one frame; false when it got no answer (junk does not keep a connection alive). */
  private answer(c: Connection, frame: Buffer): boolean {
    let out: Uint8Array | null;
    try {
      out = this.respond(frame, c.client, 'tcp');
    } catch (err) {
      this.log.error('internal error answering a query', { err, from: c.client });
      this.events.dropped('tcp', 'internal error');
      return false;
    }
    if (out === null) {
      this.events.dropped('tcp', 'not a query');
      return false;
    }
    const len = out.length;
    if (c.chunkUsed === 0 && c.sock.writableLength === 0) {
      // Nothing waiting: the kernel nearly always takes the answer at once. When it cannot, the write keeps the
      // buffer it was copied into (the shared chunk, or the answer's own copy) until it is done: count that.
      const own = len > OWN_COPY_ABOVE;
      this.send(c, this.copyOut(out), 0);
      if (c.sock.writableLength > 0) {
        const pinned = own ? len : CHUNK_SIZE;
        c.inFlight[c.inFlight.length - 1] = pinned;
        this.charge(c, pinned);
      }
      return true;
    }
    // The socket is backed up: the answer waits, coalesced with the others in the connection's own chunk.
    if (c.chunk === null || c.chunk.length - c.chunkUsed < len) {
      const size = Math.max(CHUNK_SIZE, len);
      if (c.charged + size > MAX_UNREAD_BYTES) return this.drop(c, 'slow_reader');
      if (tcpQueueBudget.used + size > tcpQueueBudget.limit) return this.drop(c, 'queue_budget');
      if (c.chunk !== null) this.flushChunk(c);
      c.chunk = Buffer.allocUnsafeSlow(size);
      c.chunkUsed = 0;
      this.charge(c, size);
    }
    c.chunk.set(out, c.chunkUsed);
    c.chunkUsed += len;
    return true;
  }

  /** A copy of an answer that holds none of the encoder's slab. */
  private copyOut(out: Uint8Array): Uint8Array {
    const len = out.length;
    if (len > OWN_COPY_ABOVE) return out.slice();
    if (this.outUsed + len > CHUNK_SIZE) {
      this.out = new Uint8Array(CHUNK_SIZE);
      this.outUsed = 0;
    }
    const at = this.outUsed;
    this.out.set(out, at);
    this.outUsed = at + len;
    // A plain view: Buffer#subarray costs several times more than the copy itself.
    return new Uint8Array(this.out.buffer, at, len);
  }

  private send(c: Connection, buf: Uint8Array, charge: number): void {
    c.inFlight.push(charge);
    c.sock.write(buf, c.onWritten);
  }

  /** A write reached the kernel (or failed): release its charge; once the socket has drained, send what waited. */
  private written(c: Connection): void {
    if (c.gone) return;
    const done = c.inFlight.shift();
    if (done !== undefined && done > 0) this.release(c, done);
    if (c.chunkUsed > 0 && c.sock.writableLength === 0 && !c.sock.destroyed) this.flushChunk(c);
  }

  /** Hands the coalesced answers to the socket; its charge stays until the write is done. */
  private flushChunk(c: Connection): void {
    const chunk = c.chunk;
    if (chunk === null || c.chunkUsed === 0 || !c.sock.writable) return;
    const used = c.chunkUsed;
    c.chunk = null;
    c.chunkUsed = 0;
    this.send(c, chunk.subarray(0, used), chunk.length);
  }

  private charge(c: Connection, n: number): void {
    c.charged += n;
    tcpQueueBudget.used += n;
  }

  private release(c: Connection, n: number): void {
    c.charged -= n;
    tcpQueueBudget.used -= n;
  }

  private drop(c: Connection, reason: 'slow_reader' | 'queue_budget'): false {
    this.events.tcpRejected(reason);
    c.sock.destroy();
    return false;
  }

  private forget(c: Connection): void {
    if (c.gone) return;
    c.gone = true;
    tcpQueueBudget.used -= c.charged;
    c.charged = 0;
    c.chunk = null;
    c.pending = null;
    this.connections.delete(c);
    const left = (this.perClient.get(c.prefix) ?? 1) - 1;
    if (left <= 0) this.perClient.delete(c.prefix);
    else this.perClient.set(c.prefix, left);
    if (this.connections.size === 0) this.stopSweep();
  }

  // ---- timeouts: one periodic sweep over all connections, no timer per connection or per byte ----------------

  private startSweep(): void {
    const period = Math.min(1000, Math.max(25, this.partialTimeoutMs() / 4));
    this.sweepTimer = setInterval(() => this.sweep(performance.now()), period);
    this.sweepTimer.unref();
  }

  private stopSweep(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  private partialTimeoutMs(): number {
    return Math.min(PARTIAL_FRAME_TIMEOUT_MS, this.limits.idleTimeout * 1000);
  }

  private sweep(now: number): void {
    const idleMs = this.limits.idleTimeout * 1000;
    const partialMs = this.partialTimeoutMs();
    for (const c of this.connections) {
      if (c.closingSince !== 0) {
        // Closed, but its answers are still unread after the grace period: let go of them.
        if (now - c.closingSince >= CLOSE_GRACE_MS) c.sock.destroy();
      } else if (c.partialSince !== 0 && now - c.partialSince >= partialMs) {
        this.events.tcpRejected('partial_frame');
        this.shut(c, now);
      } else if (now - c.lastQuery >= idleMs) {
        // Bytes that never complete a query do not count as activity: a trickling client is idle too.
        this.events.tcpRejected('idle');
        this.shut(c, now);
      }
    }
  }

  /** Stops reading; queued answers are written, then the connection closes (or is destroyed after the grace). */
  private shut(c: Connection, now: number): void {
    c.closingSince = now;
    c.pending = null;
    this.flushChunk(c);
    c.sock.pause();
    c.sock.end();
    c.sock.destroySoon();
  }

  /** Stops accepting; open connections finish writing what they have and close. */
  close(): Promise<void> {
    this.closing = true;
    const server = this.server;
    this.server = null;
    const now = performance.now();
    for (const c of this.connections) if (c.closingSince === 0) this.shut(c, now);
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}

/**
 * Appends to `buf` (the connection's incomplete frame) the bytes of `chunk` that belong to it; returns how many it
 * took. The buffer grows by doubling, not to the announced length at once: a client that announces 64 KB and
 * sends a few bytes holds memory for what it sent, and a frame trickled one byte at a time costs amortized O(1)
 * copying per byte, not a copy of everything so far on every byte.
 */
function fillPending(c: Connection, buf: Buffer, chunk: Buffer): number {
  let off = 0;
  while (c.pendingUsed < 2 && off < chunk.length) buf[c.pendingUsed++] = chunk[off++];
  if (c.pendingUsed < 2) return off;
  const total = 2 + buf.readUInt16BE(0);
  const take = Math.min(total - c.pendingUsed, chunk.length - off);
  if (take <= 0) return off;
  const need = c.pendingUsed + take;
  let into = buf;
  if (need > buf.length) {
    into = Buffer.allocUnsafeSlow(Math.min(total, Math.max(need, 2 * buf.length)));
    buf.copy(into, 0, 0, c.pendingUsed);
    c.pending = into;
  }
  chunk.copy(into, c.pendingUsed, off, off + take);
  c.pendingUsed = need;
  return off + take;
}
