#!/usr/bin/env node
// Checks that imports between src/ modules follow the module table in docs/architecture.md, the
// single source of who may import whom: this script parses that table (and refuses a malformed
// one), then reads every non-test source file under src/ for relative value imports (`import
// type` is exempt). Rules are explained under the table.
// Usage: node scripts/check-layers.mjs [repo-root]   (exit 1 when a rule is broken or the table is malformed)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Where the table lives, relative to the repository root. */
export const TABLE_FILE = 'docs/architecture.md';

const HEADER = ['module', 'owns', 'may import'];
const MODULE_CELL = /^`([a-z][a-z0-9-]*)\/`$|^`([a-z][a-z0-9-]*\.ts)`$/;
const NAME_ITEM = /^`([a-z][a-z0-9-]*(?:\.ts)?)`$/;

/** A table that cannot be read: the message names the line and what is wrong with it. */
export class TableError extends Error {}

/**
 * Parses the module table (`| module | owns | may import |`) of `markdown` into
 * `{ [module]: string[] | null }`, where null means "anything". Throws TableError naming the file's
 * line when the table is missing, a row is malformed, a module is listed twice, a row names a
 * module the table lacks, or the allowed imports form a cycle.
 */
export function parseModuleTable(markdown, file = TABLE_FILE) {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => sameCells(cells(line), HEADER));
  if (start === -1)
    throw new TableError(`${file}: no module table (a "| ${HEADER.join(' | ')} |" header row)`);
  if (!/^\|(\s*:?-+:?\s*\|){3}$/.test(lines[start + 1]?.trim() ?? ''))
    throw new TableError(
      `${file}:${start + 2}: the module table's header needs a |---|---|---| line under it`,
    );
  const allowed = {};
  const lineOf = {};
  for (let i = start + 2; i < lines.length && lines[i].trim().startsWith('|'); i++) {
    const at = `${file}:${i + 1}`;
    const row = cells(lines[i]);
    if (row.length !== 3) throw new TableError(`${at}: a module row has 3 cells, this one has ${row.length}`);
    const [moduleCell, owns, mayImport] = row;
    const match = MODULE_CELL.exec(moduleCell);
    if (!match)
      throw new TableError(
        `${at}: module ${JSON.stringify(moduleCell)} is not \`name/\` (a directory) or \`name.ts\``,
      );
    const name = match[1] ?? match[2];
    if (name in allowed) throw new TableError(`${at}: ${name} has a row already (line ${lineOf[name]})`);
    if (!owns) throw new TableError(`${at}: ${name} says nothing in "owns"`);
    allowed[name] = parseMayImport(mayImport, `${at}: ${name}`);
    lineOf[name] = i + 1;
  }
  if (Object.keys(allowed).length === 0)
    throw new TableError(`${file}:${start + 1}: the module table has no rows`);
  for (const [name, targets] of Object.entries(allowed))
    for (const target of targets ?? [])
      if (!(target in allowed))
        throw new TableError(
          `${file}:${lineOf[name]}: ${name} may import ${target}, which has no row in the table`,
        );
  const cycle = findCycle(allowed);
  if (cycle) throw new TableError(`${file}: the allowed imports form a cycle: ${cycle.join(' → ')}`);
  return allowed;
}

function cells(line) {
  const trimmed = line.trim();
  if (!trimmed.startsWith('|') || !trimmed.endsWith('|')) return [];
  return trimmed
    .slice(1, -1)
    .split('|')
    .map((cell) => cell.trim());
}

function sameCells(a, b) {
  return a.length === b.length && a.every((cell, i) => cell.toLowerCase() === b[i]);
}

function parseMayImport(cell, at) {
  if (cell === 'anything') return null;
  if (cell === 'nothing') return [];
  const names = cell.split(',').map((item) => item.trim());
  return names.map((item) => {
    const match = NAME_ITEM.exec(item);
    if (!match)
      throw new TableError(
        `${at}: "may import" item ${JSON.stringify(item)} is not a module in backticks (the cell is \`nothing\`, \`anything\` or a list like \`util\`, \`oci\`)`,
      );
    return match[1];
  });
}

/** A cycle among the rows with lists (`anything` rows are outside the layering), or undefined. */
function findCycle(allowed) {
  const state = {};
  const path = [];
  const visit = (name) => {
    if (state[name] === 'done' || allowed[name] === null) return undefined;
    if (state[name] === 'open') return [...path.slice(path.indexOf(name)), name];
    state[name] = 'open';
    path.push(name);
    for (const target of allowed[name]) {
      if (target === name) continue;
      const cycle = visit(target);
      if (cycle) return cycle;
    }
    path.pop();
    state[name] = 'done';
    return undefined;
  };
  for (const name of Object.keys(allowed)) {
    const cycle = visit(name);
    if (cycle) return cycle;
  }
  return undefined;
}

/** Every broken rule in `root`'s src/, as lines of text (empty when the imports follow the table). */
export function checkLayers(root, allowed) {
  const src = join(root, 'src');
  const problems = [];
  const unknown = new Set();
  const moduleOf = (file) => relative(src, file).split(sep)[0];

  const check = (file) => {
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
  };
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|mts|js|mjs)$/.test(name) && !/\.test\./.test(name)) check(p);
    }
  };
  walk(src);
  for (const u of unknown) problems.push(`src/${u}/ has no row in the module table (${TABLE_FILE})`);
  return problems;
}

function main() {
  const root = resolve(process.argv[2] ?? resolve(import.meta.dirname, '..'));
  let allowed;
  try {
    allowed = parseModuleTable(readFileSync(join(root, TABLE_FILE), 'utf8'));
  } catch (error) {
    console.log(error instanceof TableError ? error.message : `reading ${TABLE_FILE}: ${error.message}`);
    process.exit(1);
  }
  const problems = checkLayers(root, allowed);
  if (problems.length) {
    console.log(problems.join('\n'));
    process.exit(1);
  }
  console.log(`module imports follow the table in ${TABLE_FILE}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
