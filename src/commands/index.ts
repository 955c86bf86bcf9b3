// The command table: every command of the CLI, in the order `steerdns --help` lists them. A new command is a file
// in this folder exporting a `defineCommand(...)` row, added here.
import { checkCommand } from './check';
import { dnssecCommand } from './dnssec';
import { explainCommand } from './explain';
import { importCommand } from './import';
import { reloadCommand } from './reload';
import { serveCommand } from './serve';
import type { Command } from './spec';
import { statusCommand } from './status';
import { versionCommand } from './version';

export const COMMANDS: readonly Command[] = [
  serveCommand,
  checkCommand,
  explainCommand,
  reloadCommand,
  statusCommand,
  importCommand,
  dnssecCommand,
  versionCommand,
];
