#!/usr/bin/env node
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
// Bundles the CLI into one ESM file (dist/strata.js): one file to load keeps start-up short,
// which the no-op rebuild target depends on. Type checking is `npm run typecheck`.
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
// Stale chunks from earlier builds would only waste space; start clean.
rmSync(resolve(root, 'dist'), { recursive: true, force: true });
await build({
  entryPoints: { strata: resolve(root, 'src/cli/main.ts') },
  outdir: resolve(root, 'dist'),
  // Each command is its own chunk, loaded when that command runs (src/cli/commands.ts).
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  // Native addons stay outside the bundle; everything else is inlined.
  external: ['zstd-napi', '@napi-rs/xattr'],
  banner: {
    js: "import { createRequire as __strataCreateRequire } from 'node:module'; const require = __strataCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
