// `steerdns serve`: which role this process plays. A cluster worker runs one data plane driven by its primary;
// otherwise a supervisor runs, with its data plane in this process (server.workers: 1) or in N cluster workers.
import cluster from 'node:cluster';
import { loadConfigFile } from '../config/load';
import { createLogger, type Logger } from '../observe/log';
import { ClusterPlanes } from './cluster-planes';
import { pidfileConflict } from './pidfile';
import { Supervisor } from './supervisor';
import { runWorker } from './worker';

/** Runs until SIGTERM/SIGINT. Returns -1 while running, or an exit code on failure. */
export async function serve(configPath: string, opts: { watch?: boolean; pidfile?: string | null } = {}): Promise<number> {
  // Only the log level and the worker count are read here; the supervisor loads and validates the file itself.
  const { config } = loadConfigFile(configPath);
  const logger = createLogger(config?.server.log.level ?? 'info');
  guardProcess(logger);
  if (cluster.isWorker) {
    runWorker(logger.child({ worker: cluster.worker?.id }));
    return -1;
  }
  // The pidfile applies at start-up, like the worker count; --pidfile wins over server.pidfile.
  const pidfile = opts.pidfile ?? config?.server.pidfile ?? null;
  const conflict = pidfile ? pidfileConflict(pidfile) : null;
  if (conflict) {
    logger.error('cannot start', { err: conflict });
    return 1;
  }
  const workers = config?.server.workers ?? 1;
  const supervisor = new Supervisor({
    configPath,
    logger,
    signals: true,
    watch: opts.watch,
    pidfile,
    planes: workers > 1 ? (store, log) => new ClusterPlanes(workers, store, log) : undefined,
  });
  try {
    await supervisor.start();
  } catch (err) {
    logger.error('cannot start', { err: err instanceof Error ? err.message : String(err) });
    await supervisor.stop().catch(() => undefined);
    return 1;
  }
  return -1;
}

/**
 * A promise rejection nobody handled would end the process (Node's default): for a DNS server that is a whole
 * domain offline. It is a bug, logged as one, and the server keeps serving.
 */
function guardProcess(log: Logger): void {
  process.on('unhandledRejection', (reason) => {
    log.error('internal error: unhandled promise rejection', { err: reason instanceof Error ? reason.stack ?? reason.message : String(reason) });
  });
}
