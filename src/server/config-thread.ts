// Runs in a worker thread: reads and validates config files (YAML, schema, references, and everything compiling
// a runtime can find), and for each request posts the problems and, when there is no error, the config in chunks.
// Parsing a large file takes seconds of CPU; here it takes none from the thread that answers queries. The thread
// stays up between requests (starting one and loading the modules costs more than a small config's whole load).
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { hasErrors, loadConfigFile } from '../config/load';
import { configChunks } from '../config/transfer';
import type { ConfigChunk } from '../config/transfer';
import { noHostnames } from '../lb/views';
import { buildRuntime } from '../runtime';
import type { ThreadReply, ThreadRequest } from './config-loader';

/** The chunks of the config loaded last, handed out one per `next` request. */
let pending: { id: number; chunks: Iterator<ConfigChunk> } | null = null;

function load(request: Extract<ThreadRequest, { type: 'load' }>, post: (m: ThreadReply) => void): void {
  const id = request.id;
  pending = null;
  try {
    const { config, problems } = loadConfigFile(request.file);
    if (config) problems.push(...buildRuntime(config, { store: null, hostnames: noHostnames }).problems);
    post({ id, type: 'problems', problems });
    const ok = config !== null && !hasErrors(problems);
    if (!ok) return post({ id, type: 'done', ok });
    pending = { id, chunks: configChunks(config) };
    next(id, post);
  } catch (err) {
    // A bug, not a bad file (the loader reports those as problems): say so, and this load fails.
    post({ id, type: 'failed', error: err instanceof Error ? err.stack ?? err.message : String(err) });
  }
}

/**
 * One chunk per request: the receiving thread deserializes every message waiting on its port in one go, so
 * chunks sent all at once would arrive as one long pause after all.
 */
function next(id: number, post: (m: ThreadReply) => void): void {
  if (pending === null || pending.id !== id) return;
  const r = pending.chunks.next();
  if (r.done) {
    pending = null;
    post({ id, type: 'done', ok: true });
  } else post({ id, type: 'chunk', chunk: r.value });
}

/** How much nicer than the process this thread runs (Linux: 10 gives it about a tenth of a contended CPU). */
const NICER = 10;

/**
 * Yields the CPU to the thread that answers queries: on Linux a thread has a nice value of its own, and this one
 * parses for seconds. Without it, on a machine with as many busy threads as cores, a reload under load held the
 * answering thread off a core for tens of milliseconds at a time. Elsewhere (no /proc/thread-self), or when not
 * permitted, the thread runs at the process's priority.
 */
function yieldToAnswering(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    // getPriority(): this thread's nice value, the process's when it was created (0 unless started with `nice`).
    if (Number.isInteger(tid) && tid > 0 && tid !== process.pid) setPriority(tid, Math.min(19, getPriority() + NICER));
  } catch {
    // Not Linux, or not allowed: nothing to do.
  }
}

const port = parentPort;
if (port) {
  yieldToAnswering();
  const post = (m: ThreadReply) => port.postMessage(m);
  port.on('message', (m: ThreadRequest) => (m.type === 'load' ? load(m, post) : next(m.id, post)));
}
