// CIDR literals as an operator writes them (rule sets `ip.src in {10.0.0.0/8 …}`, `explain --ecs`), checked with
// `ip-cidr` at load time for precise messages. Only the load pays for it (the package allocates per call); the
// query path matches the bytes util/ip.ts parsed.
import type IPCIDRClass from 'ip-cidr';
import { isIP } from 'node:net';

let ipCidr: typeof IPCIDRClass | null = null;

/** `ip-cidr` (and the BigInteger library under it), loaded when a literal needs it rather than at every start. */
function IPCIDR(): typeof IPCIDRClass {
  return (ipCidr ??= (require('ip-cidr') as { default: typeof IPCIDRClass }).default);
}

/**
 * Why `text` (address/prefix) is not a usable CIDR, or null when it is. A prefix with host bits set (10.0.0.1/8) is
 * refused as Cloudflare's rules engine refuses it, with the network it probably means.
 */
export function cidrLiteralProblem(text: string): string | null {
  const slash = text.indexOf('/');
  if (slash < 0) return isIP(text) ? null : `"${text}" is not an IP address`;
  const address = text.slice(0, slash);
  const prefix = text.slice(slash + 1);
  const family = isIP(address);
  if (family === 0) return `"${text}": "${address}" is not an IP address`;
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return `"${text}": the prefix length must be 0 to ${max} for IPv${family}`;
  // The common case, an IPv4 network written as such, needs no BigInteger arithmetic (a big rule set has
  // thousands of these): ip-cidr accepts every address isIP accepts with a prefix written without a leading
  // zero, and the network is the address with its host bits cleared. Anything else, and every problem, is
  // ip-cidr's to judge and word.
  if (family === 4 && IPV4_PREFIX.test(prefix) && ipv4HostBits(address, Number(prefix)) === 0) return null;
  if (!IPCIDR().isValidCIDR(text)) return `"${text}" is not a CIDR prefix`;
  const start = new (IPCIDR())(text).start<string>();
  if (!sameAddress(start, address)) return `${text} has host bits set (the network is ${compact(start)}/${prefix})`;
  return null;
}

/** A prefix length from 0 to 32 as ip-cidr and everyone else reads it. */
const IPV4_PREFIX = /^(?:[0-9]|[12][0-9]|3[0-2])$/;

/** The host bits of a dotted-quad address (isIP said it is one) under a prefix of `bits`. */
function ipv4HostBits(address: string, bits: number): number {
  let n = 0;
  let part = 0;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c === 46) {
      n = (n * 256 + part) >>> 0;
      part = 0;
    } else part = part * 10 + (c - 48);
  }
  n = (n * 256 + part) >>> 0;
  return bits === 32 ? 0 : (n & (0xffffffff >>> bits)) >>> 0;
}

function sameAddress(a: string, b: string): boolean {
  return compact(a) === compact(b);
}

/** An address in its shortest form (IPv6 zero runs compressed), for comparison and messages. */
function compact(a: string): string {
  if (!a.includes(':')) return a;
  try {
    return new URL(`http://[${a}]/`).hostname.slice(1, -1);
  } catch {
    return a;
  }
}
