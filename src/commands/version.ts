// `steerdns version` (also `--version`, `-V`).
import { VERSION } from '../version';
import { defineCommand } from './spec';

export function versionLine(): string {
  return `steerdns ${VERSION}\n`;
}

export const versionCommand = defineCommand({
  name: 'version',
  summary: 'print the version (also --version, -V)',
  synopsis: '',
  options: {},
  run() {
    process.stdout.write(versionLine());
    return Promise.resolve(0);
  },
});
