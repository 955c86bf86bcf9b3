// `steerdns check`: validates a config file as the server would load it, and says so in one pass.
// (The command table is loaded for every command: what a command needs is imported when it runs.)
import { required } from './args';
import { defineCommand } from './spec';

export const checkCommand = defineCommand({
  name: 'check',
  summary: 'validate a config file: every problem as file:line:col, then a summary',
  synopsis: '-c FILE [--format text|json] [--print]',
  description: `Reads the file as the server would and reports every problem in one pass, sorted by position: YAML
syntax, unknown keys, values, references between sections, record values, rule expressions, regions, GeoIP files,
monitors. Exit status 0 when the file can be served (warnings allowed), 1 when it has errors, 2 for a usage error.`,
  options: {
    config: { type: 'string', short: 'c', value: 'FILE', help: 'the config file' },
    format: { type: 'string', choices: ['text', 'json'], help: 'text (default): problems on stderr, summary on stdout; json: one object on stdout' },
    print: { type: 'boolean', help: 'print the effective config (defaults filled in) as YAML, or under "config" with --format json' },
  },
  async run({ values }) {
    const file = required(values.config, '-c FILE', 'check');
    const { checkConfigFile, effectiveConfig, summaryText } = await import('../runtime/check');
    const { formatProblem } = await import('../config/load');
    const r = await checkConfigFile(file);
    if (values.format === 'json') {
      const out = {
        file,
        valid: r.errors === 0,
        errors: r.errors,
        warnings: r.warnings,
        problems: r.problems.map((p) => ({ file: p.pos.file, line: p.pos.line, col: p.pos.col, severity: p.severity, message: p.message })),
        summary: r.summary,
        ...(values.print && r.config ? { config: effectiveConfig(r.config) } : {}),
      };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return r.errors === 0 ? 0 : 1;
    }
    for (const p of r.problems) process.stderr.write(`${formatProblem(p)}\n`);
    if (r.errors > 0 || !r.config || !r.summary) {
      const n = (k: number, w: string) => `${k} ${w}${k === 1 ? '' : 's'}`;
      process.stderr.write(`${file}: ${n(r.errors, 'error')}${r.warnings ? `, ${n(r.warnings, 'warning')}` : ''}\n`);
      return 1;
    }
    if (values.print) {
      const { stringify } = await import('yaml');
      process.stdout.write(`# ${file} as steerdns reads it, defaults filled in (steerdns check --print)\n${stringify(effectiveConfig(r.config), { lineWidth: 0 })}`);
      return 0;
    }
    process.stdout.write(`${file}: OK: ${summaryText(r.summary)}\n`);
    return 0;
  },
});
