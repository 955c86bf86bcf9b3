// The pidfile of `serve --pidfile FILE` / server.pidfile: the process id of a serving instance, for
// `steerdns reload`/`status` and init systems. Written once the server serves (signals are handled by then),
// atomically; removed when the process exits, if it still names this process.
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

/** The pid a pidfile names, or null (missing, unreadable, not a pid). */
export function readPidfile(file: string): number | null {
  try {
    const text = readFileSync(file, 'utf8').trim();
    return /^\d{1,10}$/.test(text) && Number(text) > 0 ? Number(text) : null;
  } catch {
    return null;
  }
}

/** Whether a process with this id exists (a process of another user counts). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A message when another live process holds the pidfile (two servers on one pidfile is a mistake); else null. */
export function pidfileConflict(file: string): string | null {
  const pid = readPidfile(file);
  if (pid === null || pid === process.pid || !processAlive(pid)) return null;
  return `pidfile ${file} names process ${pid}, which is running: is another steerdns using this pidfile?`;
}

export function writePidfile(file: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, `${process.pid}\n`, { mode: 0o644 });
  renameSync(tmp, file);
  process.once('exit', () => {
    if (readPidfile(file) !== process.pid) return;
    try {
      unlinkSync(file);
    } catch {
      // Already gone, or the directory is read-only now: nothing to do at exit.
    }
  });
}
