#!/usr/bin/env node
// Checks that imports between src/ modules follow the one-way map in docs/design.md (the project's
// copy of ../shared/DESIGN.md's table). `src/api/` holds the composition root's implementation
// files (what `src/strata.ts` re-exports), so it may import anything, like strata.ts.
// Usage: node scripts/check-layers.mjs   (exit 1 when a rule is broken)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

export const allowed = {
  util: [],
  oci: ['util'],
  reference: ['util'],
  dockerfile: ['util'],
  progress: ['util', 'oci'],
  archive: ['util', 'oci'],
  store: ['util', 'oci'],
  registry: ['util', 'oci', 'reference'],
  context: ['util', 'oci', 'archive', 'dockerfile'],
  plan: ['util', 'oci', 'reference', 'dockerfile'],
  snapshot: ['util', 'oci', 'archive', 'store'],
  runtime: ['util', 'oci'],
  cache: ['util', 'oci', 'store', 'registry'],
  solver: [
    'util',
    'oci',
    'reference',
    'dockerfile',
    'progress',
    'archive',
    'store',
    'registry',
    'context',
    'plan',
    'snapshot',
    'runtime',
    'cache',
  ],
  export: ['util', 'oci', 'progress', 'archive', 'store', 'registry'],
  analyze: ['util', 'oci', 'archive', 'store', 'registry', 'reference', 'dockerfile', 'plan', 'context'],
  'strata.ts': null,
  api: null,
  cli: null,
};

const root = resolve(process.argv[2] ?? resolve(import.meta.dirname, '..'));
const src = join(root, 'src');
const problems = [];
const unknown = new Set();
const moduleOf = (file) => relative(src, file).split(sep)[0];

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (/\.(ts|mts|js|mjs)$/.test(name) && !/\.test\./.test(name)) check(p);
  }
}

function check(file) {
  const from = moduleOf(file);
  if (!(from in allowed)) {
    if (!from.includes('.')) unknown.add(from);
    return;
  }
  if (allowed[from] === null) return;
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(
    /^(?!\s*import\s+type\b)[^\n]*?(?:from\s+|import\s*\(\s*)['"](\.[^'"]+)['"]/gm,
  )) {
    const target = resolve(dirname(file), m[1]);
    if (!target.startsWith(src + sep)) continue;
    const to = moduleOf(target);
    if (to === from) continue;
    if (!allowed[from].includes(to)) {
      problems.push(
        `${relative(root, file)} imports ${to}/ — ${from}/ may import: ${allowed[from].join(', ') || 'nothing'}`,
      );
    } else if (!/\/index\.ts$/.test(m[1])) {
      problems.push(`${relative(root, file)} imports ${m[1]} — enter another module through its index.ts`);
    }
  }
}

walk(src);
for (const u of unknown)
  problems.push(`src/${u}/ is not in the module table (scripts/check-layers.mjs, docs/design.md)`);
if (problems.length) {
  console.log(problems.join('\n'));
  process.exit(1);
}
console.log('module imports follow the design');
