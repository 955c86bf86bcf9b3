// What the listeners need from the rest of the server: a synchronous answer function and counters.

/** Answers one message (TCP answers come with their 2-byte length prefix); null means no answer. */
export type Responder = (pkt: Buffer, remoteAddress: string, transport: 'udp' | 'tcp') => Uint8Array | null;

export interface TransportEvents {
  /** A packet that got no answer: source port 0, too short, a response, or a send failure. */
  dropped(transport: 'udp' | 'tcp', reason: string): void;
  /**
   * A TCP connection refused or closed by a limit: max_connections, per_client (per /24 or /56), idle (no
   * complete query for idle_timeout), partial_frame (a frame that took too long to arrive), slow_reader (its
   * unread answers passed the per-connection cap), queue_budget (all connections' unread answers passed the
   * process-wide budget).
   */
  tcpRejected(reason: 'max_connections' | 'per_client' | 'idle' | 'partial_frame' | 'slow_reader' | 'queue_budget'): void;
}

export const noTransportEvents: TransportEvents = {
  dropped: () => undefined,
  tcpRejected: () => undefined,
};
