#!/usr/bin/env node
// The steerdns command line: finds the command in the table (commands/index.ts), parses its arguments and runs it.
// A mistake on the command line is one line plus the command's synopsis on stderr and exit status 2.
import { helpText, parseInvocation, synopsis, topHelp } from './commands/args';
import { COMMANDS } from './commands';
import { UsageError, type Command } from './commands/spec';
import { versionLine } from './commands/version';
import { suggest } from './config/kit';

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    process.stderr.write(topHelp(COMMANDS));
    return 2;
  }
  if (first === '-h' || first === '--help' || first === 'help') {
    if (rest.length === 0) {
      process.stdout.write(topHelp(COMMANDS));
      return 0;
    }
    const { command, path } = find(rest);
    process.stdout.write(helpText(command, path));
    return 0;
  }
  if (first === '-V' || first === '--version') {
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
    process.stdout.write(versionLine());
    return 0;
  }
  const { command, path, args } = find(argv);
  if (!command.run) {
    // A group of commands (`import`): its own --help lists them.
    if (args[0] === '-h' || args[0] === '--help') {
      process.stdout.write(helpText(command, path));
      return 0;
    }
    const names = (command.subcommands ?? []).map((s) => s.name);
    throw new UsageError(args.length === 0 ? `${path} needs a command: ${names.join(', ')}` : `unknown command "${path} ${args[0]}"${suggest(args[0], names)}`, path);
  }
  const parsed = parseInvocation(command, path, args);
  if (parsed.help) {
    process.stdout.write(helpText(command, path));
    return 0;
  }
  return command.run(parsed.args);
}

/** The command named by the leading words of argv (descending into groups), and the arguments after them. */
function find(argv: string[]): { command: Command; path: string; args: string[] } {
  const [name, ...rest] = argv;
  if (name.startsWith('-')) throw new UsageError(`unknown option ${name}`);
  let command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command "${name}"${suggest(name, COMMANDS.map((c) => c.name))}`);
  let path = name;
  let args = rest;
  while (command.subcommands && args.length > 0 && !args[0].startsWith('-')) {
    const sub: Command | undefined = command.subcommands.find((s) => s.name === args[0]);
    if (!sub) break;
    command = sub;
    path = `${path} ${sub.name}`;
    args = args.slice(1);
  }
  return { command, path, args };
}

function commandAt(path: string): Command | null {
  let list: readonly Command[] = COMMANDS;
  let found: Command | null = null;
  for (const word of path.split(' ')) {
    found = list.find((c) => c.name === word) ?? null;
    if (!found) return null;
    list = found.subcommands ?? [];
  }
  return found;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== -1) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      const command = err.command === null ? null : commandAt(err.command);
      process.stderr.write(`steerdns${err.command ? ` ${err.command}` : ''}: ${err.message}\n`);
      process.stderr.write(command ? `${synopsis(command, err.command as string)}\n` : 'usage: steerdns <command> [options]  ("steerdns --help" lists the commands)\n');
      process.exitCode = 2;
      return;
    }
    // A bug: the message, and the stack only when asked for (STEERDNS_DEBUG=1).
    const e = err instanceof Error ? err : new Error(String(err));
    process.stderr.write(`steerdns: internal error: ${e.message}${process.env.STEERDNS_DEBUG ? `\n${e.stack ?? ''}` : ' (STEERDNS_DEBUG=1 shows where)'}\n`);
    process.exitCode = 1;
  },
);
