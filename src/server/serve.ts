// `steerdns serve`: which role this process plays. A cluster worker runs one data plane driven by its primary;
// otherwise a supervisor runs, with its data plane in this process (server.workers: 1) or in N cluster workers.
import cluster from 'node:cluster';
import { setFlagsFromString } from 'node:v8';
import { loadConfigFile } from '../config/load';
import { createLogger, type Logger, type LogLevel } from '../observe/log';
import { ClusterPlanes } from './cluster-planes';
import { pidfileConflict } from './pidfile';
import { Supervisor } from './supervisor';
import { runWorker } from './worker';

/** Runs until SIGTERM/SIGINT. Returns -1 while running, or an exit code on failure. */
export async function serve(configPath: string, opts: { watch?: boolean; pidfile?: string | null } = {}): Promise<number> {
  if (cluster.isWorker) {
    // A worker gets its config from the primary; of the file it needs only the log level, which came with it.
    const logger = createLogger(logLevelFrom(process.env[WORKER_LOG_LEVEL_ENV]));
    guardProcess(logger);
    boundHeapGrowth();
    runWorker(logger.child({ worker: cluster.worker?.id }));
    return -1;
  }
  // Read once here for what applies before a supervisor exists (log level, workers, pidfile); the supervisor starts
  // from this same load and reports its problems.
  const loaded = loadConfigFile(configPath);
  const { config } = loaded;
  const logger = createLogger(config?.server.log.level ?? 'info');
  guardProcess(logger);
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
    preloaded: loaded,
    planes: workers > 1 ? (store, log) => new ClusterPlanes(workers, store, log, { [WORKER_LOG_LEVEL_ENV]: config?.server.log.level ?? 'info' }) : undefined,
  });
  try {
    await supervisor.start();
    // After the first build: bounding growth while the first config is built only costs start-up time.
    boundHeapGrowth();
  } catch (err) {
    logger.error('cannot start', { err: err instanceof Error ? err.message : String(err) });
    await supervisor.stop().catch(() => undefined);
    return 1;
  }
  return -1;
}

/** How a primary tells its workers the log level (they never read the config file). */
const WORKER_LOG_LEVEL_ENV = 'STEERDNS_WORKER_LOG_LEVEL';

function logLevelFrom(v: string | undefined): LogLevel {
  return v === 'debug' || v === 'info' || v === 'warn' || v === 'error' ? v : 'info';
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

/**
 * A reload leaves the previous config and runtime behind as garbage — for a big config, a hundred MB or more at a
 * time. V8 lets the old generation grow to several times the live data before it collects, so RSS would climb with
 * every reload; growing it by at most half over what is live keeps a server's memory near its working set, at the
 * cost of more frequent (concurrent, incremental) major collections.
 */
function boundHeapGrowth(): void {
  setFlagsFromString('--heap-growing-percent=50');
}
