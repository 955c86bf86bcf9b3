#!/usr/bin/env node
// steerdns serve | check | explain
import { parseArgs } from 'node:util';
import { formatProblem, hasErrors, loadConfigFile } from './config/load';
import { checkRuntime } from './runtime';

const USAGE = `usage:
  steerdns serve -c FILE            run the server
  steerdns check -c FILE            validate a config; prints file:line:col: message per problem, exit 1 on errors
  steerdns explain -c FILE --name N --type T --resolver IP [--ecs CIDR] [--health live|assume-up]
                                    print the steering decision for one query
  steerdns dnssec keygen|ds|status|rollover|settime --zone Z -c FILE …
                                    DNSSEC keys: make them, the DS for the parent, their states, rollovers
                                    (steerdns dnssec help for the options)
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' } }, strict: true });
      if (!values.config) return usage('serve needs -c FILE');
      const { serve } = await import('./server/serve');
      return serve(values.config);
    }
    case 'check': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' } }, strict: true });
      if (!values.config) return usage('check needs -c FILE');
      return check(values.config);
    }
    case 'explain': {
      const { values } = parseArgs({
        args: rest,
        options: {
          config: { type: 'string', short: 'c' },
          name: { type: 'string' },
          type: { type: 'string', default: 'A' },
          resolver: { type: 'string', default: '127.0.0.1' },
          ecs: { type: 'string' },
          health: { type: 'string', default: 'assume-up' },
          'state-file': { type: 'string' },
        },
        strict: true,
      });
      if (!values.config || !values.name) return usage('explain needs -c FILE and --name NAME');
      const { explainCommand } = await import('./explain');
      return explainCommand({
        config: values.config,
        name: values.name,
        type: values.type ?? 'A',
        resolver: values.resolver ?? '127.0.0.1',
        ecs: values.ecs ?? null,
        health: values.health === 'live' ? 'live' : 'assume-up',
      });
    }
    case 'dnssec': {
      const { dnssecCommand } = await import('./dnssec/commands');
      return dnssecCommand(rest);
    }
    default:
      return usage(`unknown command "${command}"`);
  }
}

function usage(message: string): number {
  process.stderr.write(`steerdns: ${message}\n${USAGE}`);
  return 2;
}

async function check(file: string): Promise<number> {
  const { config, problems } = loadConfigFile(file);
  const all = [...problems];
  if (config) all.push(...(await checkRuntime(config)));
  for (const p of all) process.stderr.write(`${formatProblem(p)}\n`);
  if (hasErrors(all)) {
    const n = all.filter((p) => p.severity === 'error').length;
    process.stderr.write(`${file}: ${n} error${n === 1 ? '' : 's'}\n`);
    return 1;
  }
  process.stdout.write(`${file}: OK${all.length ? ` (${all.length} warning${all.length === 1 ? '' : 's'})` : ''}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== -1) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`steerdns: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
