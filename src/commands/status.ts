// `steerdns status`: is the server of this config file running, what does it serve, did its last reload work.
import { required } from './args';
import type { Status } from './running';
import { defineCommand } from './spec';

function duration(fromIso: unknown): string {
  const t = typeof fromIso === 'string' ? Date.parse(fromIso) : NaN;
  if (Number.isNaN(t)) return '?';
  let s = Math.max(0, Math.round((Date.now() - t) / 1000));
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  parts.push(`${s}s`);
  return parts.join(' ');
}

export function statusText(s: Status): string {
  const lines = [
    `steerdns ${String(s.version)}: pid ${String(s.pid)}, ${s.role === 'primary' ? `primary of ${String(s.workers ?? '?')} workers` : 'single process'}, up ${duration(s.started_at)}, ${s.ready ? 'ready' : 'not ready'}`,
    `config ${String(s.config)}: ${Array.isArray(s.zones) ? s.zones.length : 0} zone(s), ${String(s.load_balancers)} load balancer(s), ${String(s.pools)} pool(s), ${String(s.monitors)} monitor(s)`,
    `last reload: ${s.last_reload_successful ? 'successful' : `FAILED: ${String(s.last_reload_error)} (the previous config keeps serving)`}; ${String(s.reloads)} reload(s), ${String(s.reload_failures)} failure(s), config loaded ${String(s.config_loaded_at)}`,
  ];
  if (Array.isArray(s.listen)) lines.push(`listening on ${s.listen.map(String).join(', ')}${s.udp_io ? ` (UDP: ${String(s.udp_io)})` : ''}`);
  return `${lines.join('\n')}\n`;
}

export const statusCommand = defineCommand({
  name: 'status',
  summary: 'whether the server of a config file runs, and its state',
  synopsis: '-c FILE [--pidfile FILE] [--format text|json]',
  description: `Asks the server that serves FILE through its status API (server.http, with server.http_token); without
a status API, reads its pidfile (--pidfile, or server.pidfile) and says whether that process runs. Exit status 0 when
it runs, 1 when it does not (or does not answer), 2 for a usage error.`,
  options: {
    config: { type: 'string', short: 'c', value: 'FILE', help: 'the config file the server runs with' },
    pidfile: { type: 'string', value: 'FILE', help: 'the pidfile the server writes (default: server.pidfile)' },
    format: { type: 'string', choices: ['text', 'json'], help: 'text (default) or the status API\'s JSON' },
  },
  async run({ values }) {
    const file = required(values.config, '-c FILE', 'status');
    const { fetchStatus, pidFromFile, targetOf } = await import('./running');
    const t = targetOf(file, values.pidfile);
    if ('error' in t) {
      process.stderr.write(`steerdns status: ${t.error}\n`);
      return 1;
    }
    if (t.api) {
      const r = await fetchStatus(t.api);
      if ('error' in r) {
        process.stderr.write(`steerdns status: ${r.error}\n`);
        return 1;
      }
      if (r.status.config !== t.abs) {
        process.stderr.write(`steerdns status: the server on the status API of ${file} serves ${String(r.status.config)}, not ${t.abs}\n`);
        return 1;
      }
      process.stdout.write(values.format === 'json' ? `${JSON.stringify(r.status, null, 2)}\n` : statusText(r.status));
      return 0;
    }
    if (!t.pidfile) {
      process.stderr.write(`steerdns status: ${file} has no status API (server.http: null) and no pidfile: set server.pidfile or give --pidfile\n`);
      return 1;
    }
    const p = pidFromFile(t.pidfile);
    if ('error' in p) {
      process.stderr.write(`steerdns status: ${p.error}\n`);
      return 1;
    }
    process.stdout.write(values.format === 'json' ? `${JSON.stringify({ pid: p.pid, pidfile: t.pidfile, running: true })}\n` : `steerdns: pid ${p.pid} (from ${t.pidfile}) is running; no status API (server.http: null) to say more\n`);
    return 0;
  },
});
