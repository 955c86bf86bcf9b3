// Hostname endpoints resolved in the background (docs/decisions.md §1.6): the query path reads cached addresses and never
// waits. Names inside our own zones are answered from our own data; others go to the system resolver.
import { promises as dns } from 'node:dns';
import type { RData } from '../dns/wire/records';
import { rdataA } from '../dns/wire/rdata';
import type { Logger } from '../observe/log';
import { parseIp } from '../util/ip';
import type { HostnameView } from './views';

/** Cloudflare caches resolved endpoint addresses for up to 5 s (https://developers.cloudflare.com/load-balancing/reference/load-balancing-analytics/); we refresh no sooner. */
const MIN_REFRESH_S = 5;
const MAX_REFRESH_S = 300;
/** After a failure that is not "no such name" (timeout, SERVFAIL), keep the last good addresses this long. */
const STALE_GRACE_S = 300;

interface Entry {
  name: string;
  v4: RData[] | null;
  v6: RData[] | null;
  /** Text forms, for status output. */
  v4Text: string[];
  v6Text: string[];
  error: string | null;
  resolvedAt: number;
  lastGoodAt: number;
  timer: NodeJS.Timeout | null;
  inFlight: boolean;
}

/** Answers a name from our own zones: addresses, [] for "exists without addresses", undefined when not ours. */
export type InternalLookup = (name: string, family: 4 | 6) => string[] | undefined;

export class HostnameResolver implements HostnameView {
  version = 0;
  private readonly entries = new Map<string, Entry>();
  private readonly resolver: dns.Resolver;
  private stopped = false;

  constructor(
    private internal: InternalLookup,
    private readonly log: Logger,
    /** Per-query timeout (ms) and tries of the system resolver; `explain` waits less than the server does. */
    opts: { timeoutMs?: number; tries?: number } = {},
  ) {
    this.resolver = new dns.Resolver({ timeout: opts.timeoutMs ?? 2000, tries: opts.tries ?? 2 });
  }

  setInternalLookup(fn: InternalLookup): void {
    this.internal = fn;
  }

  addresses(hostname: string, family: 4 | 6): readonly RData[] | null {
    const e = this.entries.get(hostname);
    if (!e) return null;
    const list = family === 4 ? e.v4 : e.v6;
    return list && list.length > 0 ? list : null;
  }

  /** Status for the API and explain. */
  describe(hostname: string): { addresses: string[]; error: string | null; resolvedAt: number | null } | null {
    const e = this.entries.get(hostname);
    if (!e) return null;
    return { addresses: [...e.v4Text, ...e.v6Text], error: e.error, resolvedAt: e.resolvedAt || null };
  }

  /** Sets the names to keep resolved; new ones resolve now, removed ones are forgotten. Resolves when all new names have a first result. */
  async setNames(names: Iterable<string>): Promise<void> {
    const wanted = new Set(names);
    for (const [name, e] of this.entries) {
      if (wanted.has(name)) continue;
      if (e.timer) clearTimeout(e.timer);
      this.entries.delete(name);
      this.version++;
    }
    const fresh: Promise<void>[] = [];
    for (const name of wanted) {
      if (this.entries.has(name)) continue;
      const e: Entry = { name, v4: null, v6: null, v4Text: [], v6Text: [], error: null, resolvedAt: 0, lastGoodAt: 0, timer: null, inFlight: false };
      this.entries.set(name, e);
      fresh.push(this.refresh(e));
    }
    await Promise.all(fresh);
  }

  /** Re-resolves every name now (after a reload changed our own zones). */
  async refreshAll(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => this.refresh(e)));
  }

  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) if (e.timer) clearTimeout(e.timer);
  }

  private async refresh(e: Entry): Promise<void> {
    if (e.inFlight || this.stopped) return;
    e.inFlight = true;
    let ttl = 60;
    try {
      const r4 = await this.lookup(e.name, 4);
      const r6 = await this.lookup(e.name, 6);
      const now = Date.now();
      const notFound = r4.notFound && r6.notFound;
      const failed = r4.error !== null && r6.error !== null;
      if (!failed || notFound) {
        this.apply(e, r4.addrs, r6.addrs, notFound ? 'DNS Unknown Host' : null, now);
        ttl = Math.min(r4.ttl, r6.ttl);
      } else if (now - e.lastGoodAt > STALE_GRACE_S * 1000) {
        this.apply(e, [], [], r4.error, now);
        ttl = MIN_REFRESH_S;
      } else {
        e.error = r4.error;
        ttl = MIN_REFRESH_S;
      }
    } finally {
      e.inFlight = false;
    }
    if (this.stopped || this.entries.get(e.name) !== e) return;
    const seconds = Math.max(MIN_REFRESH_S, Math.min(MAX_REFRESH_S, ttl));
    e.timer = setTimeout(() => void this.refresh(e), seconds * 1000);
    e.timer.unref();
  }

  private apply(e: Entry, v4: string[], v6: string[], error: string | null, now: number): void {
    const same = sameList(e.v4Text, v4) && sameList(e.v6Text, v6);
    e.error = error;
    e.resolvedAt = now;
    if (v4.length || v6.length) e.lastGoodAt = now;
    if (same && e.v4 !== null) return;
    e.v4Text = v4;
    e.v6Text = v6;
    e.v4 = v4.map((a) => rdataA((parseIp(a) as NonNullable<ReturnType<typeof parseIp>>).bytes));
    e.v6 = v6.map((a) => rdataA((parseIp(a) as NonNullable<ReturnType<typeof parseIp>>).bytes));
    this.version++;
    if (error) this.log.warn('hostname endpoint does not resolve', { hostname: e.name, reason: error });
    else this.log.debug('hostname endpoint resolved', { hostname: e.name, v4, v6 });
  }

  private async lookup(name: string, family: 4 | 6): Promise<{ addrs: string[]; ttl: number; notFound: boolean; error: string | null }> {
    const mine = this.internal(name, family);
    if (mine !== undefined) return { addrs: mine, ttl: 30, notFound: false, error: null };
    try {
      const recs = family === 4 ? await this.resolver.resolve4(name, { ttl: true }) : await this.resolver.resolve6(name, { ttl: true });
      return { addrs: recs.map((r) => r.address), ttl: recs.reduce((m, r) => Math.min(m, r.ttl), MAX_REFRESH_S), notFound: false, error: null };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (code === 'ENODATA') return { addrs: [], ttl: 60, notFound: false, error: null };
      // Not in DNS (or no DNS reachable): the system's getaddrinfo also reads /etc/hosts.
      try {
        const all = await dns.lookup(name, { family, all: true });
        return { addrs: all.map((a) => a.address), ttl: 60, notFound: false, error: null };
      } catch (err2) {
        const code2 = (err2 as NodeJS.ErrnoException).code ?? code;
        const notFound = code === 'ENOTFOUND' || code2 === 'ENOTFOUND';
        return { addrs: [], ttl: MIN_REFRESH_S, notFound, error: notFound ? 'DNS Unknown Host' : `resolution failed (${code2 || code})` };
      }
    }
  }
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
