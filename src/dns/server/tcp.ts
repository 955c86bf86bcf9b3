// TCP listener (RFC 7766): 2-byte length framing, pipelined queries answered in order on one connection,
// an idle timeout, caps on connections overall and per client address, and protection against clients that
// send but never read.
import * as net from 'node:net';
import type { ListenAddress } from '../../config/types';
import type { Logger } from '../../observe/log';
import type { Responder, TransportEvents } from './types';

export interface TcpLimits {
  /** Seconds without a complete query before the connection is closed. */
  idleTimeout: number;
  maxConnections: number;
  maxConnectionsPerClient: number;
}

/** Responses queued but not yet read by the client, beyond which the connection is dropped. */
const MAX_UNREAD_BYTES = 1024 * 1024;

export class TcpListener {
  private server: net.Server | null = null;
  private readonly connections = new Set<net.Socket>();
  private readonly perClient = new Map<string, number>();
  private closing = false;

  constructor(
    readonly address: ListenAddress,
    private readonly respond: Responder,
    private limits: TcpLimits,
    private readonly events: TransportEvents,
    private readonly log: Logger,
  ) {}

  setLimits(limits: TcpLimits): void {
    this.limits = limits;
  }

  start(exclusive = true): Promise<void> {
    const server = net.createServer({ noDelay: true, pauseOnConnect: false }, (sock) => this.onConnection(sock));
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
    const n = this.perClient.get(client) ?? 0;
    if (n >= this.limits.maxConnectionsPerClient) {
      this.events.tcpRejected('per_client');
      sock.destroy();
      return;
    }
    this.perClient.set(client, n + 1);
    this.connections.add(sock);
    sock.setTimeout(this.limits.idleTimeout * 1000, () => {
      this.events.tcpRejected('idle');
      sock.end();
      sock.destroySoon();
    });

    let pending: Buffer | null = null;
    sock.on('data', (chunk: Buffer) => {
      let data = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = null;
      let off = 0;
      while (data.length - off >= 2) {
        const len = data.readUInt16BE(off);
        if (data.length - off - 2 < len) break;
        const frame = data.subarray(off + 2, off + 2 + len);
        off += 2 + len;
        this.answer(sock, frame, client);
        if (sock.destroyed) return;
      }
      if (off < data.length) pending = Buffer.from(data.subarray(off)); // copy: don't pin the whole chunk
      data = Buffer.alloc(0);
    });
    sock.on('error', (err) => this.log.debug('tcp connection error', { client, err: err.message }));
    sock.on('close', () => {
      this.connections.delete(sock);
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left <= 0) this.perClient.delete(client);
      else this.perClient.set(client, left);
    });
  }

  private answer(sock: net.Socket, frame: Buffer, client: string): void {
    let out: Uint8Array | null;
    try {
      out = this.respond(frame, client, 'tcp');
    } catch (err) {
      this.log.error('internal error answering a query', { err, from: client });
      this.events.dropped('tcp', 'internal error');
      return;
    }
    if (out === null) {
      this.events.dropped('tcp', 'not a query');
      return;
    }
    if (sock.writableLength > MAX_UNREAD_BYTES) {
      this.events.tcpRejected('slow_reader');
      sock.destroy();
      return;
    }
    sock.write(out);
  }

  /** Stops accepting; open connections finish writing what they have and close. */
  close(): Promise<void> {
    this.closing = true;
    const server = this.server;
    this.server = null;
    for (const sock of this.connections) {
      sock.end();
      // Give pending writes a moment, then make sure nothing lingers.
      setTimeout(() => sock.destroy(), 2000).unref();
    }
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
