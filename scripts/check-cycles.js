// Lists import cycles among the TypeScript files under a directory (default src/), type-only imports included;
// exit code 1 when there is one. `node scripts/check-cycles.js [dir]`
const fs = require('fs'), path = require('path');
const root = process.argv[2] || 'src';
const files = [];
(function walk(d) { for (const f of fs.readdirSync(d)) { const p = path.join(d, f); if (fs.statSync(p).isDirectory()) walk(p); else if (p.endsWith('.ts')) files.push(p); } })(root);
const graph = new Map();
for (const f of files) {
  const src = fs.readFileSync(f, 'utf8');
  const deps = [];
  for (const m of src.matchAll(/(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(['"](\.[^'"]+)['"]\)/g)) {
    const spec = m[1] || m[2];
    let t = path.resolve(path.dirname(f), spec);
    if (fs.existsSync(t + '.ts')) t += '.ts'; else if (fs.existsSync(path.join(t, 'index.ts'))) t = path.join(t, 'index.ts'); else continue;
    deps.push(path.relative(process.cwd(), t));
  }
  graph.set(path.relative(process.cwd(), f), deps);
}
const color = new Map(); const stack = []; const cycles = [];
function dfs(n) { color.set(n, 1); stack.push(n); for (const d of graph.get(n) || []) { if (color.get(d) === 1) cycles.push(stack.slice(stack.indexOf(d)).concat(d).join(' -> ')); else if (!color.get(d)) dfs(d); } stack.pop(); color.set(n, 2); }
for (const n of graph.keys()) if (!color.get(n)) dfs(n);
console.log(cycles.length ? cycles.join('\n') : 'no import cycles'); process.exitCode = cycles.length ? 1 : 0;
