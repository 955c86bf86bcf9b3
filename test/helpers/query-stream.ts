// A resolver-like UDP load client: a paced stream of A queries from one socket, each with a timeout and one retry,
// counting retries, lost and unanswered queries, and keeping the first answer of each query in arrival order.
import * as dgram from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import { rawQuery } from '../dns/packets';
import { sleep } from './server';

export interface QueryStreamOptions {
  /** DNS port on 127.0.0.1. */
  port: number;
  /** The name query `id` asks for (type A). */
  nameOf: (id: number) => string;
  /** Retry after this long without an answer; the query is lost after a further `lostAfterMs` without one. */
  retryAfterMs: number;
  lostAfterMs: number;
  /** How the first answer of a query is kept (in `arrivals`). */
  answerOf: (p: dnsPacket.DecodedPacket) => string;
  /** Problems with a first answer (kept in `bad`). */
  check: (p: dnsPacket.DecodedPacket, name: string, answer: string) => string[];
  /** Receive buffer of the client socket (best effort: capped by net.core.rmem_max). */
  recvBufferSize?: number;
}

export interface Phase {
  /** ms after the start of the stream. */
  at: number;
  action: () => void;
}

export interface StreamResult {
  sent: number;
  /** Queries lost after their retry (while the stream ran), and still without an answer at the end. */
  lost: number[];
  unanswered: number[];
  retries: number;
}

interface Pending {
  sentAt: number;
  retried: boolean;
  answer: string | null;
  name: string;
}

export class QueryStream {
  /** First answer per query, in arrival order. */
  readonly arrivals: { name: string; answer: string }[] = [];
  /** Undecodable answers and what `check` found. */
  readonly bad: string[] = [];
  /** Datagrams received (answers, retried answers, strays). */
  received = 0;
  private readonly pending = new Map<number, Pending>();
  /** The pending queries still without an answer (the watchdog looks at these only). */
  private readonly waiting = new Map<number, Pending>();

  private constructor(
    private readonly sock: dgram.Socket,
    private readonly o: QueryStreamOptions,
  ) {
    sock.on('message', (m) => {
      this.received++;
      let p: dnsPacket.DecodedPacket;
      try {
        p = dnsPacket.decode(m);
      } catch (e) {
        this.bad.push(`undecodable: ${(e as Error).message}`);
        return;
      }
      const q = this.pending.get(p.id ?? -1);
      if (!q || q.answer !== null) return; // a late duplicate after a retry
      const answer = o.answerOf(p);
      q.answer = answer;
      this.waiting.delete(p.id ?? -1);
      this.bad.push(...o.check(p, q.name, answer));
      this.arrivals.push({ name: q.name, answer });
    });
  }

  /** Binds the client socket on 127.0.0.1. */
  static async open(o: QueryStreamOptions): Promise<QueryStream> {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    if (o.recvBufferSize !== undefined) {
      try {
        sock.setRecvBufferSize(o.recvBufferSize);
      } catch {
        // capped by net.core.rmem_max
      }
    }
    return new QueryStream(sock, o);
  }

  /**
   * Sends `perSecond` queries/s for `durationMs` (or until `until()` says stop), paced by the clock (a slow timer tick sends a bigger batch, at most
   * 200), runs each phase's action once its time has come, then waits up to `drainMs` for the last answers and
   * retries (stopping early once a query is lost).
   */
  async run(o: { durationMs: number; drainMs: number; phases?: Phase[]; perSecond?: number; until?: () => boolean }): Promise<StreamResult> {
    const perSecond = o.perSecond ?? 2000;
    const phases = (o.phases ?? []).map((ph) => ({ ...ph, done: false }));
    const lost: number[] = [];
    const lostSet = new Set<number>();
    let retries = 0;
    let nextId = 1;
    let lastTick = Date.now();
    const watchdog = setInterval(() => {
      const now = Date.now();
      // This process was starved (a loaded machine): the answers that came meanwhile wait unread in the socket,
      // and timers run before I/O. Judge nothing this round; let them be read first.
      const starved = now - lastTick > 200;
      lastTick = now;
      if (starved) return;
      for (const [id, q] of this.waiting) {
        if (!q.retried && now - q.sentAt > this.o.retryAfterMs) {
          q.retried = true;
          q.sentAt = now;
          retries++;
          this.send(id);
        } else if (q.retried && now - q.sentAt > this.o.lostAfterMs && !lostSet.has(id)) {
          lostSet.add(id);
          lost.push(id);
        }
      }
    }, 20);
    try {
      const t0 = Date.now();
      while (Date.now() - t0 < o.durationMs && !(o.until && o.until())) {
        const elapsed = Date.now() - t0;
        for (const ph of phases) {
          if (ph.done || elapsed < ph.at) continue;
          ph.done = true;
          ph.action();
        }
        const due = Math.min(Math.floor((elapsed * perSecond) / 1000), nextId - 1 + 200);
        while (nextId - 1 < due) {
          const id = nextId++;
          const q: Pending = { sentAt: Date.now(), retried: false, answer: null, name: this.o.nameOf(id) };
          this.pending.set(id, q);
          this.waiting.set(id, q);
          this.send(id);
        }
        await sleep(4);
      }
      // Let the last queries (and their retries) finish.
      const unansweredLeft = () => this.waiting.size > 0;
      for (let i = 0; i < o.drainMs / 20 && unansweredLeft() && lost.length === 0; i++) await sleep(20);
    } finally {
      clearInterval(watchdog);
    }
    const unanswered = [...this.pending.entries()].filter(([, q]) => q.answer === null).map(([id]) => id);
    return { sent: nextId - 1, lost, unanswered, retries };
  }

  close(): void {
    this.sock.close();
  }

  private send(id: number): void {
    this.sock.send(rawQuery({ id, questions: [{ name: this.pending.get(id)!.name, type: 1 }] }), this.o.port, '127.0.0.1');
  }
}
