// Probes of hostname endpoints resolve the name as steerdns's answers do. A name in our own zones (the usual MX
// setup: mx1.<zone>) is answered from our own data, not by the system resolver — which may not know it at all — so
// that the monitor probes the very addresses the load balancer hands out, and a name the answers cannot resolve is
// "DNS Unknown Host" for the monitor too.
import { lookup as systemLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import type { ProbeContext } from '../types';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family: number) => void;

function notFound(hostname: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
  err.code = 'ENOTFOUND';
  err.syscall = 'getaddrinfo';
  return err;
}

/**
 * A `lookup` for net/http/tls that asks the answering side first (ctx.resolve) and the system resolver only for
 * names it does not know (a redirect target, say). undefined when the context has no resolver.
 */
export function probeLookup(ctx: ProbeContext): ((hostname: string, options: LookupOptions, callback: LookupCallback) => void) | undefined {
  const resolve = ctx.resolve;
  if (!resolve) return undefined;
  return (hostname, options, callback) => {
    const known = resolve(hostname);
    if (known === null) {
      systemLookup(hostname, { ...options, all: options.all === true }, callback);
      return;
    }
    const family = typeof options.family === 'number' ? options.family : 0;
    const usable = known.filter((a) => family === 0 || isIP(a) === family);
    process.nextTick(() => {
      if (usable.length === 0) return callback(notFound(hostname), '', 0);
      if (options.all) return callback(null, usable.map((address) => ({ address, family: isIP(address) })), 0);
      callback(null, usable[0], isIP(usable[0]));
    });
  };
}

/** The address to probe for ICMP (ping resolves no name of ours): the first answered address, or null when none. */
export function probeAddress(address: string, ctx: ProbeContext): string | null {
  if (isIP(address) !== 0 || !ctx.resolve) return address;
  const known = ctx.resolve(address);
  if (known === null) return address; // not an endpoint name the answers know: let ping resolve it
  return known.length > 0 ? known[0] : null;
}
