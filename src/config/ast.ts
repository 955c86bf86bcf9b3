// The YAML tree the schema reads: mappings, sequences and resolved scalars, each with the offset where it starts
// in the text. Both readers produce it (yaml-fast.ts for the plain YAML configs are written in, yaml-full.ts
// through the `yaml` package for everything else), so the schema does not depend on either. Positions are
// offsets, turned into line:col only when a message needs one (source.ts).

export type YNode = YScalar | YMap | YSeq | YOther;

// Nodes are object literals made by the functions below, not class instances: a config's tree is hundreds of
// thousands of nodes that all live until the schema has read them, and V8 allocates the objects of a literal
// that keeps surviving straight in the old generation (allocation-site pretenuring), where a class instance
// is copied by two scavenges first. That copying was a good part of reading a big config.

export interface YScalar {
  readonly kind: 'scalar';
  /** Resolved per the YAML 1.2 core schema: string, number, boolean or null. */
  readonly value: unknown;
  /** Offset of the scalar's first character (the opening quote for a quoted one). */
  readonly start: number;
  readonly quoted: boolean;
}

export function yScalar(value: unknown, start: number, quoted: boolean): YScalar {
  return { kind: 'scalar', value, start, quoted };
}

export interface YPair {
  readonly key: YNode;
  /** null: `key:` with nothing after it where no empty-scalar position is known. */
  readonly value: YNode | null;
  /** The key repeats an earlier key of the same mapping: already reported, the schema skips the pair. */
  readonly duplicate: boolean;
}

export function yPair(key: YNode, value: YNode | null, duplicate: boolean): YPair {
  return { key, value, duplicate };
}

export interface YMap {
  readonly kind: 'map';
  readonly start: number;
  readonly items: YPair[];
}

export function yMap(start: number, items: YPair[] = []): YMap {
  return { kind: 'map', start, items };
}

export interface YSeq {
  readonly kind: 'seq';
  readonly start: number;
  readonly items: YNode[];
}

export function ySeq(start: number, items: YNode[] = []): YSeq {
  return { kind: 'seq', start, items };
}

/** Something the config cannot use whatever the key (an alias `*x`): the schema says what it found. */
export interface YOther {
  readonly kind: 'other';
  readonly what: string;
  readonly start: number;
}

export function yOther(what: string, start: number): YOther {
  return { kind: 'other', what, start };
}

/** YAML key equality as the `yaml` package applies it (same resolved scalar value); collections never match. */
export function sameKey(a: YNode, b: YNode): boolean {
  return a.kind === 'scalar' && b.kind === 'scalar' && a.value === b.value;
}

/** Whether `key` repeats a key of items[from] to items[to - 1] (a linear scan: for small mappings). */
export function repeatsKey(items: readonly unknown[], from: number, to: number, key: YNode): boolean {
  for (let i = from; i < to; i++) if (sameKey((items[i] as YPair).key, key)) return true;
  return false;
}

/**
 * Adds pairs to a mapping and flags a key that repeats an earlier one, in linear time: a linear scan while the
 * mapping is small (most are), a Set of scalar values once it is not.
 */
export class MapBuilder {
  private seen: Set<unknown> | null = null;
  constructor(readonly map: YMap) {}

  /** Returns whether the key was a duplicate. */
  add(key: YNode, value: YNode | null): boolean {
    const items = this.map.items;
    let duplicate = false;
    // NaN is never equal to itself, so never a duplicate (as with ===), which a Set would not agree with.
    if (key.kind === 'scalar' && key.value === key.value) {
      if (this.seen !== null) {
        duplicate = this.seen.has(key.value);
        if (!duplicate) this.seen.add(key.value);
      } else {
        duplicate = repeatsKey(items, 0, items.length, key);
        if (items.length >= 16) {
          this.seen = new Set();
          for (const p of items) if (p.key.kind === 'scalar' && p.key.value === p.key.value) this.seen.add(p.key.value);
          this.seen.add(key.value);
        }
      }
    }
    items.push(yPair(key, value, duplicate));
    return duplicate;
  }
}
