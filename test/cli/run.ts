// The real CLI binary (dist/cli.js, built when older than the sources), spawned: exit code, stdout, stderr.
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../helpers/server';

export const CLI = path.join(ROOT, 'dist', 'cli.js');

function newest(dir: string): number {
  let m = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    m = Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return m;
}

/** Builds dist/ when it is missing or older than src/ (`npm test` builds first; a lone `npx jest` may not have). */
export function ensureBuilt(): void {
  let built = 0;
  try {
    built = statSync(CLI).mtimeMs;
  } catch {
    built = 0;
  }
  if (built < newest(path.join(ROOT, 'src'))) {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], { stdio: 'pipe' });
  }
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function steerdns(args: string[], opts: { cwd?: string; uid?: number; gid?: number; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? ROOT, timeout: opts.timeoutMs ?? 30000, uid: opts.uid, gid: opts.gid, env: opts.env ?? process.env }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
