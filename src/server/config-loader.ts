// Loading a config for the server: the file is read, parsed and validated in a worker thread (config-thread.ts)
// and the result comes back in chunks, so that the event loop answering queries never runs the parser. The thread
// also bounds the damage of a hostile file: it has its own heap limit and a deadline, and whatever goes wrong in
// it (a crash, running out of memory) fails the load, never the process.
import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { hasErrors, loadConfigFile } from '../config/load';
import { ConfigAssembler, isConfigChunk, type ConfigChunk } from '../config/transfer';
import type { Config, Problem } from '../config/types';
import { noHostnames } from '../lb/views';
import { buildRuntime } from '../runtime';

/** `load` a file; `next` asks for the following chunk of load `id` (see config-thread.ts). */
export type ThreadRequest = { type: 'load'; id: number; file: string } | { type: 'next'; id: number };

export type ThreadReply =
  | { id: number; type: 'problems'; problems: Problem[] }
  | { id: number; type: 'chunk'; chunk: ConfigChunk }
  | { id: number; type: 'done'; ok: boolean }
  | { id: number; type: 'failed'; error: string };

export interface LoadOutcome {
  /** null when the file has errors (they are in `problems`) or could not be loaded at all. */
  config: Config | null;
  problems: Problem[];
}

export interface LoaderOptions {
  /** Give up on a load that takes longer (a pathological file); the thread is then replaced. */
  timeoutMs?: number;
  /** Heap limit of the loading thread. */
  maxHeapMb?: number;
  /**
   * After loading a file larger than this, the thread is ended rather than kept: an idle thread never collects
   * its garbage, and a large file leaves hundreds of MB of it.
   */
  keepThreadBelowBytes?: number;
}

/** The compiled thread script: next to this file, or in dist/ when this runs from the TypeScript sources (tests). */
function threadScript(): string | null {
  const here = path.join(__dirname, 'config-thread.js');
  if (existsSync(here)) return here;
  const built = path.resolve(__dirname, '..', '..', 'dist', 'server', 'config-thread.js');
  return existsSync(built) ? built : null;
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** The problem that stands for a load that failed as a whole. */
function loadFailure(file: string, message: string): Problem {
  return { pos: { file, line: 1, col: 1 }, message, severity: 'error' };
}

interface Request {
  id: number;
  /** The thread doing this load: only its death fails it. */
  worker: Worker | null;
  file: string;
  assembler: ConfigAssembler;
  problems: Problem[];
  resolve: (o: LoadOutcome) => void;
  timer: NodeJS.Timeout;
}

/**
 * Loads config files in a worker thread, one at a time; resolves with the config or the problems and never
 * rejects. The thread starts on the first load and stays up; if it dies (a crash, its heap limit, a deadline),
 * the load in progress fails and the next one starts a new thread.
 */
export class ConfigLoader {
  private worker: Worker | null = null;
  private current: Request | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;

  constructor(private readonly opts: LoaderOptions = {}) {}

  load(file: string): Promise<LoadOutcome> {
    const run = this.queue.then(() => this.loadNow(file));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Ends the thread (a stopped server must not keep the process alive). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }

  private loadNow(file: string): Promise<LoadOutcome> {
    const script = threadScript();
    if (script === null) return Promise.resolve(loadConfigHere(file));
    return new Promise((resolve) => {
      const worker = this.thread(script);
      const id = this.nextId++;
      const timeoutMs = this.opts.timeoutMs ?? 120000;
      const timer = setTimeout(() => {
        this.fail(`loading the config took longer than ${Math.round(timeoutMs / 1000)} s`);
        void this.close();
      }, timeoutMs);
      this.current = { id, worker, file, assembler: new ConfigAssembler(), problems: [], resolve, timer };
      worker.postMessage({ type: 'load', id, file } satisfies ThreadRequest);
    });
  }

  private thread(script: string): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(script, { resourceLimits: { maxOldGenerationSizeMb: this.opts.maxHeapMb ?? 2048 }, stdout: false, stderr: false });
    // An idle loader must not keep a stopping process alive.
    worker.unref();
    worker.on('message', (m: ThreadReply) => this.onMessage(m));
    // A thread ended after a large file may report its exit while the next load runs on a new thread.
    worker.on('error', (err) => {
      if (this.worker === worker) this.worker = null;
      if (this.current?.worker === worker) this.fail(`the config could not be loaded: ${err.message}`);
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = null;
      if (this.current?.worker === worker) this.fail(`the config loader stopped (exit code ${code})`);
    });
    this.worker = worker;
    return worker;
  }

  private onMessage(m: ThreadReply): void {
    const r = this.current;
    if (!r || m.id !== r.id) return;
    try {
      switch (m.type) {
        case 'problems':
          r.problems = m.problems;
          break;
        case 'chunk':
          if (!isConfigChunk(m.chunk)) throw new Error('malformed config chunk');
          r.assembler.add(m.chunk);
          // The next chunk after the event loop has had its turn (queries waiting are answered first).
          setImmediate(() => {
            if (this.current === r) r.worker?.postMessage({ type: 'next', id: r.id } satisfies ThreadRequest);
          });
          break;
        case 'done':
          this.finish({ config: m.ok ? r.assembler.finish() : null, problems: r.problems });
          break;
        case 'failed':
          this.fail(`internal error while loading the config: ${m.error.split('\n')[0]}`);
          break;
      }
    } catch (err) {
      this.fail(`internal error while loading the config: ${(err as Error).message}`);
    }
  }

  private fail(message: string): void {
    const r = this.current;
    if (r) this.finish({ config: null, problems: [...r.problems, loadFailure(r.file, message)] });
  }

  private finish(outcome: LoadOutcome): void {
    const r = this.current;
    if (!r) return;
    this.current = null;
    clearTimeout(r.timer);
    r.resolve(outcome);
    if (this.worker !== null && fileSize(r.file) > (this.opts.keepThreadBelowBytes ?? 1024 * 1024)) void this.close();
  }
}

/** The same, on this thread (no compiled thread script: a test running from sources without a build). */
export function loadConfigHere(file: string): LoadOutcome {
  try {
    const { config, problems } = loadConfigFile(file);
    if (config) problems.push(...buildRuntime(config, { store: null, hostnames: noHostnames }).problems);
    return { config: config && !hasErrors(problems) ? config : null, problems };
  } catch (err) {
    return { config: null, problems: [loadFailure(file, `internal error while loading the config: ${(err as Error).message}`)] };
  }
}
