// The optional `server.state_file` (docs/decisions.md §1.4): the health store's snapshot, written atomically (temp file,
// fsync, rename) after status changes (debounced, at most once per `debounceMs`) and at shutdown; read at start-up
// so that a restart does not send traffic to the fallback pool while the first probes run. Only targets whose key
// is unchanged are restored (the key includes the monitor definition).
//
// Reading never stops the server. A file that is missing, not a regular file, larger than MAX_STATE_FILE_BYTES,
// holding more than MAX_STATE_FILE_CONTAINERS objects and arrays, not JSON, or not a `steerdns-health` v1 object
// with a `targets` array is logged and ignored as a whole: the server starts with every target unknown, as without
// a state file. Inside a well-formed file, each target entry is checked on its own: a malformed one (wrong field
// types, out-of-range numbers or times) is dropped and counted in one warning, the others are restored. A bad
// `savedAt` is only reported as unknown.
//
// Writing creates the temp file in the target's directory under an unpredictable name (random bytes), opened
// with O_CREAT|O_EXCL|O_NOFOLLOW: it never follows a symlink and never truncates a file that someone else put
// there; the temp file is removed on any failure.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { HealthSnapshot, HealthStore, SnapshotEntry } from './store';
import { isFailureReason, silentLogger } from './types';
import type { HealthLogger } from './types';

/**
 * Larger files are refused unread. A saved target takes 250–400 bytes: 50,000 targets (docs/architecture.md: 50,000
 * endpoints) make 12–20 MB, so this leaves a margin while keeping a runaway file from filling memory at start-up.
 */
export const MAX_STATE_FILE_BYTES = 32 * 1024 * 1024;

/**
 * Objects and arrays ('{' and '[' bytes, counted before parsing) a file may hold. A saved target is one object
 * (more only if its free-text detail quotes braces); 32 MB of `{},{},…` would otherwise parse into ~1.5 GB of heap
 * and take a minute: a million containers stay near 70 MB and a second.
 */
export const MAX_STATE_FILE_CONTAINERS = 1_000_000;

/** The largest time a JS Date can hold (ECMA-262 §21.4.1.1): beyond it toISOString() throws. */
const MAX_TIME_MS = 8.64e15;

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= MAX_TIME_MS;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isNonNegOrNull(v: unknown): v is number | null {
  return v === null || (typeof v === 'number' && Number.isFinite(v) && v >= 0);
}

/** One saved target, checked field by field (the shape HealthStore.snapshot writes). */
function isSavedEntry(e: unknown): e is SnapshotEntry {
  if (!e || typeof e !== 'object' || Array.isArray(e)) return false;
  const o = e as Record<string, unknown>;
  return (
    typeof o.key === 'string' &&
    o.key.length > 0 &&
    (o.status === 'healthy' || o.status === 'unhealthy') &&
    isFailureReason(o.reason) &&
    typeof o.detail === 'string' &&
    (o.responseCode === null || (isCount(o.responseCode) && o.responseCode <= 999)) &&
    isNonNegOrNull(o.rttMs) &&
    isNonNegOrNull(o.rttEwmaMs) &&
    (o.lastCheckedAt === null || isTime(o.lastCheckedAt)) &&
    (o.changedAt === null || isTime(o.changedAt)) &&
    isCount(o.consecutiveUp) &&
    isCount(o.consecutiveDown)
  );
}

/** ISO time of a saved timestamp, null when it is not one. */
function isoOrNull(ms: unknown): string | null {
  return isTime(ms) ? new Date(ms).toISOString() : null;
}

/** The file's text, or null (logged) when it cannot or should not be read. */
function readStateText(file: string, logger: HealthLogger): string | null {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted at the path must not hang start-up (it has no effect on regular files).
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') logger.info('health state file not found; starting with unknown health', { file });
    else logger.warn('health state file unreadable; ignored', { file, error: String(err) });
    return null;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      logger.warn('health state file is not a regular file; ignored', { file });
      return null;
    }
    if (st.size > MAX_STATE_FILE_BYTES) {
      logger.warn('health state file is too large; ignored', { file, bytes: st.size, max_bytes: MAX_STATE_FILE_BYTES });
      return null;
    }
    // Read at most one byte past the limit: the file may grow between fstat and read.
    const buf = Buffer.alloc(Math.min(st.size, MAX_STATE_FILE_BYTES) + 1);
    let n = 0;
    for (;;) {
      const got = fs.readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n === buf.length) break;
    }
    if (n > MAX_STATE_FILE_BYTES) {
      logger.warn('health state file is too large; ignored', { file, max_bytes: MAX_STATE_FILE_BYTES });
      return null;
    }
    return buf.toString('utf8', 0, n);
  } catch (err) {
    logger.warn('health state file unreadable; ignored', { file, error: String(err) });
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

function countContainers(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) n++; // '{' '['
  }
  return n;
}

/**
 * Reads a snapshot; null (after logging why) when the file is missing, unreadable or not a snapshot. The snapshot
 * returned holds only the well-formed target entries (the others are counted in a warning). Never throws.
 */
export function loadStateFile(file: string, logger: HealthLogger = silentLogger): HealthSnapshot | null {
  const text = readStateText(file, logger);
  if (text === null) return null;
  if (countContainers(text) > MAX_STATE_FILE_CONTAINERS) {
    logger.warn('health state file holds too many objects; ignored', { file, max_objects: MAX_STATE_FILE_CONTAINERS });
    return null;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    logger.warn('health state file is corrupt; ignored', { file, error: String(err) });
    return null;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    logger.warn('health state file has an unknown format; ignored', { file });
    return null;
  }
  const o = parsed as Record<string, unknown>;
  if (o.format !== 'steerdns-health' || o.formatVersion !== 1 || !Array.isArray(o.targets)) {
    logger.warn('health state file has an unknown format; ignored', { file });
    return null;
  }
  const saved: unknown[] = o.targets;
  const targets = saved.filter(isSavedEntry);
  if (targets.length < saved.length) {
    logger.warn('health state file has malformed target entries; they are ignored', { file, ignored: saved.length - targets.length, kept: targets.length });
  }
  // savedAt is informative only (the log line below): a bad one does not spoil the targets.
  if (!isTime(o.savedAt)) logger.warn('health state file has no valid savedAt; its targets are restored anyway', { file });
  return { format: 'steerdns-health', formatVersion: 1, savedAt: isTime(o.savedAt) ? o.savedAt : Number.NaN, targets };
}

/** Loads `file` into `store` for the targets in `validKeys`; returns the number of targets restored. Never throws. */
export function restoreStateFile(file: string, store: HealthStore, validKeys: ReadonlySet<string>, logger: HealthLogger = silentLogger): number {
  try {
    const snap = loadStateFile(file, logger);
    if (!snap) return 0;
    const n = store.restore(snap, validKeys);
    logger.info('health state restored', { file, restored: n, saved: snap.targets.length, saved_at: isoOrNull(snap.savedAt) });
    return n;
  } catch (err) {
    // Belt and braces: whatever slipped through the checks above must not keep the server from starting.
    logger.warn('health state file could not be restored; ignored', { file, error: String(err) });
    return 0;
  }
}

/** `.<base>.<24 random hex digits>.tmp` beside `file`: a name another local user cannot predict and pre-plant. */
function tempPath(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(12).toString('hex')}.tmp`);
}

/** Create-only, never through a symlink (O_NOFOLLOW is 0 where the platform lacks it; O_EXCL alone refuses links). */
const TEMP_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0);
const TEMP_MODE = 0o644;
/** Attempts at a fresh temp name when one is taken (EEXIST): only a planted file or a 2^-96 collision gets there. */
const TEMP_TRIES = 5;

async function openTemp(file: string): Promise<{ tmp: string; fh: fsp.FileHandle }> {
  for (let i = 1; ; i++) {
    const tmp = tempPath(file);
    try {
      return { tmp, fh: await fsp.open(tmp, TEMP_FLAGS, TEMP_MODE) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || i >= TEMP_TRIES) throw err;
    }
  }
}

function openTempSync(file: string): { tmp: string; fd: number } {
  for (let i = 1; ; i++) {
    const tmp = tempPath(file);
    try {
      return { tmp, fd: fs.openSync(tmp, TEMP_FLAGS, TEMP_MODE) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || i >= TEMP_TRIES) throw err;
    }
  }
}

/** fsync of the directory, so that the rename itself survives a crash; best effort (not every platform allows it). */
async function syncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | null = null;
  try {
    fh = await fsp.open(dir, fs.constants.O_RDONLY);
    await fh.sync();
  } catch {
    // the data is in place either way; only its durability across a power cut is weaker
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

function syncDirSync(dir: string): void {
  let fd: number | null = null;
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY);
    fs.fsyncSync(fd);
  } catch {
    // as in syncDir
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

/** Writes a snapshot atomically: an exclusive temp file in the same directory, fsync, rename over `file`. */
export async function writeStateFile(file: string, snap: HealthSnapshot): Promise<void> {
  const { tmp, fh } = await openTemp(file);
  let renamed = false;
  try {
    try {
      await fh.writeFile(JSON.stringify(snap));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
    renamed = true;
  } finally {
    // The temp file is ours (created exclusively): remove it on any failure.
    if (!renamed) await fsp.unlink(tmp).catch(() => undefined);
  }
  await syncDir(path.dirname(file));
}

/** The same, synchronously (for a last write from a signal or exit handler). */
export function writeStateFileSync(file: string, snap: HealthSnapshot): void {
  const { tmp, fd } = openTempSync(file);
  let renamed = false;
  try {
    try {
      fs.writeFileSync(fd, JSON.stringify(snap));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    renamed = true;
  } finally {
    if (!renamed) {
      try {
        fs.unlinkSync(tmp);
      } catch {
        // already gone
      }
    }
  }
  syncDirSync(path.dirname(file));
}

export interface StateFileWriterOptions {
  logger?: HealthLogger;
  /** Minimum time between two writes (default 1000 ms). */
  debounceMs?: number;
}

/** Writes the store to `file` after status changes, at most once per `debounceMs`, and on flush()/close(). */
export class StateFileWriter {
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private dirty = false;
  private lastWrite = 0;
  private closed = false;
  private readonly unsubscribe: () => void;
  private readonly logger: HealthLogger;
  private readonly debounceMs: number;
  /** Number of completed writes (for tests and metrics). */
  writes = 0;

  constructor(
    private readonly store: HealthStore,
    readonly file: string,
    opts: StateFileWriterOptions = {},
  ) {
    this.logger = opts.logger ?? silentLogger;
    this.debounceMs = Math.max(0, opts.debounceMs ?? 1000);
    this.unsubscribe = store.onTransition(() => this.markDirty());
  }

  /** Schedules a write (also called on every transition). */
  markDirty(): void {
    if (this.closed) return;
    this.dirty = true;
    if (this.timer || this.writing) return;
    const wait = Math.max(0, this.lastWrite + this.debounceMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, wait);
    this.timer.unref();
  }

  /** Writes now if anything changed since the last write (or `force`). */
  async flush(force = false): Promise<void> {
    if (this.writing) {
      await this.writing;
      if (!this.dirty && !force) return;
    }
    if (!this.dirty && !force) return;
    this.dirty = false;
    this.writing = writeStateFile(this.file, this.store.snapshot())
      .then(() => {
        this.writes++;
      })
      .catch((err: unknown) => {
        this.logger.error('health state file write failed', { file: this.file, error: String(err) });
      })
      .finally(() => {
        this.lastWrite = Date.now();
        this.writing = null;
        if (this.dirty && !this.closed) this.markDirty();
      });
    await this.writing;
  }

  /** Final write (always, so the file reflects the last state) and unsubscribe. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.closed = true;
    this.unsubscribe();
    await this.flush(true);
  }
}
