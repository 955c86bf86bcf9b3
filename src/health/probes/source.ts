// Probe source addresses (`server.probe_source`): operators whose origins accept only known monitor addresses bind
// probes to them, and several instances on one machine each get their own view of an origin.
import { isIP } from 'node:net';
import type { ProbeContext } from '../types';

export interface SourceBinding {
  localAddress?: string;
  /** Set for a hostname destination, so that its lookup returns the family of the bound source. */
  family?: 4 | 6;
}

const NONE: SourceBinding = {};

/**
 * The local address to bind for a connection to `host`: the source of the destination's family. A hostname is
 * looked up in the family of the source used: IPv4 when one is configured, else IPv6.
 */
export function sourceFor(ctx: ProbeContext, host: string): SourceBinding {
  const src = ctx.source;
  if (!src || (src.v4 === null && src.v6 === null)) return NONE;
  const family = isIP(host);
  if (family === 4) return src.v4 === null ? NONE : { localAddress: src.v4 };
  if (family === 6) return src.v6 === null ? NONE : { localAddress: src.v6 };
  if (src.v4 !== null) return { localAddress: src.v4, family: 4 };
  return { localAddress: src.v6 as string, family: 6 };
}
