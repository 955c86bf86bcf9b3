// The health-event log on disk, beside the state file: `<state_file>.events`, one JSON event per line, appended as
// events happen and rotated to `<state_file>.events.1` when it would pass MAX_EVENT_FILE_BYTES (so the two files
// hold at most twice that). At start-up both are read back: the in-memory log continues with the newest events,
// and ids continue after the highest id found, so a poller's `since_id` and webhook receivers never see an id
// twice across restarts (unless both files are deleted).
//
// Like the state file, reading never stops the server: a file that is missing, not a regular file or too large is
// logged and skipped; a line that is not a well-formed event (a write cut short by a crash) is dropped and counted.
// Appends go through O_APPEND|O_NOFOLLOW (never through a symlink planted at the path), batched and asynchronous.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { HealthEvent } from './events';
import { silentLogger } from './types';
import type { HealthLogger } from './types';

/** A file is rotated before it passes this size. An event takes 0.3–1 KB (more for pools with many endpoints). */
export const MAX_EVENT_FILE_BYTES = 4 * 1024 * 1024;

// Read-write: the first append of a run reads the last byte (a line torn by a crash gets its newline).
const APPEND_FLAGS = fs.constants.O_RDWR | fs.constants.O_APPEND | fs.constants.O_CREAT | (fs.constants.O_NOFOLLOW ?? 0);

export function eventLogPath(stateFile: string): string {
  return `${stateFile}.events`;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The shape HealthEvents produces, checked enough that the API and the page can rely on it. */
function isHealthEvent(x: unknown): x is HealthEvent {
  if (!isRecord(x)) return false;
  const { id, timestamp, pool, origins, cause } = x;
  return (
    typeof id === 'number' &&
    Number.isSafeInteger(id) &&
    id > 0 &&
    typeof timestamp === 'string' &&
    !Number.isNaN(Date.parse(timestamp)) &&
    isRecord(pool) &&
    typeof pool.name === 'string' &&
    typeof pool.healthy === 'boolean' &&
    Array.isArray(origins) &&
    origins.every((o) => isRecord(o) && typeof o.name === 'string' && typeof o.healthy === 'boolean') &&
    isRecord(cause) &&
    typeof cause.origin === 'string'
  );
}

/** The text of a log file, or null (logged when it exists but cannot be used). */
function readLogText(file: string, logger: HealthLogger): string | null {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn('health event log unreadable; ignored', { file, error: String(err) });
    return null;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      logger.warn('health event log is not a regular file; ignored', { file });
      return null;
    }
    // A file past the rotation size was not written by us (or the limit shrank): read its last part only.
    const length = Math.min(st.size, 2 * MAX_EVENT_FILE_BYTES);
    const buf = Buffer.alloc(length);
    let n = 0;
    while (n < length) {
      const got = fs.readSync(fd, buf, n, length - n, st.size - length + n);
      if (got === 0) break;
      n += got;
    }
    let text = buf.toString('utf8', 0, n);
    if (length < st.size) text = text.slice(text.indexOf('\n') + 1); // the first line read is a partial one
    return text;
  } catch (err) {
    logger.warn('health event log unreadable; ignored', { file, error: String(err) });
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The events saved in `file` and its rotated predecessor, oldest first and at most `capacity` of them, and the
 * highest id seen (0 when there is none). Never throws.
 */
export function loadEventLog(file: string, capacity: number, logger: HealthLogger = silentLogger): { events: HealthEvent[]; lastId: number } {
  const events: HealthEvent[] = [];
  let lastId = 0;
  let bad = 0;
  for (const f of [`${file}.1`, file]) {
    const text = readLogText(f, logger);
    if (text === null) continue;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      let e: unknown;
      try {
        e = JSON.parse(line);
      } catch {
        bad++;
        continue;
      }
      if (!isHealthEvent(e) || e.id <= lastId) {
        bad++;
        continue;
      }
      lastId = e.id;
      events.push(e);
    }
  }
  if (bad > 0) logger.warn('health event log has malformed or out-of-order lines; they are ignored', { file, ignored: bad, kept: events.length });
  return { events: events.length > capacity ? events.slice(events.length - capacity) : events, lastId };
}

/** Appends events to `file` (batched, in order), rotating it past MAX_EVENT_FILE_BYTES. */
export class EventLogWriter {
  private queue: string[] = [];
  private writing: Promise<void> | null = null;
  private size = -1;
  private closed = false;
  /** Events written (for tests). */
  written = 0;

  constructor(
    readonly file: string,
    private readonly logger: HealthLogger = silentLogger,
    private readonly maxBytes = MAX_EVENT_FILE_BYTES,
  ) {}

  append(e: HealthEvent): void {
    if (this.closed) return;
    this.queue.push(`${JSON.stringify(e)}\n`);
    if (!this.writing) this.writing = this.drain();
  }

  /** Resolves when everything appended so far is written (or failed and was logged). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.join('');
        const count = this.queue.length;
        this.queue = [];
        try {
          await this.write(batch);
          this.written += count;
        } catch (err) {
          this.size = -1; // unknown again: the next write looks at the file afresh
          this.logger.error('health event log write failed', { file: this.file, error: String(err), events: count });
        }
      }
    } finally {
      this.writing = null;
    }
  }

  private async write(batch: string): Promise<void> {
    const bytes = Buffer.byteLength(batch);
    let fh = await fsp.open(this.file, APPEND_FLAGS, 0o644);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new Error('not a regular file');
      let prefix = '';
      if (this.size < 0 && st.size > 0) {
        // A line cut short by a crash must not swallow the first event of this run.
        const last = Buffer.alloc(1);
        await fh.read(last, 0, 1, st.size - 1);
        if (last[0] !== 0x0a) prefix = '\n';
      }
      this.size = st.size;
      if (this.size > 0 && this.size + bytes > this.maxBytes) {
        await fh.close();
        await fsp.rename(this.file, `${this.file}.1`);
        fh = await fsp.open(this.file, APPEND_FLAGS, 0o644);
        this.size = 0;
        prefix = '';
      }
      await fh.write(prefix + batch);
      this.size += Buffer.byteLength(prefix) + bytes;
    } finally {
      await fh.close().catch(() => undefined);
    }
  }
}
