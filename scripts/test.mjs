#!/usr/bin/env node
// Runs every test in one Node process (node:test + tsx): one process start instead of one per file,
// measured ~10x faster than per-file isolation on 2 cores (../shared/research/libraries.md §8).
// Usage: npm test [-- <path-substring>...]   e.g. `npm test -- dockerfile store`
//
// First it makes the machine ready (scripts/test-setup.mjs): as root it installs the Debian
// packages the tests need and starts dockerd; otherwise it says what is missing. A ready machine
// costs a few file checks. STRATA_TEST_SETUP=0 skips it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SetupError, setUp } from './test-setup.mjs';

const root = resolve(import.meta.dirname, '..');
const filters = process.argv.slice(2);

if (process.env.STRATA_TEST_SETUP !== '0') {
  try {
    await setUp({ purpose: 'test' });
  } catch (error) {
    if (!(error instanceof SetupError)) throw error;
    console.error(`npm test: the machine is not ready: ${error.message}`);
    process.exit(1);
  }
}

// The CLI is exercised as a real subprocess by some tests: build the bundle first.
const build = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
// And the native addon, which `npm ci` builds: a checkout installed before it existed lacks it.
if (!existsSync(join(root, 'build', 'Release', 'strata_native.node')))
  spawnSync(process.execPath, [join(root, 'scripts/build-native.mjs')], { stdio: 'inherit' });

const files = readdirSync(join(root, 'test'), { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => join(root, 'test', f))
  .filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
mkdirSync(join(root, '.tmp'), { recursive: true });
const entry = join(root, '.tmp', 'all.test.mjs');
writeFileSync(
  entry,
  files.map((f) => `await import(${JSON.stringify(pathToFileURL(f).href)});`).join('\n') + '\n',
);
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', entry], {
  stdio: 'inherit',
  cwd: root,
  // Oracles such as GNU tar print non-ASCII names as octal escapes without a UTF-8 locale.
  env: {
    ...process.env,
    ...(process.env.LANG || process.env.LC_ALL ? {} : { LC_ALL: 'C.UTF-8' }),
    STRATA_REPO: root,
  },
});
process.exit(result.status ?? 1);
