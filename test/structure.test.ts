// The code base's shape: no import cycles in src/ (type-only imports count too).
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

test('src/ has no import cycles', () => {
  const out = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'check-cycles.js'), 'src'], { cwd: ROOT, encoding: 'utf8' });
  expect(out.trim()).toBe('no import cycles');
});
