#!/usr/bin/env node
// Bundles the CLI (type checking is `npm run typecheck`):
//   dist/strata-bundle.cjs  every command in one CommonJS file; commands still load lazily (esbuild
//                           initializes a lazily imported module on first use).
//   dist/strata.cjs         the launcher: runs the bundle through V8's code cache
//                           (src/cli/launcher.ts), which the no-op rebuild target depends on.
// One CommonJS file because Node 20 caches compiled code only for scripts, not ES modules, and
// loads one file faster than ~20 ES module chunks (bench/RESULTS.md, start-up).
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const dist = resolve(root, 'dist');
// Stale outputs (and their code caches) from earlier builds would only waste space; start clean.
rmSync(dist, { recursive: true, force: true });

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  logLevel: 'warning',
};
/** Replaced by the bundle's content hash: the launcher names code-cache files by it. */
const ID_PLACEHOLDER = '0'.repeat(32);
const bundleFile = resolve(dist, 'strata-bundle.cjs');
await build({
  ...common,
  entryPoints: [resolve(root, 'src/cli/main.ts')],
  outfile: bundleFile,
  sourcemap: 'linked',
  // Native addons stay outside the bundle; everything else is inlined.
  external: ['zstd-napi', '@napi-rs/xattr'],
  // The one `import.meta.url` (createRequire for zstd-napi) in CommonJS terms.
  define: { 'import.meta.url': '__strataImportMetaUrl' },
  banner: {
    // The directive first: esbuild's own "use strict" would come after this banner's statement.
    js: `// strata-bundle ${ID_PLACEHOLDER}\n'use strict';\nvar __strataImportMetaUrl = require('node:url').pathToFileURL(__filename).href;`,
  },
});
await build({
  ...common,
  entryPoints: [resolve(root, 'src/cli/launch-main.ts')],
  outfile: resolve(dist, 'strata.cjs'),
  banner: { js: '#!/usr/bin/env node' },
});

// The launcher reads the bundle as latin1, the cheapest exact decoding of ASCII. esbuild escapes
// every non-ASCII character in code (its default `charset: 'ascii'`), so what remains is in
// comments: replace each UTF-16 unit with '?', which keeps lines and columns for the source map.
let code = readFileSync(bundleFile, 'utf8').replace(/[^\x00-\x7f]/g, '?');
const id = createHash('sha256').update(code).digest('hex').slice(0, ID_PLACEHOLDER.length);
code = code.replace(`// strata-bundle ${ID_PLACEHOLDER}\n`, `// strata-bundle ${id}\n`);
if (/\bimport\(/.test(code.replace(/\/\/.*|\/\*[\s\S]*?\*\//g, ''))) {
  // vm.Script has no loader for import(): every dynamic import must be bundled.
  throw new Error('dist/strata-bundle.cjs contains a dynamic import() that esbuild did not bundle');
}
writeFileSync(bundleFile, code);
