// Reading a config file: YAML → typed, validated Config plus every problem found, each with file:line:col.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { Ctx, INVALID } from './kit';
import { checkReferences } from './references';
import { configSchema } from './schema';
import type { Config, Pos, Problem } from './types';

export interface LoadResult {
  /** null when any error was found. */
  config: Config | null;
  problems: Problem[];
}

export function formatPos(p: Pos): string {
  return `${p.file}:${p.line}:${p.col}`;
}

export function formatProblem(p: Problem): string {
  return `${formatPos(p.pos)}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.message}`;
}

export function hasErrors(problems: readonly Problem[]): boolean {
  return problems.some((p) => p.severity === 'error');
}

export function loadConfigFile(file: string): LoadResult {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { config: null, problems: [{ pos: { file, line: 1, col: 1 }, message: `cannot read config: ${err.code ?? err.message}`, severity: 'error' }] };
  }
  return loadConfigText(text, file, abs);
}

/** `displayName` is what messages show (as the user typed it); `abs` anchors relative paths in the file. */
export function loadConfigText(text: string, displayName: string, abs = path.resolve(displayName)): LoadResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true });
  const ctx = new Ctx(displayName, lines);
  for (const e of doc.errors) {
    const { line, col } = lines.linePos(e.pos[0]);
    ctx.problems.push({ pos: { file: displayName, line, col }, message: e.message.split('\n')[0], severity: 'error' });
  }
  for (const w of doc.warnings) {
    const { line, col } = lines.linePos(w.pos[0]);
    ctx.problems.push({ pos: { file: displayName, line, col }, message: w.message.split('\n')[0], severity: 'warning' });
  }
  if (doc.errors.length > 0) return { config: null, problems: ctx.problems };
  if (!doc.contents) {
    ctx.error({ file: displayName, line: 1, col: 1 }, 'the config file is empty');
    return { config: null, problems: ctx.problems };
  }
  const parsed = configSchema.parse(doc.contents, ctx);
  if (parsed === INVALID) return { config: null, problems: ctx.problems };

  const dir = path.dirname(abs);
  const resolvePath = (p: string) => (path.isAbsolute(p) ? p : path.resolve(dir, p));
  parsed.server.geoip.databases = parsed.server.geoip.databases.map(resolvePath);
  if (parsed.server.state_file) parsed.server.state_file = resolvePath(parsed.server.state_file);
  const tls = parsed.server.shared_health?.tls;
  if (tls) {
    if (tls.ca) tls.ca = resolvePath(tls.ca);
    if (tls.cert) tls.cert = resolvePath(tls.cert);
    if (tls.key) tls.key = resolvePath(tls.key);
  }

  const config: Config = { file: abs, ...parsed };
  checkReferences(config, ctx);
  return { config: hasErrors(ctx.problems) ? null : config, problems: ctx.problems };
}
