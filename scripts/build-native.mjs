#!/usr/bin/env node
// npm's install step for strata itself: compiles native/strata_native.c (binding.gyp) with the
// node-gyp that npm ships, into build/Release/strata_native.node. The addon only makes mounts
// cheaper (mount(2) instead of spawning mount(8)); without a compiler strata still works, so a
// failed compile is reported and the install goes on.
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

/** node-gyp: the one npm runs this script with, else the copy inside the npm on PATH. */
function nodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp))
    return process.env.npm_config_node_gyp;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir || !existsSync(join(dir, 'npm'))) continue;
    // bin/npm links to <npm package>/bin/npm-cli.js; node-gyp is among its dependencies.
    const gyp = join(
      dirname(realpathSync(join(dir, 'npm'))),
      '..',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    );
    if (existsSync(gyp)) return gyp;
  }
  return undefined;
}

const gyp = nodeGyp();
// Node's own headers when this Node was installed with them (Debian's nodejs, the official
// tarballs): node-gyp would otherwise download them, and only the npm registry may be reachable.
const prefix = resolve(dirname(process.execPath), '..');
const nodedir =
  !process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))
    ? [`--nodedir=${prefix}`]
    : [];
const result = gyp
  ? spawnSync(process.execPath, [gyp, 'rebuild', ...nodedir], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    })
  : undefined;
if (result?.status === 0) {
  console.log('strata: built the native addon (build/Release/strata_native.node)');
} else {
  const why = gyp ? (result?.stderr ?? '').trim().split('\n').slice(-8).join('\n') : 'node-gyp not found';
  console.warn(`strata: the native addon was not built; mounts will spawn mount(8) instead.\n${why}`);
}
