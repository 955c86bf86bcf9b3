// `steerdns reload`: sends SIGHUP to the server of a config file and, when it has a status API, waits for the
// outcome: the new config serves, or it was refused (with the first error) and the previous one keeps serving.
import { required } from './args';
import type { Status } from './running';
import { defineCommand, UsageError } from './spec';

const POLL_MS = 100;

export const reloadCommand = defineCommand({
  name: 'reload',
  summary: 'apply an edited config file to the running server (SIGHUP) and report the outcome',
  synopsis: '-c FILE [--pidfile FILE] [--timeout SECONDS]',
  description: `Finds the server that serves FILE — through its pidfile (--pidfile, or server.pidfile), else through its
status API (server.http, which reports the pid) — and sends it SIGHUP. With a status API it then waits for the reload
to finish: exit status 0 when the new config serves, 1 when the server refused it (the reason is printed; the previous
config keeps serving) or cannot be found, 2 for a usage error.`,
  options: {
    config: { type: 'string', short: 'c', value: 'FILE', help: 'the config file the server runs with' },
    pidfile: { type: 'string', value: 'FILE', help: 'the pidfile the server writes (default: server.pidfile)' },
    timeout: { type: 'string', value: 'SECONDS', help: 'how long to wait for the outcome (default 60)' },
  },
  async run({ values }) {
    const file = required(values.config, '-c FILE', 'reload');
    const timeout = values.timeout === undefined ? 60 : Number(values.timeout);
    if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout must be a number of seconds above 0, got "${values.timeout}"`, 'reload');
    const { fetchStatus, pidFromFile, targetOf } = await import('./running');
    const t = targetOf(file, values.pidfile);
    const fail = (message: string): number => {
      process.stderr.write(`steerdns reload: ${message}\n`);
      return 1;
    };
    if ('error' in t) return fail(t.error);
    let before: Status | null = null;
    if (t.api) {
      const r = await fetchStatus(t.api);
      if ('status' in r) {
        if (r.status.config !== t.abs) return fail(`the server on the status API of ${file} serves ${String(r.status.config)}, not ${t.abs}`);
        before = r.status;
      } else if (!t.pidfile) return fail(r.error);
    }
    let pid: number;
    if (t.pidfile && (values.pidfile !== undefined || before === null)) {
      const p = pidFromFile(t.pidfile);
      if ('error' in p) return fail(p.error);
      pid = p.pid;
    } else if (before !== null && typeof before.pid === 'number') {
      pid = before.pid;
    } else {
      return fail(`${file} has no status API (server.http: null) and no pidfile: set server.pidfile or give --pidfile`);
    }
    if (before !== null && typeof before.pid === 'number' && before.pid !== pid) {
      return fail(`the pidfile names process ${pid} but the status API of ${file} is served by process ${before.pid}`);
    }
    try {
      process.kill(pid, 'SIGHUP');
    } catch (e) {
      return fail(`cannot signal process ${pid}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!t.api || before === null) {
      process.stdout.write(`sent SIGHUP to steerdns (pid ${pid}); without a status API the outcome is in the server's log\n`);
      return 0;
    }
    const count = (s: Status) => Number(s.reloads ?? 0) + Number(s.reload_failures ?? 0);
    const deadline = Date.now() + timeout * 1000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      const r = await fetchStatus(t.api);
      if (!('status' in r) || count(r.status) <= count(before)) continue;
      if (r.status.last_reload_successful) {
        process.stdout.write(`reloaded: pid ${pid} serves the new config of ${file}\n`);
        return 0;
      }
      return fail(`the server refused the new config, the previous one keeps serving: ${String(r.status.last_reload_error)}`);
    }
    return fail(`sent SIGHUP to pid ${pid}, but the reload did not finish within ${timeout} s (see the server's log)`);
  },
});
