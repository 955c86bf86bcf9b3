// A plain HTTP client for the status server (no keep-alive: each request on its own connection).
import * as http from 'node:http';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function request(port: number, path: string, o: { token?: string; cookie?: string; method?: string; host?: string; localAddress?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
    if (o.cookie !== undefined) headers.cookie = o.cookie;
    const req = http.request({ host: o.host ?? '127.0.0.1', port, path, method: o.method ?? 'GET', headers, agent: false, timeout: 10000, localAddress: o.localAddress }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

export interface Envelope<T> {
  success: boolean;
  errors: { code: number; message: string }[];
  result: T;
  result_info?: Record<string, unknown>;
}

/** GET a JSON API path; throws unless it answers 200 with success. */
export async function api<T>(port: number, path: string, token?: string): Promise<T> {
  const r = await request(port, path, { token });
  if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}: ${r.body}`);
  const body = JSON.parse(r.body) as Envelope<T>;
  if (!body.success) throw new Error(`${path}: ${JSON.stringify(body.errors)}`);
  return body.result;
}

/** Prometheus text → value of the sample `name` whose labels include `labels` (summed), from a /metrics body. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have[l[1]] = l[2];
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}
