// Finding a running server from its config file, for `steerdns reload` and `steerdns status`: its status API
// (server.http, with server.http_token) when the config has one, its pidfile (--pidfile, server.pidfile) otherwise.
// Both are per config file, so several instances on one host are told apart by the file each one serves.
import * as http from 'node:http';
import * as path from 'node:path';
import { loadConfigFile } from '../config/load';
import type { ServerConfig } from '../config/types';
import { processAlive, readPidfile } from '../server/pidfile';

export interface Target {
  /** The config file as given, and absolute. */
  file: string;
  abs: string;
  /** The status API, when the config has one. */
  api: { host: string; port: number; token: string | null } | null;
  pidfile: string | null;
}

/** The server block of a config file, read even when other parts of the file have errors. */
export function targetOf(file: string, pidfileOption: string | undefined): Target | { error: string } {
  const loaded = loadConfigFile(file);
  const server: ServerConfig | undefined = (loaded.config ?? loaded.partial ?? undefined)?.server;
  if (!server) {
    const first = loaded.problems.find((p) => p.severity === 'error');
    return { error: `cannot read the server block of ${file}${first ? `: ${first.message}` : ''}` };
  }
  return {
    file,
    abs: path.resolve(file),
    api: server.http ? { host: server.http.host, port: server.http.port, token: server.http_token } : null,
    pidfile: pidfileOption ? path.resolve(pidfileOption) : server.pidfile,
  };
}

export type Status = Record<string, unknown> & { pid?: number; config?: string; reloads?: number; reload_failures?: number };

/** GET /api/status of a running server; a message when it does not answer as steerdns. */
export function fetchStatus(api: NonNullable<Target['api']>, timeoutMs = 3000): Promise<{ status: Status } | { error: string }> {
  const where = `${api.host.includes(':') ? `[${api.host}]` : api.host}:${api.port}`;
  return new Promise((resolve) => {
    const req = http.get({ host: api.host, port: api.port, path: '/api/status', timeout: timeoutMs, headers: api.token ? { authorization: `Bearer ${api.token}` } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 1 << 20) body += d;
      });
      res.on('end', () => {
        if (res.statusCode === 401) return resolve({ error: `the status API at ${where} refused the token (server.http_token)` });
        try {
          const parsed = JSON.parse(body) as { success?: boolean; result?: Status };
          if (res.statusCode === 200 && parsed.success && parsed.result) return resolve({ status: parsed.result });
        } catch {
          // Not JSON: not a steerdns status API.
        }
        resolve({ error: `${where} did not answer as a steerdns status API (HTTP ${res.statusCode ?? '?'})` });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: `no steerdns answers on ${where} (${e.code === 'ECONNREFUSED' ? 'connection refused: not running?' : e.code ?? e.message})` }));
  });
}

/** The pid of the server from its pidfile, when the file names a live process. */
export function pidFromFile(file: string): { pid: number } | { error: string } {
  const pid = readPidfile(file);
  if (pid === null) return { error: `no pid in ${file} (not running?)` };
  if (!processAlive(pid)) return { error: `process ${pid} of ${file} is not running` };
  return { pid };
}
