// The optional `server.state_file` (design §2.4): the health store's snapshot, written atomically (temp file,
// fsync, rename) after status changes (debounced, at most once per `debounceMs`) and at shutdown; read at start-up
// so that a restart does not send traffic to the fallback pool while the first probes run. Only targets whose key
// is unchanged are restored (the key includes the monitor definition). A missing or corrupt file is logged and
// ignored: the server then starts with every target unknown, as without a state file.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { HealthSnapshot, HealthStore } from './store';
import { silentLogger } from './types';
import type { HealthLogger } from './types';

/** Reads a snapshot; null (after logging why) when the file is missing, unreadable or not a snapshot. */
export function loadStateFile(file: string, logger: HealthLogger = silentLogger): HealthSnapshot | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') logger.info('health state file not found; starting with unknown health', { file });
    else logger.warn('health state file unreadable; ignored', { file, error: String(err) });
    return null;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (
      parsed &&
      typeof parsed === 'object' &&
      (parsed as HealthSnapshot).format === 'steerdns-health' &&
      (parsed as HealthSnapshot).formatVersion === 1 &&
      Array.isArray((parsed as HealthSnapshot).targets)
    ) {
      return parsed as HealthSnapshot;
    }
    logger.warn('health state file has an unknown format; ignored', { file });
  } catch (err) {
    logger.warn('health state file is corrupt; ignored', { file, error: String(err) });
  }
  return null;
}

/** Loads `file` into `store` for the targets in `validKeys`; returns the number of targets restored. */
export function restoreStateFile(file: string, store: HealthStore, validKeys: ReadonlySet<string>, logger: HealthLogger = silentLogger): number {
  const snap = loadStateFile(file, logger);
  if (!snap) return 0;
  const n = store.restore(snap, validKeys);
  logger.info('health state restored', { file, restored: n, saved: snap.targets.length, saved_at: new Date(snap.savedAt).toISOString() });
  return n;
}

let tmpCounter = 0;

/** Writes a snapshot atomically: a temp file in the same directory, fsync, rename over `file`. */
export async function writeStateFile(file: string, snap: HealthSnapshot): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${++tmpCounter}.tmp`);
  const fh = await fsp.open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(JSON.stringify(snap));
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** The same, synchronously (for a last write from a signal or exit handler). */
export function writeStateFileSync(file: string, snap: HealthSnapshot): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${++tmpCounter}.tmp`);
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeFileSync(fd, JSON.stringify(snap));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // nothing to clean up
    }
    throw err;
  }
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
