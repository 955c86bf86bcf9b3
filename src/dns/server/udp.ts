// UDP listener: one datagram in, at most one out. Every error path (bad source port, send failures, socket
// errors) is counted and logged, never thrown into the event loop.
import * as dgram from 'node:dgram';
import type { ListenAddress } from '../../config/types';
import type { Logger } from '../../observe/log';
import type { Responder, TransportEvents } from './types';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * dgram resolves every destination through dns.lookup, which for an address literal still costs a nextTick and a
 * regex per datagram. Replies only ever go to the literal address a query came from, so they pass straight through.
 */
function literalLookup(family: 4 | 6): dgram.SocketOptions['lookup'] {
  const lookup = (address: string, _options: unknown, callback: LookupCallback): void => callback(null, address, family);
  return lookup as unknown as dgram.SocketOptions['lookup'];
}

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
    const family = this.address.family;
    const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6, reuseAddr: false, lookup: literalLookup(family) });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.onMessage(socket, msg, rinfo));
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.bind({ address: this.address.host, port: this.address.port, exclusive }, () => {
        socket.off('error', onError);
        socket.on('error', (err: NodeJS.ErrnoException) => {
          // Sends carry no callback (the cheapest dgram path); their failures arrive here.
          if (err.syscall === 'send') {
            this.events.dropped('udp', 'send failed');
            this.log.debug('udp send failed', { listen: this.label, err: err.message });
          } else {
            this.log.error('udp socket error', { listen: this.label, err });
          }
        });
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
    let out: Uint8Array | null;
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
      socket.send(out, rinfo.port, rinfo.address);
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
