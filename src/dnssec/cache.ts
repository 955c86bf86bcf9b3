// The signature cache: RRSIGs by what they cover — owner, type, TTL and the set of records — so that an answer
// whose RRsets were signed before costs a lookup, not a signature. Records are told apart by their RData id
// (records.ts): a load balancer answers with the RData objects of its endpoints, so the same endpoints give the
// same ids whatever their order (rotation does not miss). The key of a set is an order-independent hash of its ids
// plus the ids themselves; a hit compares integers and allocates nothing.
//
// Bounded by a number of entries, evicted as a segmented LRU: a new entry starts on probation and moves to the
// protected segment on its first hit, so a flood of one-off names (random subdomains) evicts other one-off names,
// not the RRsets every client asks for.
import { fmix32 } from '../util/ip';
import type { RData } from '../dns/wire/records';
import type { ZoneSigner } from './signer';

export class SigEntry {
  /** Next entry with the same owner. */
  nextSameOwner: SigEntry | null = null;
  prev: SigEntry | null = null;
  next: SigEntry | null = null;
  protectedSegment = false;
  removed = false;

  constructor(
    readonly owner: string,
    readonly type: number,
    readonly ttl: number,
    readonly idHash: number,
    /** RData ids of the covered records (any order); for a synthesized NSEC: [variant]. A plain array: a typed
     *  array costs about 200 bytes of heap even for one element. */
    readonly ids: readonly number[],
    /** Synthesized records (the NSEC of a denial) the signatures cover; null for RRsets of the answer itself. */
    public covered: readonly RData[] | null,
    public sigs: readonly RData[],
    readonly signer: ZoneSigner,
    public epoch: number,
    public refreshAt: number,
  ) {}
}

/** Order-independent hash of an RRset's record ids (a sum of mixed ids). */
export function idHash(rdata: readonly RData[]): number {
  let h = 0;
  for (let i = 0; i < rdata.length; i++) h = (h + fmix32(rdata[i].id)) | 0;
  return h;
}

export function idsOf(rdata: readonly RData[]): number[] {
  const ids: number[] = [];
  for (let i = 0; i < rdata.length; i++) ids.push(rdata[i].id);
  return ids;
}

/** Does `ids` hold exactly the ids of `rdata` (both without duplicates)? */
function sameIds(ids: readonly number[], rdata: readonly RData[]): boolean {
  const n = rdata.length;
  if (ids.length !== n) return false;
  if (n === 1) return ids[0] === rdata[0].id;
  for (let i = 0; i < n; i++) {
    const id = rdata[i].id;
    let j = 0;
    while (j < n && ids[j] !== id) j++;
    if (j === n) return false;
  }
  return true;
}

/** A doubly linked list with a sentinel. */
class Lru {
  readonly head: SigEntry;
  size = 0;
  constructor(sentinel: SigEntry) {
    this.head = sentinel;
    sentinel.prev = sentinel;
    sentinel.next = sentinel;
  }

  pushFront(e: SigEntry): void {
    const h = this.head;
    const first = h.next as SigEntry;
    e.prev = h;
    e.next = first;
    first.prev = e;
    h.next = e;
    this.size++;
  }

  unlink(e: SigEntry): void {
    (e.prev as SigEntry).next = e.next;
    (e.next as SigEntry).prev = e.prev;
    e.prev = null;
    e.next = null;
    this.size--;
  }

  /** The least recently used entry, or null. */
  last(): SigEntry | null {
    const l = this.head.prev as SigEntry;
    return l === this.head ? null : l;
  }
}

export class SignatureCache {
  private readonly byOwner = new Map<string, SigEntry>();
  private readonly probation: Lru;
  private readonly protectedLru: Lru;
  /** The protected segment's share of the capacity. */
  private readonly protectedCapacity: number;
  /** Seconds since the epoch as the upkeep last read the clock (the query path never reads it). */
  now: number;

  constructor(readonly capacity: number, now: number) {
    const sentinel = (): SigEntry => new SigEntry('', 0, 0, 0, [], null, [], null as unknown as ZoneSigner, 0, 0);
    this.probation = new Lru(sentinel());
    this.protectedLru = new Lru(sentinel());
    this.protectedCapacity = Math.max(1, Math.floor(capacity * 0.8));
    this.now = now;
  }

  get size(): number {
    return this.probation.size + this.protectedLru.size;
  }

  /** The entry for an RRset (`rdata`), or for a synthesized record (`rdata` null, `hash` the variant). */
  find(owner: string, type: number, ttl: number, hash: number, rdata: readonly RData[] | null): SigEntry | null {
    for (let e = this.byOwner.get(owner) ?? null; e !== null; e = e.nextSameOwner) {
      if (e.idHash !== hash || e.type !== type || e.ttl !== ttl) continue;
      if (rdata === null ? e.ids.length === 1 && e.ids[0] === hash : sameIds(e.ids, rdata)) return e;
    }
    return null;
  }

  /** Whether the entry's signatures may be served now (same keys, not due for refresh). */
  fresh(e: SigEntry): boolean {
    return e.epoch === e.signer.epoch && e.refreshAt > this.now;
  }

  /** A hit: the entry moves up (into the protected segment on its first hit). */
  touch(e: SigEntry): void {
    if (e.protectedSegment) {
      const h = this.protectedLru.head;
      if (h.next === e) return;
      this.protectedLru.unlink(e);
      this.protectedLru.pushFront(e);
      return;
    }
    this.probation.unlink(e);
    e.protectedSegment = true;
    this.protectedLru.pushFront(e);
    if (this.protectedLru.size > this.protectedCapacity) {
      // The protected segment's least recent entry gets one more chance on probation.
      const demoted = this.protectedLru.last() as SigEntry;
      this.protectedLru.unlink(demoted);
      demoted.protectedSegment = false;
      this.probation.pushFront(demoted);
    }
  }

  /** Adds an entry (on probation, or protected when signed ahead); returns how many entries were evicted. */
  insert(e: SigEntry, protectedSegment = false): number {
    e.nextSameOwner = this.byOwner.get(e.owner) ?? null;
    this.byOwner.set(e.owner, e);
    e.protectedSegment = protectedSegment;
    if (protectedSegment) this.protectedLru.pushFront(e);
    else this.probation.pushFront(e);
    let evicted = 0;
    while (this.size > this.capacity) {
      const victim = this.probation.last() ?? this.protectedLru.last();
      if (victim === null || victim === e) break;
      this.remove(victim);
      evicted++;
    }
    if (protectedSegment) {
      while (this.protectedLru.size > this.protectedCapacity) {
        const demoted = this.protectedLru.last() as SigEntry;
        this.protectedLru.unlink(demoted);
        demoted.protectedSegment = false;
        this.probation.pushFront(demoted);
      }
    }
    return evicted;
  }

  private remove(e: SigEntry): void {
    (e.protectedSegment ? this.protectedLru : this.probation).unlink(e);
    e.removed = true;
    const first = this.byOwner.get(e.owner) ?? null;
    if (first === e) {
      if (e.nextSameOwner === null) this.byOwner.delete(e.owner);
      else this.byOwner.set(e.owner, e.nextSameOwner);
      return;
    }
    for (let p = first; p !== null; p = p.nextSameOwner) {
      if (p.nextSameOwner === e) {
        p.nextSameOwner = e.nextSameOwner;
        return;
      }
    }
  }
}
