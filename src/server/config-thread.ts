// Runs in a worker thread: reads and validates config files (YAML, schema, references, and everything compiling
// a runtime can find), and for each request posts the problems and, when there is no error, the config in chunks.
// Parsing a large file takes seconds of CPU; here it takes none from the thread that answers queries. The thread
// stays up between requests (starting one and loading the modules costs more than a small config's whole load).
import { parentPort } from 'node:worker_threads';
import { hasErrors, loadConfigFile } from '../config/load';
import { configChunks } from '../config/transfer';
import { noHostnames } from '../lb/views';
import { buildRuntime } from '../runtime';
import type { ThreadReply, ThreadRequest } from './config-loader';

function load(request: ThreadRequest, post: (m: ThreadReply) => void): void {
  const id = request.id;
  try {
    const { config, problems } = loadConfigFile(request.file);
    if (config) problems.push(...buildRuntime(config, { store: null, hostnames: noHostnames }).problems);
    post({ id, type: 'problems', problems });
    const ok = config !== null && !hasErrors(problems);
    if (ok) for (const chunk of configChunks(config)) post({ id, type: 'chunk', chunk });
    post({ id, type: 'done', ok });
  } catch (err) {
    // A bug, not a bad file (the loader reports those as problems): say so, and this load fails.
    post({ id, type: 'failed', error: err instanceof Error ? err.stack ?? err.message : String(err) });
  }
}

const port = parentPort;
if (port) {
  const post = (m: ThreadReply) => port.postMessage(m);
  port.on('message', (m: ThreadRequest) => load(m, post));
}
