// The README and the documents under docs/ link only to files that exist in the repository (and to anchors of
// the README's own headings): a reader following a link never lands on nothing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

function markdownFiles(): string[] {
  const out = [path.join(ROOT, 'README.md'), path.join(ROOT, 'bench', 'README.md')];
  for (const dir of ['docs', 'src', 'deploy', 'geoip']) {
    const walk = (d: string): void => {
      if (!existsSync(d)) return;
      for (const f of readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, f.name);
        if (f.isDirectory()) walk(p);
        else if (f.name.endsWith('.md')) out.push(p);
      }
    };
    walk(path.join(ROOT, dir));
  }
  return out;
}

/** GitHub's anchor for a heading. */
function anchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');
}

test('relative links in the README and docs resolve inside the repository', () => {
  const broken: string[] = [];
  for (const file of markdownFiles()) {
    const text = readFileSync(file, 'utf8');
    const anchors = new Set(text.split('\n').filter((l) => /^#{1,6} /.test(l)).map((l) => anchor(l.replace(/^#+ /, ''))));
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1];
      if (/^(https?:|mailto:)/.test(target)) continue;
      const [rel, hash] = target.split('#');
      if (rel === '') {
        if (hash && !anchors.has(hash)) broken.push(`${path.relative(ROOT, file)}: #${hash}`);
        continue;
      }
      const resolved = path.resolve(path.dirname(file), rel);
      if (!resolved.startsWith(ROOT) || !existsSync(resolved)) broken.push(`${path.relative(ROOT, file)}: ${target}`);
    }
  }
  expect(broken).toEqual([]);
});
