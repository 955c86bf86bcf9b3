// The fields a DNS-only load balancer rule can read (https://developers.cloudflare.com/load-balancing/additional-options/load-balancing-rules/reference/, "Unproxied-only fields"), and helpful refusals for the rest.

export type FieldType = 'string' | 'int' | 'bool' | 'ip';

export type StringFieldId = 'dns.qry.name' | 'cf.load_balancer.name' | 'cf.load_balancer.region';
export type IntFieldId = 'dns.qry.name.len' | 'dns.qry.type';
export type BoolFieldId = 'dns.qry.qu' | 'dns.rr.opt.client';
export type IpFieldId = 'dns.rr.opt.client.addr' | 'ip.src';
export type FieldId = StringFieldId | IntFieldId | BoolFieldId | IpFieldId;

interface FieldInfo {
  /** Reads the client address (for CompiledCondition.readsClientAddress). */
  readonly clientAddress: boolean;
  /**
   * DNS names compare case-insensitively, and `==`/`!=`/`in` literals get the field's trailing-dot form:
   * "fqdn" (dns.qry.name, with the dot) or "bare" (cf.load_balancer.name, without).
   */
  readonly dnsName: 'fqdn' | 'bare' | null;
}

export type Field = FieldInfo &
  (
    | { readonly type: 'string'; readonly id: StringFieldId }
    | { readonly type: 'int'; readonly id: IntFieldId }
    | { readonly type: 'bool'; readonly id: BoolFieldId }
    | { readonly type: 'ip'; readonly id: IpFieldId }
  );

const FIELDS: readonly Field[] = [
  { id: 'dns.qry.name', type: 'string', clientAddress: false, dnsName: 'fqdn' },
  { id: 'dns.qry.name.len', type: 'int', clientAddress: false, dnsName: null },
  { id: 'dns.qry.type', type: 'int', clientAddress: false, dnsName: null },
  { id: 'dns.qry.qu', type: 'bool', clientAddress: false, dnsName: null },
  { id: 'dns.rr.opt.client', type: 'bool', clientAddress: false, dnsName: null },
  { id: 'dns.rr.opt.client.addr', type: 'ip', clientAddress: true, dnsName: null },
  { id: 'ip.src', type: 'ip', clientAddress: true, dnsName: null },
  { id: 'cf.load_balancer.name', type: 'string', clientAddress: false, dnsName: 'bare' },
  { id: 'cf.load_balancer.region', type: 'string', clientAddress: false, dnsName: null },
];

const BY_NAME = new Map<string, Field>(FIELDS.map((f) => [f.id, f]));

export type FieldLookup = { field: Field } | { error: string };

export function lookupField(name: string): FieldLookup {
  const field = BY_NAME.get(name);
  if (field) return { field };
  if (name === 'ip.src.asnum') {
    return { error: 'field "ip.src.asnum" is not available: steerdns has no ASN database' };
  }
  if (name === 'http' || name.startsWith('http.')) {
    return { error: `field "${name}" is proxied-only (HTTP) and not available to DNS-only load balancers` };
  }
  const hint = closest(name, FIELDS.map((f) => f.id));
  return { error: `unknown field "${name}"${hint ? `; did you mean "${hint}"?` : ''}` };
}

export function typeName(type: FieldType): string {
  switch (type) {
    case 'string': return 'a string';
    case 'int': return 'an integer';
    case 'bool': return 'a boolean';
    case 'ip': return 'an IP address';
  }
}

/** The nearest candidate within edit distance 2, for "did you mean" hints. */
export function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDist = 3;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return best;
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions: "nmae" → "name" is 1). */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    d.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        d[0][j] = j;
        continue;
      }
      let v = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2][j - 2] + 1);
      d[i][j] = v;
    }
  }
  return d[a.length][b.length];
}
