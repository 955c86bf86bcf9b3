// UDP listener over the native batched-I/O module (native/udp_batch.c): the kernel hands over up to 64 datagrams
// per recvmmsg, this class answers them in one JS call, and the module sends the answers with one sendmmsg.
// Same contract as UdpListener (udp.ts): one datagram in, at most one out, every failure counted, never thrown.
//
// Datagrams, source addresses and answers live in one block of memory shared with the module. Nothing is
// allocated per datagram in the common case: the Buffer handed to the Responder is a cached view of its receive
// slot (the Responder only reads it during the call), and the source address string comes from a small cache.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { ListenAddress } from '../../config/types';
import type { Logger } from '../../observe/log';
import { formatIp } from '../../util/ip';
import type { Responder, TransportEvents } from './types';

/** Offsets (bytes) into the shared block and its sizes, as the module defines them. */
export interface UdpBatchLayout {
  batch: number;
  recvSlot: number;
  sendSlot: number;
  recv: number;
  send: number;
  addr: number;
  recvLen: number;
  sendLen: number;
  port: number;
  family: number;
  stats: number;
  size: number;
  statNames: string[];
}

/** An open socket: an opaque handle for close(), the bound port, the shared block. */
export interface UdpBatchSocket {
  handle: object;
  port: number;
  memory: ArrayBuffer;
}

/** The module's exports (native/udp_batch.c documents the contract). */
export interface UdpBatchBinding {
  /** Binds and starts polling; throws (code EADDRINUSE, EACCES, ENOSYS, …) on failure. */
  open(family: 4 | 6, host: string, port: number, reusePort: boolean, onBatch: (count: number) => void): UdpBatchSocket;
  /** Stops polling and closes the fd at once; idempotent, callable from inside onBatch. */
  close(handle: object): void;
  layout: UdpBatchLayout;
}

export interface LoadedBatchedUdp {
  binding: UdpBatchBinding | null;
  /** Why binding is null (one line for the log); '' when it loaded. */
  reason: string;
}

/** build/ at the package root, from src/dns/server (tests) and dist/dns/server alike. */
export const BATCHED_UDP_MODULE = path.resolve(__dirname, '..', '..', '..', 'build', 'udp_batch.node');

const LAYOUT_KEYS = ['batch', 'recvSlot', 'sendSlot', 'recv', 'send', 'addr', 'recvLen', 'sendLen', 'port', 'family', 'stats', 'size'] as const;

function isBinding(x: unknown): x is UdpBatchBinding {
  if (typeof x !== 'object' || x === null) return false;
  const b = x as Record<string, unknown>;
  if (typeof b.open !== 'function' || typeof b.close !== 'function') return false;
  const layout = b.layout as Record<string, unknown> | undefined;
  if (typeof layout !== 'object' || layout === null || !Array.isArray(layout.statNames)) return false;
  return LAYOUT_KEYS.every((k) => typeof layout[k] === 'number');
}

let loaded: LoadedBatchedUdp | null = null;

/**
 * The native module, or null with the reason (not Linux, not built, failed to load, kernel without
 * recvmmsg/sendmmsg), so that the caller can log one line and use node:dgram. Loaded once per process.
 */
export function loadBatchedUdp(file = BATCHED_UDP_MODULE): LoadedBatchedUdp {
  if (file === BATCHED_UDP_MODULE && loaded) return loaded;
  const result = load(file);
  if (file === BATCHED_UDP_MODULE) loaded = result;
  return result;
}

function load(file: string): LoadedBatchedUdp {
  if (process.platform !== 'linux') return { binding: null, reason: `batched UDP needs Linux (recvmmsg/sendmmsg); this is ${process.platform}` };
  if (!existsSync(file)) return { binding: null, reason: `native module not built (${file} is missing: npm run build needs a C compiler for it)` };
  const mod: { exports: unknown } = { exports: {} };
  try {
    process.dlopen(mod, file);
  } catch (err) {
    return { binding: null, reason: `native module failed to load: ${(err as Error).message}` };
  }
  if (!isBinding(mod.exports)) return { binding: null, reason: `native module ${file} has an unexpected interface (rebuild: npm run build)` };
  // A kernel without recvmmsg/sendmmsg fails open() with ENOSYS: find out now, on a throwaway loopback socket.
  // Any other failure here (no loopback address, say) says nothing about the module and is left to start().
  try {
    const probe = mod.exports.open(4, '127.0.0.1', 0, false, () => undefined);
    mod.exports.close(probe.handle);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOSYS') return { binding: null, reason: `the kernel lacks recvmmsg/sendmmsg: ${(err as Error).message}` };
  }
  return { binding: mod.exports, reason: '' };
}

export interface BatchedStartOptions {
  /** SO_REUSEPORT: several sockets (processes) on one address and port; the kernel spreads flows over them. */
  reusePort?: boolean;
}

/** Queries up to this size get a cached Buffer view per (slot, length); larger ones a fresh view. */
const VIEW_CACHE_MAX_LEN = 512;
/** Source-address strings cached, direct-mapped by a hash of the address (power of two). */
const ADDR_CACHE_SIZE = 1024;
const ADDR_CACHE_SHIFT = 32 - Math.log2(ADDR_CACHE_SIZE);

/** Native counters plus the largest batch seen. */
export type BatchedUdpStats = Record<string, number>;

export class BatchedUdpListener {
  private sock: UdpBatchSocket | null = null;
  private binding: UdpBatchBinding | null;
  private layout: UdpBatchLayout | null = null;
  // Views over the shared block, set by start().
  private bytes = new Uint8Array(0);
  private recvLen = new Int32Array(0);
  private sendLen = new Int32Array(0);
  private ports = new Int32Array(0);
  private families = new Int32Array(0);
  private addrWords = new Int32Array(0);
  private nativeStats = new Float64Array(0);
  private addrBase = 0;
  private views: (Buffer | undefined)[] = [];
  private readonly cacheKeys = new Int32Array(ADDR_CACHE_SIZE * 5);
  private readonly cacheStrings: string[] = new Array<string>(ADDR_CACHE_SIZE).fill('');
  private sendFullSeen = 0;
  private sendErrorsSeen = 0;
  private statSendFull = 0;
  private statSendErrors = 0;
  private statLastSendErrno = 0;
  private maxBatch = 0;

  constructor(
    readonly address: ListenAddress,
    private readonly respond: Responder,
    private readonly events: TransportEvents,
    private readonly log: Logger,
    binding?: UdpBatchBinding,
  ) {
    this.binding = binding ?? null;
  }

  /**
   * Binds. A boolean (UdpListener's `exclusive`) is accepted and ignored: a batched socket is never shared through
   * a cluster primary, each process binds its own; to put several on one port, pass `{ reusePort: true }`.
   */
  start(opts: boolean | BatchedStartOptions = {}): Promise<void> {
    try {
      this.open(typeof opts === 'boolean' ? {} : opts);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private open(opts: BatchedStartOptions): void {
    if (this.sock) throw new Error(`udp listener ${this.label} already started`);
    if (!this.binding) {
      const b = loadBatchedUdp();
      if (!b.binding) throw new Error(b.reason);
      this.binding = b.binding;
    }
    const L = this.binding.layout;
    const sock = this.binding.open(this.address.family, this.address.host, this.address.port, opts.reusePort === true, this.onBatch);
    const m = sock.memory;
    this.layout = L;
    this.bytes = new Uint8Array(m);
    this.recvLen = new Int32Array(m, L.recvLen, L.batch);
    this.sendLen = new Int32Array(m, L.sendLen, L.batch);
    this.ports = new Int32Array(m, L.port, L.batch);
    this.families = new Int32Array(m, L.family, L.batch);
    this.addrWords = new Int32Array(m, L.addr, L.batch * 4);
    this.addrBase = L.addr;
    this.nativeStats = new Float64Array(m, L.stats, L.statNames.length);
    this.views = new Array<Buffer | undefined>(L.batch * (VIEW_CACHE_MAX_LEN + 1));
    this.statSendFull = L.statNames.indexOf('sendFull');
    this.statSendErrors = L.statNames.indexOf('sendErrors');
    this.statLastSendErrno = L.statNames.indexOf('lastSendErrno');
    this.sendFullSeen = 0;
    this.sendErrorsSeen = 0;
    this.sock = sock;
  }

  get label(): string {
    return this.address.family === 6 ? `[${this.address.host}]:${this.address.port}` : `${this.address.host}:${this.address.port}`;
  }

  /** The bound port (useful with port 0 in tests). */
  get port(): number {
    return this.sock ? this.sock.port : this.address.port;
  }

  /** The module's counters (received, batches, sent, sendFull, …) and maxBatch; zeros before start(). */
  stats(): BatchedUdpStats {
    const out: BatchedUdpStats = { maxBatch: this.maxBatch };
    const names = this.layout ? this.layout.statNames : [];
    for (let i = 0; i < names.length; i++) out[names[i]] = this.nativeStats[i];
    return out;
  }

  /** Called by the module with `count` datagrams in the receive slots; sendLen is all zeros on entry. */
  private readonly onBatch = (count: number): void => {
    const L = this.layout;
    if (!L || !this.sock) return;
    this.reportSendFailures();
    if (count > this.maxBatch) this.maxBatch = count;
    const sendBase = L.send;
    const sendSlot = L.sendSlot;
    for (let i = 0; i < count; i++) {
      const len = this.recvLen[i];
      if (len < 0) {
        this.events.dropped('udp', 'too large');
        continue;
      }
      if (this.ports[i] === 0) {
        // Port 0 cannot be answered (the same rule as the dgram listener).
        this.events.dropped('udp', 'source port 0');
        continue;
      }
      const pkt = this.view(L, i, len);
      const remote = this.remoteOf(i);
      let out: Uint8Array | null;
      try {
        out = this.respond(pkt, remote, 'udp');
      } catch (err) {
        // A bug, not bad input: the decoder never throws. Keep serving and say so loudly.
        this.log.error('internal error answering a query', { err, from: remote });
        this.events.dropped('udp', 'internal error');
        continue;
      }
      if (this.sock === null) return; // the Responder closed this listener: nothing more is sent
      if (out === null) {
        this.events.dropped('udp', 'not a query');
        continue;
      }
      if (out.length > sendSlot) {
        // Cannot happen while edns_udp_size ≤ 4096 (the slot size); refuse rather than overrun the slot.
        this.events.dropped('udp', 'answer too large');
        continue;
      }
      // The answer is usually a view into the encoder's slab, reused by the next query: copy it out now.
      this.bytes.set(out, sendBase + i * sendSlot);
      this.sendLen[i] = out.length;
    }
  };

  /** A Buffer over datagram `i`'s bytes in its receive slot, cached per (slot, length) for ordinary sizes. */
  private view(L: UdpBatchLayout, i: number, len: number): Buffer {
    if (len > VIEW_CACHE_MAX_LEN) return Buffer.from(this.bytes.buffer, L.recv + i * L.recvSlot, len);
    const k = i * (VIEW_CACHE_MAX_LEN + 1) + len;
    let v = this.views[k];
    if (v === undefined) {
      v = Buffer.from(this.bytes.buffer, L.recv + i * L.recvSlot, len);
      this.views[k] = v;
    }
    return v;
  }

  /**
   * The source address of datagram `i` as dgram would print it (dotted quad, RFC 5952 IPv6; no %scope suffix).
   * Direct-mapped cache keyed by the address words: a hit compares five integers and allocates nothing.
   */
  private remoteOf(i: number): string {
    const w = this.addrWords;
    const b = i * 4;
    const fam = this.families[i];
    const w0 = w[b];
    const w1 = w[b + 1];
    const w2 = w[b + 2];
    const w3 = w[b + 3];
    let h = Math.imul(w0 ^ fam, 0x9e3779b1);
    h = Math.imul(h ^ w1, 0x85ebca6b) ^ Math.imul(w2, 0xc2b2ae35);
    h = Math.imul(h ^ w3 ^ (h >>> 15), 0x27d4eb2f);
    const slot = h >>> ADDR_CACHE_SHIFT;
    const k = slot * 5;
    const keys = this.cacheKeys;
    if (keys[k] === w0 && keys[k + 1] === w1 && keys[k + 2] === w2 && keys[k + 3] === w3 && keys[k + 4] === fam) return this.cacheStrings[slot];
    const at = this.addrBase + i * 16;
    const s = fam === 4 ? `${this.bytes[at]}.${this.bytes[at + 1]}.${this.bytes[at + 2]}.${this.bytes[at + 3]}` : formatIp({ family: 6, bytes: this.bytes.subarray(at, at + 16) });
    keys[k] = w0;
    keys[k + 1] = w1;
    keys[k + 2] = w2;
    keys[k + 3] = w3;
    keys[k + 4] = fam;
    this.cacheStrings[slot] = s;
    return s;
  }

  /** Answers the module could not send (it sends after onBatch returns): reported at the next batch or close. */
  private reportSendFailures(): void {
    const full = this.nativeStats[this.statSendFull];
    const errors = this.nativeStats[this.statSendErrors];
    if (full === this.sendFullSeen && errors === this.sendErrorsSeen) return;
    for (let n = full - this.sendFullSeen; n > 0; n--) this.events.dropped('udp', 'send buffer full');
    for (let n = errors - this.sendErrorsSeen; n > 0; n--) this.events.dropped('udp', 'send failed');
    this.log.debug('udp send failed', { listen: this.label, full: full - this.sendFullSeen, errors: errors - this.sendErrorsSeen, errno: this.nativeStats[this.statLastSendErrno] });
    this.sendFullSeen = full;
    this.sendErrorsSeen = errors;
  }

  close(): Promise<void> {
    const s = this.sock;
    this.sock = null;
    if (s && this.binding) {
      try {
        this.binding.close(s.handle);
      } catch (err) {
        this.log.error('udp close failed', { listen: this.label, err });
      }
      this.reportSendFailures();
    }
    return Promise.resolve();
  }
}
