import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseModuleTable, TABLE_FILE } from '../../scripts/check-layers.mjs';
import { REPO } from '../support/cli.ts';

const checkLayers = (root: string) =>
  spawnSync(process.execPath, [join(REPO, 'scripts/check-layers.mjs'), root], { encoding: 'utf8' });

describe('module boundaries', () => {
  it('every import between src/ modules follows the table in docs/architecture.md', () => {
    const result = checkLayers(REPO);
    assert.equal(result.status, 0, result.stdout + result.stderr);
  });

  it('reads the table from docs/architecture.md: a row per src/ module, one-way', () => {
    const table = parseModuleTable(readFileSync(join(REPO, TABLE_FILE), 'utf8'));
    assert.deepEqual(table.util, []);
    assert.deepEqual(table.registry, ['util', 'oci', 'reference', 'transport']);
    assert.equal(table.cli, null, '`anything`');
    assert.equal(table['strata.ts'], null);
  });
});

describe('module boundaries: a broken rule in a copy of the repository', () => {
  let root: string;
  const original = readFileSync(join(REPO, TABLE_FILE), 'utf8');

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'strata-layers-'));
    cpSync(join(REPO, 'src'), join(root, 'src'), { recursive: true });
    mkdirSync(join(root, 'docs'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  /** Runs the check on the copy with `table` and one extra source file; removes the file after. */
  const run = (table: string, extra?: { path: string; text: string }) => {
    writeFileSync(join(root, TABLE_FILE), table);
    if (extra) {
      mkdirSync(join(root, extra.path, '..'), { recursive: true });
      writeFileSync(join(root, extra.path), extra.text);
    }
    try {
      return checkLayers(root);
    } finally {
      if (extra) rmSync(join(root, extra.path));
    }
  };

  it('passes as the repository does', () => {
    const result = run(original);
    assert.equal(result.status, 0, result.stdout);
  });

  it('reports an import the table does not allow, naming the file and what its module may import', () => {
    const result = run(original, {
      path: 'src/oci/uses-store.ts',
      text: "import { Store } from '../store/index.ts';\nexport const s = Store;\n",
    });
    assert.equal(result.status, 1);
    assert.equal(result.stdout.trim(), 'src/oci/uses-store.ts imports store/ — oci/ may import: util');
  });

  it('lets type-only imports through, and reports a deep import into an allowed module', () => {
    assert.equal(
      run(original, {
        path: 'src/oci/types-only.ts',
        text: "import type { Store } from '../store/index.ts';\n",
      }).status,
      0,
    );
    const deep = run(original, {
      path: 'src/registry/deep.ts',
      text: "import { parseReference } from '../reference/parse-reference.ts';\nexport const p = parseReference;\n",
    });
    assert.equal(deep.status, 1);
    assert.match(deep.stdout, /src\/registry\/deep\.ts imports \.\.\/reference\/parse-reference\.ts — enter/);
  });

  it('follows the table when a row changes: a rule removed from the table is enforced', () => {
    const stricter = original.replace(
      /^\| `store\/` \|(.*)\| `util`, `oci` \|$/m,
      '| `store/` |$1| `util` |',
    );
    assert.notEqual(stricter, original, 'the store row was found');
    const result = run(stricter);
    assert.equal(result.status, 1);
    assert.match(result.stdout, /^src\/store\/\S+ imports oci\/ — store\/ may import: util$/m);
  });

  it('reports a src/ directory the table has no row for', () => {
    const result = run(original, { path: 'src/newmodule/index.ts', text: 'export const x = 1;\n' });
    assert.equal(result.status, 1);
    assert.match(result.stdout, /src\/newmodule\/ has no row in the module table \(docs\/architecture\.md\)/);
  });

  it('fails clearly when the table is missing or malformed', () => {
    const noTable = run('# architecture\n\nNo table here.\n');
    assert.equal(noTable.status, 1);
    assert.match(noTable.stdout, /docs\/architecture\.md: no module table/);
    const badItem = run(original.replace('| `oci/` |', '| oci |'));
    assert.equal(badItem.status, 1);
    assert.match(badItem.stdout, /docs\/architecture\.md:\d+: module "oci" is not `name\/`/);
  });
});

describe('module boundaries: parsing the table', () => {
  const table = (...rows: string[]) =>
    ['# map', '', '| module | owns | may import |', '|---|---|---|', ...rows, '', 'after'].join('\n');

  it('reads `nothing`, `anything` and lists, and stops at the end of the table', () => {
    assert.deepEqual(
      parseModuleTable(
        table(
          '| `util/` | errors | nothing |',
          '| `oci/` | digests | `util` |',
          '| `cli/` | argv | anything |',
        ),
      ),
      { util: [], oci: ['util'], cli: null },
    );
  });

  const malformed: Array<[string, string[], RegExp]> = [
    ['a row with two cells', ['| `util/` | nothing |'], /:5: a module row has 3 cells, this one has 2/],
    [
      'a bare module name',
      ['| `util/` | e | nothing |', '| `oci/` | d | util |'],
      /:6: oci: "may import" item "util" is not a module in backticks/,
    ],
    [
      'a duplicate row',
      ['| `util/` | e | nothing |', '| `util/` | e | nothing |'],
      /:6: util has a row already \(line 5\)/,
    ],
    [
      'an unknown module',
      ['| `oci/` | d | `utill` |'],
      /:5: oci may import utill, which has no row in the table/,
    ],
    ['an empty owns cell', ['| `util/` |  | nothing |'], /:5: util says nothing in "owns"/],
    ['a cycle', ['| `a/` | x | `b` |', '| `b/` | y | `a` |'], /the allowed imports form a cycle: a → b → a/],
    ['no rows', [], /:3: the module table has no rows/],
  ];
  for (const [name, rows, message] of malformed) {
    it(`refuses ${name}, naming the line`, () =>
      assert.throws(() => parseModuleTable(table(...rows)), { name: 'Error', message }));
  }
});
