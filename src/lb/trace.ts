// The decision record `explain` prints. Filled only when a trace is passed; the query path passes none.

export type PoolVerdict =
  | 'chosen'
  | 'disabled'
  | 'unhealthy'
  | 'no endpoint of this type'
  | 'shed'
  | 'weight 0'
  | 'not reached';

export interface RuleTrace {
  name: string;
  priority: number;
  matched: boolean;
  terminates: boolean;
  overrides: string[];
}

export interface CandidateTrace {
  pool: string;
  verdict: PoolVerdict;
  detail: string;
}

export interface Trace {
  loadBalancer: string;
  rules: RuleTrace[];
  policy: string;
  policyNote: string;
  location: { source: string; country: string | null; subdivision: string | null; region: string | null; latitude: number | null; longitude: number | null; note: string } | null;
  /** Which list the candidates came from (geo: pop/country/region/default). */
  candidateSource: string;
  candidates: CandidateTrace[];
  fallback: { pool: string; used: boolean; detail: string } | null;
  chosenPool: string | null;
  endpoints: string[];
  ttl: number;
  ecsScope: number;
  clientKey: string;
  outcome: string;
}

export function newTrace(loadBalancer: string): Trace {
  return {
    loadBalancer,
    rules: [],
    policy: '',
    policyNote: '',
    location: null,
    candidateSource: '',
    candidates: [],
    fallback: null,
    chosenPool: null,
    endpoints: [],
    ttl: 0,
    ecsScope: 0,
    clientKey: '',
    outcome: '',
  };
}
