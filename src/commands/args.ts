// Command-line parsing on top of node:util parseArgs, with our own messages: every mistake (an unknown option, a
// missing value, a value not among the choices, a stray argument) is a UsageError — one line and the synopsis,
// exit status 2 — never a stack trace. Help texts are made from the same table.
import { parseArgs } from 'node:util';
import { suggest } from '../config/kit';
import { UsageError, type Command, type Invocation, type OptionSpec, type OptionsSpec } from './spec';

const HELP: OptionSpec = { type: 'boolean', short: 'h', help: 'show this help' };

/** "-c, --config FILE" */
function optionLabel(name: string, o: OptionSpec): string {
  const value = o.type === 'string' ? ` ${o.choices ? o.choices.join('|') : o.value ?? 'VALUE'}` : '';
  return `${o.short ? `-${o.short}, ` : ''}--${name}${value}`;
}

/** "--config/-c" for messages. */
function optionName(name: string, o: OptionSpec | undefined): string {
  return o?.short ? `-${o.short}/--${name}` : `--${name}`;
}

export function synopsis(c: Command, path: string): string {
  return `usage: steerdns ${path}${c.synopsis ? ` ${c.synopsis}` : ''}`;
}

export function helpText(c: Command, path: string): string {
  const out = [synopsis(c, path), ''];
  if (c.description) out.push(c.description.trim(), '');
  if (c.subcommands?.length) {
    out.push('commands:');
    const w = Math.max(...c.subcommands.map((s) => s.name.length));
    for (const s of c.subcommands) out.push(`  ${s.name.padEnd(w)}  ${s.summary}`);
    out.push('', 'options:', `  ${optionLabel('help', HELP)}  ${HELP.help}`);
    out.push('', `"steerdns ${path} <command> --help" describes a command.`);
    return `${out.join('\n')}\n`;
  }
  const options: [string, OptionSpec][] = [...Object.entries(c.options), ['help', HELP]];
  const labels = options.map(([n, o]) => optionLabel(n, o));
  const w = Math.min(28, Math.max(...labels.map((l) => l.length)));
  out.push('options:');
  options.forEach(([, o], i) => {
    const label = labels[i];
    out.push(label.length > w ? `  ${label}\n  ${' '.repeat(w)}  ${o.help}` : `  ${label.padEnd(w)}  ${o.help}`);
  });
  return `${out.join('\n')}\n`;
}

export function topHelp(commands: readonly Command[]): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: steerdns <command> [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'options: -V, --version  print the version; -h, --help  show this help',
    '"steerdns <command> --help" describes a command.',
    '',
  ].join('\n');
}

export type Parsed = { help: true } | { help: false; args: Invocation<OptionsSpec> };

/** Parses the arguments after the command's name; throws UsageError for anything the command does not take. */
export function parseInvocation(c: Command, path: string, argv: string[]): Parsed {
  const options: OptionsSpec = { ...c.options, help: HELP };
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, o] of Object.entries(options)) config[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  let tokens;
  try {
    ({ tokens } = parseArgs({ args: argv, options: config, strict: false, allowPositionals: true, tokens: true }));
  } catch (e) {
    // Not expected in non-strict mode; whatever it is, it is the command line's fault.
    throw new UsageError((e as Error).message.split('\n')[0], path);
  }
  const values: Record<string, string | boolean | string[]> = {};
  const positionals: string[] = [];
  const shorts = new Map(Object.entries(options).filter(([, o]) => o.short).map(([n, o]) => [`-${o.short}`, n]));
  let help = false;
  for (const t of tokens) {
    if (t.kind === 'option-terminator') continue;
    if (t.kind === 'positional') {
      positionals.push(t.value);
      continue;
    }
    const o = options[t.name];
    if (o === undefined) {
      const all = [...Object.keys(options).map((n) => `--${n}`), ...shorts.keys()];
      throw new UsageError(`unknown option ${t.rawName}${suggest(t.rawName, all)}`, path);
    }
    if (t.name === 'help') {
      help = true;
      continue;
    }
    if (o.type === 'boolean') {
      if (t.value !== undefined) throw new UsageError(`option ${optionName(t.name, o)} takes no value`, path);
      values[t.name] = true;
      continue;
    }
    // parseArgs (non-strict) takes the next argument as the value even when it is another option: "-c --watch".
    if (t.value === undefined || (!t.inlineValue && t.value.startsWith('-') && t.value.length > 1)) {
      throw new UsageError(`option ${optionName(t.name, o)} needs a value${o.value ? ` (${o.value})` : ''}`, path);
    }
    if (o.choices && !o.choices.includes(t.value)) {
      throw new UsageError(`${optionName(t.name, o)} must be ${o.choices.join(' or ')}, got "${t.value}"`, path);
    }
    if (o.multiple) values[t.name] = [...((values[t.name] as string[] | undefined) ?? []), t.value];
    else values[t.name] = t.value;
  }
  if (help) return { help: true };
  const p = c.positionals ?? { min: 0, max: 0, name: '' };
  if (positionals.length > p.max) {
    const extra = positionals[p.max];
    throw new UsageError(extra.startsWith('-') ? `unexpected argument "${extra}"` : `unexpected argument "${extra}"${p.max === 0 ? ` (${path} takes no arguments)` : ''}`, path);
  }
  if (positionals.length < p.min) throw new UsageError(`missing ${p.name}`, path);
  return { help: false, args: { values: values as unknown as Invocation<OptionsSpec>['values'], positionals } };
}

/** The value of a required option, or a UsageError naming it. */
export function required(value: string | undefined, what: string, path: string): string {
  if (value === undefined) throw new UsageError(`missing ${what}`, path);
  return value;
}
