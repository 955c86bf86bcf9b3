// UDP listener: one datagram in, at most one out. Every error path (bad source port, send failures, socket
// errors) is counted and logged, never thrown into the event loop.
import * as dgram from 'node:dgram';
import type { ListenAddress } from '../../config/types';
import type { Logger } from '../../observe/log';
import type { Responder, TransportEvents } from './types';

export class UdpListener {
  private socket: dgram.Socket | null = null;

  constructor(
    readonly address: ListenAddress,
    private readonly respond: Responder,
    private readonly events: TransportEvents,
    private readonly log: Logger,
  ) {}

  /** Binds; `exclusive: false` lets cluster workers share the socket through the primary. */
  start(exclusive = true): Promise<void> {
    const socket = dgram.createSocket({ type: this.address.family === 6 ? 'udp6' : 'udp4', ipv6Only: this.address.family === 6, reuseAddr: false });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.onMessage(socket, msg, rinfo));
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.bind({ address: this.address.host, port: this.address.port, exclusive }, () => {
        socket.off('error', onError);
        socket.on('error', (err) => this.log.error('udp socket error', { listen: this.label, err }));
        // Bigger kernel buffers absorb bursts while the event loop is busy.
        try {
          socket.setRecvBufferSize(4 * 1024 * 1024);
          socket.setSendBufferSize(4 * 1024 * 1024);
        } catch {
          // Not fatal: the kernel caps these (net.core.rmem_max).
        }
        resolve();
      });
    });
  }

  get label(): string {
    return this.address.family === 6 ? `[${this.address.host}]:${this.address.port}` : `${this.address.host}:${this.address.port}`;
  }

  /** The bound port (useful with port 0 in tests). */
  get port(): number {
    return this.socket ? this.socket.address().port : this.address.port;
  }

  private onMessage(socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (rinfo.port === 0) {
      // Port 0 cannot be answered (and Node throws on send to it).
      this.events.dropped('udp', 'source port 0');
      return;
    }
    let out: Buffer | null;
    try {
      out = this.respond(msg, rinfo.address, 'udp');
    } catch (err) {
      // A bug, not bad input: the decoder never throws. Keep serving and say so loudly.
      this.log.error('internal error answering a query', { err, from: rinfo.address });
      this.events.dropped('udp', 'internal error');
      return;
    }
    if (out === null) {
      this.events.dropped('udp', 'not a query');
      return;
    }
    try {
      socket.send(out, rinfo.port, rinfo.address, (err) => {
        if (err) {
          this.events.dropped('udp', 'send failed');
          this.log.debug('udp send failed', { to: rinfo.address, err });
        }
      });
    } catch (err) {
      this.events.dropped('udp', 'send failed');
      this.log.debug('udp send threw', { to: rinfo.address, err });
    }
  }

  close(): Promise<void> {
    const s = this.socket;
    this.socket = null;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => {
      try {
        s.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
