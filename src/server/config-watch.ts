// Opt-in config watch (`serve --watch` or `server.watch_config`): reloads when the config file's content changes.
// The directory is watched, not the file: editors replace files by rename, and Kubernetes updates a mounted
// ConfigMap by swapping a `..data` symlink in that directory, which a watch on the old file would never see. Events
// are debounced, and only a change of content triggers a reload (the directory sees unrelated events too). A slow
// poll backs the watch up on filesystems where inotify says nothing (network mounts, some overlay setups).
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { Logger } from '../observe/log';

export interface ConfigWatchOptions {
  debounceMs?: number;
  pollMs?: number;
}

export class ConfigWatcher {
  private watcher: FSWatcher | null = null;
  private poll: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private lastHash: string | null = null;
  private checking = false;
  private stopped = false;
  private readonly debounceMs: number;
  private readonly pollMs: number;

  constructor(
    readonly file: string,
    private readonly onChange: () => void,
    private readonly log: Logger,
    opts: ConfigWatchOptions = {},
  ) {
    this.debounceMs = opts.debounceMs ?? 500;
    this.pollMs = opts.pollMs ?? 10_000;
  }

  async start(): Promise<void> {
    this.lastHash = await this.hash();
    const dir = path.dirname(path.resolve(this.file));
    try {
      this.watcher = watch(dir, { persistent: false }, () => this.schedule());
      this.watcher.on('error', (err) => this.log.warn('config watch error; polling only', { dir, err: err.message }));
    } catch (err) {
      this.log.warn('cannot watch the config directory; polling only', { dir, err: (err as Error).message });
    }
    this.poll = setInterval(() => this.schedule(), this.pollMs);
    this.poll.unref();
    this.log.info('watching the config file for changes', { config: this.file, dir });
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = null;
    if (this.poll) clearInterval(this.poll);
    if (this.debounce) clearTimeout(this.debounce);
    this.poll = null;
    this.debounce = null;
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = null;
      void this.check();
    }, this.debounceMs);
    this.debounce.unref();
  }

  private async check(): Promise<void> {
    if (this.checking || this.stopped) return;
    this.checking = true;
    try {
      const h = await this.hash();
      // Unreadable for a moment (mid-swap, or deleted): wait for the next event or poll.
      if (h === null || h === this.lastHash) return;
      this.lastHash = h;
      this.log.info('config file changed: reloading', { config: this.file });
      this.onChange();
    } finally {
      this.checking = false;
    }
  }

  private async hash(): Promise<string | null> {
    try {
      return createHash('sha256').update(await readFile(this.file)).digest('hex');
    } catch {
      return null;
    }
  }
}
