// Test helpers for the health module: config builders and small real servers on 127.0.0.x addresses.
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import type {
  Config,
  MonitorConfig,
  MonitorGroupConfig,
  OriginConfig,
  PoolConfig,
} from '../../src/config/types';
import { makeTarget, targetKey } from '../../src/health/targets';
import type { ProbeTarget } from '../../src/health/types';

export const FIXTURES = path.join(__dirname, '..', 'fixtures', 'health');
export const readFixture = (name: string): string => fs.readFileSync(path.join(FIXTURES, name), 'utf8');
export const TEST_CA = (): string => readFixture('ca.crt');

export function monitor(over: Partial<MonitorConfig> = {}): MonitorConfig {
  return {
    name: 'm1',
    type: 'http',
    description: '',
    method: 'GET',
    path: '/',
    port: null,
    header: {},
    timeout: 1,
    retries: 0,
    interval: 60,
    expected_codes: '200',
    expected_body: null,
    follow_redirects: false,
    allow_insecure: false,
    consecutive_up: 1,
    consecutive_down: 1,
    ...over,
  };
}

export function origin(over: Partial<OriginConfig> = {}): OriginConfig {
  return { name: 'a1', address: '127.0.0.1', enabled: true, weight: 1, port: null, priority: 10, header: {}, ...over };
}

export function pool(over: Partial<PoolConfig> = {}): PoolConfig {
  return {
    name: 'P1',
    description: '',
    enabled: true,
    minimum_origins: 1,
    monitor: 'm1',
    monitor_group: null,
    origin_steering: { policy: 'random' },
    load_shedding: null,
    latitude: null,
    longitude: null,
    notification_filter: null,
    check_regions: null,
    origins: [origin()],
    ...over,
  };
}

export function config(opts: {
  monitors?: MonitorConfig[];
  groups?: MonitorGroupConfig[];
  pools?: PoolConfig[];
  webhooks?: Config['notifications']['webhooks'];
  stateFile?: string | null;
}): Config {
  return {
    file: '/dev/null',
    server: {
      listen: [],
      http: null,
      http_token: null,
      pop: { code: 'TST', country: null, subdivision: null, region: null, latitude: null, longitude: null },
      geoip: { databases: [] },
      nsid: null,
      identity: null,
      state_file: opts.stateFile ?? null,
      edns_udp_size: 1232,
      tcp: { idle_timeout: 10, max_connections: 10, max_connections_per_client: 10 },
      workers: 1,
      udp_io: 'auto',
      analytics: { max_series: 16384 },
      log: { level: 'info', queries: false },
      shared_health: null,
      probe_source: { v4: null, v6: null },
      watch_config: false,
      pidfile: null,
      rrl: null,
      cookies: { enabled: true, secret: null, rotation: 86400 },
      dnssec: { cache_size: 100000 },
    },
    zones: [],
    monitors: new Map((opts.monitors ?? []).map((m) => [m.name, m])),
    monitor_groups: new Map((opts.groups ?? []).map((g) => [g.name, g])),
    pools: new Map((opts.pools ?? []).map((p) => [p.name, p])),
    load_balancers: [],
    notifications: { webhooks: opts.webhooks ?? [] },
  };
}

/** A probe target for one monitor and one endpoint, as buildTargets would make it. */
export function target(m: MonitorConfig, o: OriginConfig, poolName = 'P1'): ProbeTarget {
  return makeTarget(targetKey(m, o), m, o, [{ pool: poolName, origin: o.name, monitor: m.name }]);
}

export interface Closable {
  port: number;
  close(): Promise<void>;
}

function closeServer(s: net.Server | http.Server): Promise<void> {
  return new Promise((resolve) => {
    if ('closeAllConnections' in s) (s as http.Server).closeAllConnections();
    s.close(() => resolve());
  });
}

/** A net.Server that tracks its sockets so close() is immediate. */
export async function listenNet(host: string, onConn: (c: net.Socket) => void): Promise<Closable & { server: net.Server }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    sockets.add(c);
    c.on('close', () => sockets.delete(c));
    c.on('error', () => undefined);
    onConn(c);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    server,
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return closeServer(server);
    },
  };
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** An HTTP (or HTTPS, with tls options) server whose handler can be swapped; records the requests it saw. */
export async function listenHttp(
  host: string,
  tlsOpts?: https.ServerOptions,
): Promise<Closable & { handler: Handler; requests: http.IncomingHttpHeaders[]; paths: string[]; methods: string[] }> {
  const state = {
    handler: ((_req, res) => res.end('ok')) as Handler,
    requests: [] as http.IncomingHttpHeaders[],
    paths: [] as string[],
    methods: [] as string[],
  };
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    state.requests.push(req.headers);
    state.paths.push(req.url ?? '');
    state.methods.push(req.method ?? '');
    state.handler(req, res);
  };
  const server = tlsOpts ? https.createServer(tlsOpts, onRequest) : http.createServer(onRequest);
  server.on('clientError', (_e, sock) => sock.destroy());
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  return Object.assign(state, {
    port,
    close: () => closeServer(server),
  });
}

export function tlsServerOptions(which: 'server' | 'self'): https.ServerOptions {
  return { key: readFixture(`${which}.key`), cert: readFixture(`${which}.crt`) };
}

/** A minimal SMTP server; `heloReply` decides the answer to HELO. Records the commands it received. */
export async function listenSmtp(host: string, opts: { banner?: string; heloReply?: string; quitReply?: string; multiline?: boolean } = {}): Promise<Closable & { commands: string[] }> {
  const commands: string[] = [];
  const srv = await listenNet(host, (c) => {
    c.setEncoding('latin1');
    if (opts.multiline) c.write('220-smtp.test ESMTP\r\n220-second line\r\n');
    c.write(`${opts.banner ?? '220 smtp.test ESMTP ready'}\r\n`);
    let buf = '';
    c.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        commands.push(line);
        if (/^HELO /i.test(line)) {
          if (opts.multiline) c.write('250-smtp.test\r\n250-PIPELINING\r\n');
          c.write(`${opts.heloReply ?? '250 smtp.test'}\r\n`);
        } else if (/^QUIT/i.test(line)) {
          c.end(`${opts.quitReply ?? '221 bye'}\r\n`);
        }
      }
    });
  });
  return Object.assign(srv, { commands });
}

/** A UDP socket bound on host; answers nothing unless `echo`. */
export async function listenUdp(host: string, echo = false): Promise<Closable & { received: number }> {
  const sock = dgram.createSocket('udp4');
  const state = { received: 0 };
  sock.on('message', (m, rinfo) => {
    state.received++;
    if (echo) sock.send(m.length > 0 ? m : Buffer.from('pong'), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, host, resolve));
  return Object.assign(state, {
    port: sock.address().port,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  });
}

/** A port on `host` on which nothing listens (bound once, then released). */
export async function closedPort(host: string): Promise<number> {
  const s = await listenNet(host, () => undefined);
  await s.close();
  return s.port;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns true or `timeoutMs` passes. */
export async function waitFor(fn: () => boolean, timeoutMs = 5000, stepMs = 10): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error('waitFor: condition not met in time');
    await sleep(stepMs);
  }
}
