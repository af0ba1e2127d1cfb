#!/usr/bin/env node
// Bundles the CLI (type checking is `npm run typecheck`):
//   dist/strata.cjs             the launcher (src/cli/launcher.ts): picks the bundle for the command
//                               argv names and runs it through V8's code cache.
//   dist/bundles/front.cjs      the CLI without any command's module: `--version`, `--help`, no or
//                               an unknown command. commander and the command table only.
//   dist/bundles/<module>.cjs   the CLI with one command module of src/cli/commands.ts (build.cjs,
//                               images.cjs for images/tag/rmi, …) and what it imports.
// Each bundle is one CommonJS file: Node 20 caches compiled code only for scripts, not ES modules,
// and one file loads faster than ~20 ES module chunks (bench/RESULTS.md, start-up). One bundle per
// command rather than one for all because V8's code cache holds every function of a script: for the
// 2 MB all-in-one bundle, `--version` deserialized 300 kB of it (bench/RESULTS.md, "Start-up per
// command"). A process loads exactly one bundle, so no class or module exists twice in it.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, resolve } from 'node:path';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const dist = resolve(root, 'dist');
const bundles = resolve(dist, 'bundles');
const commandsFile = resolve(root, 'src/cli/commands.ts');
// Stale outputs (and their code caches) from earlier builds would only waste space; start clean.
rmSync(dist, { recursive: true, force: true });
mkdirSync(bundles, { recursive: true });

/**
 * Which module of src/cli/ each command of the table in commands.ts loads: `name → module`. Read
 * from the table's `load: async () => (await import('./<module>.ts'))…` lines; a table entry
 * without one fails the build.
 */
function commandModules(source) {
  const table = source.slice(
    source.indexOf('const COMMANDS'),
    source.indexOf('\n};', source.indexOf('const COMMANDS')),
  );
  const map = {};
  const entry = /^ {2}(?:'([a-z][a-z0-9-]*)'|([a-z][a-z0-9-]*)): \{([\s\S]*?)^ {2}\},?$/gm;
  for (const m of table.matchAll(entry)) {
    const module = /import\('\.\/([a-z0-9-]+)\.ts'\)/.exec(m[3]);
    if (!module)
      throw new Error(`src/cli/commands.ts: the entry ${m[1] ?? m[2]} has no import('./<module>.ts')`);
    map[m[1] ?? m[2]] = module[1];
  }
  const names = [...table.matchAll(/^ {2}'?([a-z][a-z0-9-]*)'?: \{/gm)].map((m) => m[1]);
  const missed = names.filter((n) => !(n in map));
  if (names.length === 0 || missed.length > 0)
    throw new Error(
      `src/cli/commands.ts: cannot read the command table (${missed.join(', ') || 'no entries'})`,
    );
  return map;
}

const commands = commandModules(readFileSync(commandsFile, 'utf8'));
const modules = [...new Set(Object.values(commands))];

/** The CLI's entry and the modules between it and the command table, one copy per bundle. */
const mainFile = resolve(root, 'src/cli/main.ts');
const PER_BUNDLE = new Set([mainFile, resolve(root, 'src/cli/run-cli.ts'), commandsFile]);

/**
 * An esbuild plugin that makes every bundle from one build (so each source file is parsed once):
 * the entry `strata-bundle:<name>` is src/cli/main.ts, and main.ts, run-cli.ts and commands.ts get
 * one copy per bundle (an esbuild path suffix `?bundle=<name>`). In a bundle's copy of commands.ts
 * only the command module `<name>` is imported; every other one resolves to an empty module, so its
 * code is not in the bundle (`front` has none). All other modules are shared and parsed once. The
 * launcher never hands a bundle a command whose module it lacks.
 */
function perBundle() {
  return {
    name: 'strata-per-bundle',
    setup(b) {
      const bundleOf = (suffix) => /^\?bundle=([a-z0-9-]+)$/.exec(suffix ?? '')?.[1];
      b.onResolve({ filter: /^strata-bundle:/ }, (args) => ({
        path: mainFile,
        suffix: `?bundle=${args.path.slice('strata-bundle:'.length)}`,
      }));
      b.onLoad({ filter: /\.ts$/ }, (args) => {
        const bundle = bundleOf(args.suffix);
        if (!bundle || !PER_BUNDLE.has(args.path)) return undefined;
        return { contents: readFileSync(args.path, 'utf8'), loader: 'ts', pluginData: { bundle } };
      });
      b.onResolve({ filter: /^\.\/[a-z0-9-]+\.ts$/ }, (args) => {
        const bundle = args.pluginData?.bundle;
        if (!bundle) return undefined;
        const path = resolve(dirname(args.importer), args.path);
        if (PER_BUNDLE.has(path)) return { path, suffix: `?bundle=${bundle}` };
        if (
          args.importer === commandsFile &&
          args.kind === 'dynamic-import' &&
          basename(path, '.ts') !== bundle
        )
          return { path: args.path, namespace: 'strata-absent-command' };
        return undefined;
      });
      b.onLoad({ filter: /.*/, namespace: 'strata-absent-command' }, () => ({
        contents: 'export {};',
        loader: 'js',
      }));
    },
  };
}

/**
 * STRATA_TRACE_LOAD=1 prints each bundled module as it is initialized (`strata-trace: module
 * src/cli/build.ts`), hooked into esbuild's two lazy-module helpers below (see traceModules).
 */
const TRACE = `var __strataTrace = process.env.STRATA_TRACE_LOAD === '1' ? (m) => process.stderr.write('strata-trace: module ' + m + '\\n') : undefined;`;

/**
 * Hooks the trace into esbuild's runtime helpers `__esm` (an ES module's lazy initializer) and
 * `__commonJS` (a CommonJS module's). Fails the build if esbuild's helpers no longer look as
 * expected, rather than losing the trace the start-up tests rely on.
 */
function traceModules(code, file, { library = false } = {}) {
  const hooks = [
    [
      /var __esm ?= ?\(fn, ?res, ?err\) ?=> ?function(?: __init)?\(\) ?\{/,
      'if (fn && __strataTrace) __strataTrace(__getOwnPropNames(fn)[0]);',
    ],
    [
      /var __commonJS ?= ?\(cb, ?mod\) ?=> ?function(?: __require)?\(\) ?\{/,
      'if (!mod && __strataTrace) __strataTrace(__getOwnPropNames(cb)[0]);',
    ],
  ];
  for (const [helper, hook] of hooks) {
    const m = helper.exec(code);
    // Every CLI bundle has both helpers (it imports commands lazily and requires commander); a
    // library bundle (CommonJS only) has no __esm.
    if (!m && library && hook.includes('(fn)')) continue;
    if (!m) throw new Error(`${file}: esbuild's helper ${helper} not found: update traceModules`);
    const at = m.index + m[0].length;
    code = code.slice(0, at) + hook + code.slice(at);
  }
  return code;
}

/**
 * Packages bound lazily: an import (or require) of one resolves to a stand-in with the same export
 * names whose getters load the real package on first use. esbuild's CommonJS output reads an
 * imported name at each use (`import_undici.Agent`), so the real package loads only when a name
 * of it is first used, not when a module importing it is initialized:
 *   undici              12+ ms to initialize, and brings node:http2, node:dns and node:tls with
 *                       it; only commands that reach a registry use it, and a no-op build (whose
 *                       bases are in the store) never does.
 *   node:tls            TLS trust for registries (registry/tls-trust.ts), not needed before a
 *                       connection.
 *   node:child_process  commander requires it at start for external subcommands, which strata
 *                       has none of; `--version` and `--help` never start a process.
 */
const LAZY_PACKAGES = ['undici', 'node:tls', 'node:child_process'];

/**
 * Lazily bound packages that get a bundle of their own, `dist/bundles/lib-<name>.cjs`, which the
 * launcher runs through the code cache when a command first uses the package (a bundle requires it
 * as `strata-lib:<name>`). undici is 1 MB of the 1.8 MB a build bundle would otherwise read on
 * every no-op rebuild, and the same 1 MB in each of eight command bundles.
 */
const LIBRARY_BUNDLES = ['undici'];

function lazyPackages(names) {
  const require = createRequire(import.meta.url);
  return {
    name: 'strata-lazy-packages',
    setup(b) {
      const filter = new RegExp(
        `^(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`,
      );
      b.onResolve({ filter }, (args) => {
        if (args.namespace === 'strata-lazy') return undefined; // the stand-in's own require: the package
        return { path: args.path, namespace: 'strata-lazy' };
      });
      b.onLoad({ filter: /.*/, namespace: 'strata-lazy' }, (args) => {
        const keys = Object.keys(require(args.path)).filter((k) => k !== '__esModule');
        // A package of node_modules comes from its own bundle (LIBRARY_BUNDLES), a builtin from Node.
        const real = LIBRARY_BUNDLES.includes(args.path) ? `strata-lib:${args.path}` : args.path;
        return {
          loader: 'js',
          resolveDir: root,
          contents: [
            `let real;`,
            `const load = () => (real ??= require(${JSON.stringify(real)}));`,
            `for (const key of ${JSON.stringify(keys)})`,
            `  Object.defineProperty(exports, key, { enumerable: true, get: () => load()[key] });`,
          ].join('\n'),
        };
      });
    },
  };
}

/** Replaced by the build's content hash: the launcher names code-cache files by it. */
const ID_PLACEHOLDER = '0'.repeat(32);
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  logLevel: 'warning',
};
const targets = [{ name: 'front' }, ...modules.map((m) => ({ name: m }))];
const outputs = [...targets.map((t) => t.name), ...LIBRARY_BUNDLES.map((name) => `lib-${name}`)];
await Promise.all([
  build({
    ...common,
    entryPoints: targets.map(({ name }) => ({ in: `strata-bundle:${name}`, out: name })),
    outdir: bundles,
    outExtension: { '.js': '.cjs' },
    // The sources themselves are in the repository: maps without them are a tenth of the size.
    sourcemap: 'linked',
    sourcesContent: false,
    minifyWhitespace: true,
    minifySyntax: true,
    plugins: [perBundle(), lazyPackages(LAZY_PACKAGES)],
    // Native addons stay outside the bundle, and the library bundles; everything else is inlined.
    external: ['zstd-napi', '@napi-rs/xattr', 'strata-lib:*'],
    // The one `import.meta.url` (createRequire for zstd-napi) in CommonJS terms.
    define: { 'import.meta.url': '__strataImportMetaUrl' },
    banner: {
      // The directive first: esbuild's own "use strict" would come after this banner's statement.
      js: `// strata-bundle ${ID_PLACEHOLDER}\n'use strict';\nvar __strataImportMetaUrl = require('node:url').pathToFileURL(__filename).href;\n${TRACE}`,
    },
  }),
  ...LIBRARY_BUNDLES.map((name) =>
    build({
      ...common,
      stdin: {
        contents: `module.exports = require(${JSON.stringify(name)});`,
        resolveDir: root,
        loader: 'js',
      },
      outfile: resolve(bundles, `lib-${name}.cjs`),
      sourcemap: 'linked',
      sourcesContent: false,
      minifyWhitespace: true,
      minifySyntax: true,
      banner: { js: `// strata-bundle ${ID_PLACEHOLDER}\n'use strict';\n${TRACE}` },
    }),
  ),
  build({
    ...common,
    entryPoints: [resolve(root, 'src/cli/launch-main.ts')],
    outfile: resolve(dist, 'strata.cjs'),
    banner: { js: '#!/usr/bin/env node' },
    // Which bundle runs which command (the launcher's routing table).
    define: { __STRATA_COMMAND_BUNDLES__: JSON.stringify(commands) },
  }),
]);

// The launcher reads a bundle as latin1, the cheapest exact decoding of ASCII. esbuild escapes
// every non-ASCII character in code (its default `charset: 'ascii'`), so what remains is in
// comments: replace each UTF-16 unit with '?', which keeps lines and columns for the source map.
const codes = outputs.map((name) => {
  const file = resolve(bundles, `${name}.cjs`);
  const code = traceModules(readFileSync(file, 'utf8').replace(/[^\x00-\x7f]/g, '?'), file, {
    library: name.startsWith('lib-'),
  });
  if (/\bimport\(/.test(code.replace(/\/\/.*|\/\*[\s\S]*?\*\//g, ''))) {
    // vm.Script has no loader for import(): every dynamic import must be bundled.
    throw new Error(`${file} contains a dynamic import() that esbuild did not bundle`);
  }
  return { file, code };
});
// One id for the whole build: a code-cache file of any other build is stale.
const hash = createHash('sha256');
for (const { code } of codes) hash.update(code);
const id = hash.digest('hex').slice(0, ID_PLACEHOLDER.length);
for (const { file, code } of codes)
  writeFileSync(file, code.replace(`// strata-bundle ${ID_PLACEHOLDER}\n`, `// strata-bundle ${id}\n`));
