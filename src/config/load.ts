// Reading a config file: bytes → strict UTF-8 → YAML tree → typed, validated Config plus every problem found,
// each with file:line:col. Whatever the bytes, this returns problems rather than throwing, in time linear in
// the size of the file (depth is capped, aliases are never expanded, duplicate keys are found with a set).
import * as path from 'node:path';
import type { YNode } from './ast';
import { abandonParse, Ctx, INVALID, keyText } from './kit';
import type { TrackedObjects } from './kit';
import { checkReferences } from './references';
import { configSchema } from './schema';
import { readUtf8File, Source } from './source';
import type { Config, Pos, Problem } from './types';
import { FastReaderGaveUp, parseFast } from './yaml-fast';
import { parseFull } from './yaml-full';

/** Deepest nesting of mappings and sequences accepted; a config needs about 8. */
export const MAX_DEPTH = 64;

/** YAML syntax problems reported one by one; the rest are counted. */
const MAX_SYNTAX_PROBLEMS = 100;

export interface LoadResult {
  /** null when any error was found. */
  config: Config | null;
  problems: Problem[];
  /**
   * What could be read even with errors (`check` runs its cross-checks on it): parts with an error are left out
   * (their names in `dropped`). null when nothing usable was read. Never served.
   */
  partial?: Config | null;
  /** Names of the zones, pools, monitors and monitor groups left out of `partial` for an error, by kind. */
  dropped?: ReadonlyMap<string, ReadonlySet<string>>;
  /** The objects of `config` and `partial` that carry positions: `dropPositions()` once no message needs them. */
  positions?: TrackedObjects;
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

/** The text of a config file, or the problem that stops it being read (missing, unreadable, not UTF-8). */
export function readConfigText(file: string, abs = path.resolve(file)): { text: string } | { problem: Problem } {
  const at = (line: number, col: number): Pos => ({ file, line, col });
  try {
    const decoded = readUtf8File(abs);
    if ('text' in decoded) return decoded;
    const byte = decoded.byte.toString(16).padStart(2, '0');
    return { problem: { pos: at(decoded.line, decoded.col), message: `the file is not valid UTF-8 (byte 0x${byte} at offset ${decoded.badOffset})`, severity: 'error' } };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { problem: { pos: at(1, 1), message: `cannot read config: ${err.code ?? err.message}`, severity: 'error' } };
  }
}

export function loadConfigFile(file: string): LoadResult {
  const abs = path.resolve(file);
  const read = readConfigText(file, abs);
  if ('problem' in read) return { config: null, problems: [read.problem] };
  return loadConfigText(read.text, file, abs);
}

/** `displayName` is what messages show (as the user typed it); `abs` anchors relative paths in the file. */
export function loadConfigText(text: string, displayName: string, abs = path.resolve(displayName)): LoadResult {
  let ctx = new Ctx(displayName, new Source(displayName, text));
  try {
    try {
      return load(text, ctx, abs, true);
    } catch (e) {
      if (!(e instanceof FastReaderGaveUp)) throw e;
      // A part the fast reader left for later turned out to be beyond it: the whole file again, with the full
      // reader, as if the fast one had given up at once.
      abandonParse();
      ctx = new Ctx(displayName, new Source(displayName, text));
      return load(text, ctx, abs, false);
    }
  } catch (e) {
    // Nothing below is meant to throw; should something still do, the file is refused, not the process ended.
    abandonParse();
    ctx.problems.push({ pos: { file: displayName, line: 1, col: 1 }, message: `cannot read the config: ${e instanceof Error ? e.message : String(e)}`, severity: 'error' });
    return { config: null, problems: ctx.problems };
  }
}

function duplicateKey(ctx: Ctx, key: YNode): void {
  ctx.error(key, `duplicate key ${keyText(String(key.kind === 'scalar' ? key.value : ''))}`);
}

/** `fast`: try the fast reader first (its lazy tree; may throw FastReaderGaveUp from the schema). */
function load(text: string, ctx: Ctx, abs: string, fast: boolean): LoadResult {
  let root: YNode | null;
  let duplicates: YNode[];
  const read = fast ? parseFast(text, MAX_DEPTH, { duplicate: (key) => duplicateKey(ctx, key) }) : null;
  if (read !== null) {
    ({ root, duplicates } = read);
  } else {
    const full = parseFull(text, MAX_DEPTH);
    // A broken file can hold a syntax error every few bytes; the first ones say what is wrong.
    for (const p of full.problems.slice(0, MAX_SYNTAX_PROBLEMS)) ctx.problems.push({ pos: ctx.src.pos(p.offset), message: p.message, severity: p.severity });
    const more = full.problems.length - MAX_SYNTAX_PROBLEMS;
    if (more > 0) ctx.problems.push({ pos: ctx.src.pos(full.problems[MAX_SYNTAX_PROBLEMS].offset), message: `and ${more} more YAML problem${more === 1 ? '' : 's'}`, severity: full.problems.slice(MAX_SYNTAX_PROBLEMS).some((p) => p.severity === 'error') ? 'error' : 'warning' });
    if (full.problems.some((p) => p.severity === 'error')) return { config: null, problems: ctx.problems };
    ({ root, duplicates } = full);
  }
  // Reported here, at the later occurrence (those inside the parts a lazy tree reads later, when they are read);
  // the schema skips those pairs and goes on, so a duplicate does not hide the other problems of the file.
  for (const key of duplicates) duplicateKey(ctx, key);
  if (root === null) {
    ctx.error({ file: ctx.file, line: 1, col: 1 }, 'the config file is empty');
    return { config: null, problems: ctx.problems };
  }
  const parsed = configSchema.parse(root, ctx);
  // What the schema did not read of a lazy tree is read now: a syntax error there is still the file's.
  read?.finish();
  if (parsed === INVALID) return { config: null, problems: ctx.problems, partial: null, dropped: ctx.dropped };

  const dir = path.dirname(abs);
  const resolvePath = (p: string) => (path.isAbsolute(p) ? p : path.resolve(dir, p));
  parsed.server.geoip.databases = parsed.server.geoip.databases.map(resolvePath);
  if (parsed.server.state_file) parsed.server.state_file = resolvePath(parsed.server.state_file);
  if (parsed.server.pidfile) parsed.server.pidfile = resolvePath(parsed.server.pidfile);
  const tls = parsed.server.shared_health?.tls;
  if (tls) {
    if (tls.ca) tls.ca = resolvePath(tls.ca);
    if (tls.cert) tls.cert = resolvePath(tls.cert);
    if (tls.key) tls.key = resolvePath(tls.key);
  }

  const config: Config = { file: abs, ...parsed };
  checkReferences(config, ctx);
  return { config: hasErrors(ctx.problems) ? null : config, problems: ctx.problems, partial: config, dropped: ctx.dropped, positions: ctx.tracked };
}
