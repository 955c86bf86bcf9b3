// A DNS-over-TCP test client for the TCP listener tests: frames queries, collects framed answers, notices when
// the server closes.
import * as net from 'node:net';

export const frame = (m: Buffer): Buffer => Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]);

/** A TCP client that collects framed responses and notices when the server closes. */
export class Client {
  readonly sock: net.Socket;
  readonly messages: Buffer[] = [];
  closed = false;
  closedAt = 0;
  readonly connected: Promise<void>;
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  constructor(port: number, localAddress = '127.0.0.1') {
    this.sock = net.connect({ host: '127.0.0.1', port, localAddress });
    this.sock.setNoDelay(true);
    this.connected = new Promise((resolve, reject) => {
      this.sock.once('connect', () => resolve());
      this.sock.once('error', reject);
    });
    this.sock.on('error', () => undefined);
    this.sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 2 && this.buf.length >= 2 + this.buf.readUInt16BE(0)) {
        this.messages.push(this.buf.subarray(2, 2 + this.buf.readUInt16BE(0)));
        this.buf = this.buf.subarray(2 + this.buf.readUInt16BE(0));
      }
      this.wake();
    });
    this.sock.on('close', () => {
      this.closed = true;
      this.closedAt = Date.now();
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Waits until `done()` holds, re-checking on every event, at most `ms`. */
  private until(done: () => boolean, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(finish, ms);
      const self = this;
      function finish(): void {
        clearTimeout(timer);
        resolve();
      }
      function check(): void {
        if (done()) finish();
        else self.waiters.push(check);
      }
      check();
    });
  }

  /** Resolves when `n` messages arrived or the connection closed (or after `ms`). */
  async waitFor(n: number, ms = 2000): Promise<Buffer[]> {
    await this.until(() => this.messages.length >= n || this.closed, ms);
    return this.messages;
  }

  async waitClosed(ms = 3000): Promise<boolean> {
    await this.until(() => this.closed, ms);
    return this.closed;
  }

  destroy(): void {
    this.sock.destroy();
  }
}
