// Structured logs: one JSON object per line on stderr ({"time","level","msg",...fields}). Nothing per query
// unless query logging is switched on.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  setLevel(level: LogLevel): void;
}

export type LogSink = (line: string) => void;

const stderrSink: LogSink = (line) => {
  process.stderr.write(`${line}\n`);
};

class JsonLogger implements Logger {
  constructor(
    private state: { level: number },
    private readonly base: Record<string, unknown>,
    private readonly sink: LogSink,
  ) {}

  private write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (ORDER[level] < this.state.level) return;
    const rec: Record<string, unknown> = { time: new Date().toISOString(), level, msg, ...this.base };
    if (fields) for (const k of Object.keys(fields)) rec[k] = errorSafe(fields[k]);
    let line: string;
    try {
      line = JSON.stringify(rec);
    } catch {
      line = JSON.stringify({ time: rec.time, level, msg, note: 'fields not serialisable' });
    }
    this.sink(line);
  }

  debug(msg: string, fields?: Record<string, unknown>): void { this.write('debug', msg, fields); }
  info(msg: string, fields?: Record<string, unknown>): void { this.write('info', msg, fields); }
  warn(msg: string, fields?: Record<string, unknown>): void { this.write('warn', msg, fields); }
  error(msg: string, fields?: Record<string, unknown>): void { this.write('error', msg, fields); }

  child(fields: Record<string, unknown>): Logger {
    return new JsonLogger(this.state, { ...this.base, ...fields }, this.sink);
  }

  setLevel(level: LogLevel): void {
    this.state.level = ORDER[level];
  }
}

function errorSafe(v: unknown): unknown {
  if (v instanceof Error) return { message: v.message, code: (v as NodeJS.ErrnoException).code, stack: v.stack };
  if (typeof v === 'bigint') return v.toString();
  return v;
}

export function createLogger(level: LogLevel = 'info', sink: LogSink = stderrSink, base: Record<string, unknown> = {}): Logger {
  return new JsonLogger({ level: ORDER[level] }, base, sink);
}

/** A logger that drops everything (tests, the check command). */
export const silentLogger: Logger = createLogger('error', () => undefined);
