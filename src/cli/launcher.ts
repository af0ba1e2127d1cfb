/**
 * The `strata` launcher (bundled alone into dist/strata.cjs): picks the CLI bundle for the command
 * argv names (dist/bundles/<module>.cjs, or front.cjs when it names none; scripts/build.mjs) and
 * loads it through V8's code cache, so a command's start-up pays neither for parsing and compiling
 * its JavaScript on every run nor for the code of other commands.
 *
 * Node 20 has no compile cache for modules (`module.enableCompileCache` is Node 22), so this does
 * what it would: the bundle runs as a `vm.Script` with `cachedData`; after the first successful
 * run of a command the code V8 compiled (including functions compiled lazily while the command
 * ran) is serialized to a cache file, one per command, bundle and Node version.
 *
 * Cache files: `<dir>/<build id>-<bundle>-<command>-<node version>-<arch>.v8cache`, where the build
 * id is the content hash `scripts/build.mjs` writes into every bundle's first line. `<dir>` is
 * `$STRATA_COMPILE_CACHE`, else `dist/.v8cache` beside the launcher, else (when that is not
 * writable) `$XDG_CACHE_HOME/strata/v8` or `~/.cache/strata/v8` — never a shared directory such as
 * /tmp, since the cache is code this process runs. `STRATA_COMPILE_CACHE=0` turns it off.
 * A file is magic + CRC-32 + V8's data, written atomically; a file that fails the check, or that
 * V8 rejects (another V8 version or flags), is ignored and rewritten. Any error of the cache itself
 * is ignored: the bundle then compiles as usual.
 *
 * `STRATA_TRACE_LOAD=1` prints to stderr which bundle runs and every module it requires from
 * outside itself (`strata-trace: …` lines), so a test can check what a command loads.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { crc32 } from 'node:zlib';

const MAGIC = Buffer.from('STRATAV8');
const HEADER = MAGIC.length + 4;
/** The first line of the bundle: `// strata-bundle <id>` (scripts/build.mjs). */
const ID_LINE = /^\/\/ strata-bundle ([0-9a-f]{16,64})\n/;
/** When a run still going writes its cache (see launch). */
const EARLY_WRITE_MS = 1000;
/** Global options that take a value, so their value is not taken for the command (commands.ts). */
const OPTIONS_WITH_VALUE = new Set(['--root']);

/** The arguments of `argv` that are not global options nor their values (commands.ts's rule). */
function operands(argv: readonly string[]): string[] {
  const found: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (OPTIONS_WITH_VALUE.has(arg)) i++;
    else if (arg === '--') {
      found.push(...argv.slice(i + 1));
      break;
    } else if (!arg.startsWith('-')) found.push(arg);
  }
  return found;
}

/**
 * The bundle that runs `argv`: the one holding the module of the command it names (`strata help
 * NAME` names NAME), per `bundles` (command → module, from scripts/build.mjs), or `front` — the CLI
 * without any command's module — when it names none or one the table does not know.
 */
export function bundleFor(argv: readonly string[], bundles: Readonly<Record<string, string>>): string {
  const [first, second] = operands(argv);
  const name = first === 'help' ? second : first;
  return name !== undefined && Object.hasOwn(bundles, name) ? bundles[name]! : 'front';
}

/** The command `argv` runs, as it names the cache file: `build`, `images`, … or `none`. */
export function cacheCommandName(argv: readonly string[]): string {
  const arg = operands(argv)[0];
  if (arg === undefined) return 'none';
  return /^[a-z][a-z-]{0,31}$/.test(arg) ? arg : 'other';
}

/** The cache directories to try, in order (none when the cache is turned off). */
export function cacheDirectories(bundleDir: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const configured = env.STRATA_COMPILE_CACHE;
  if (configured === '0' || configured === 'off') return [];
  if (configured) return [configured];
  const dirs = [join(bundleDir, '.v8cache')];
  const xdg = env.XDG_CACHE_HOME;
  let home: string | undefined;
  try {
    home = homedir();
  } catch {
    home = undefined;
  }
  if (xdg) dirs.push(join(xdg, 'strata', 'v8'));
  else if (home) dirs.push(join(home, '.cache', 'strata', 'v8'));
  return dirs;
}

/** Reads a cache file's V8 data, or undefined when it is missing or fails its check. */
export function readCacheFile(file: string): Buffer | undefined {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return undefined;
  }
  if (data.length <= HEADER || !data.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const payload = data.subarray(HEADER);
  return crc32(payload) === data.readUInt32BE(MAGIC.length) ? payload : undefined;
}

/**
 * Writes a cache file atomically (a temporary sibling, then rename) and removes the files of
 * other builds (another build id) from the directory, which no run of this build can use.
 */
export function writeCacheFile(dir: string, name: string, payload: Buffer, buildId: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const header = Buffer.alloc(HEADER);
  MAGIC.copy(header);
  header.writeUInt32BE(crc32(payload), MAGIC.length);
  const temp = join(dir, `.${name}.${process.pid}.tmp`);
  try {
    writeFileSync(temp, Buffer.concat([header, payload]), { mode: 0o600 });
    renameSync(temp, join(dir, name));
  } catch (error) {
    rmSync(temp, { force: true }); // a full disk leaves no partial file behind
    throw error;
  }
  for (const entry of readdirSync(dir)) {
    if (entry.endsWith('.v8cache') && !entry.startsWith(`${buildId}-`)) {
      try {
        unlinkSync(join(dir, entry));
      } catch {
        // another process removed it first
      }
    }
  }
}

/** Runs the CLI bundle at `bundlePath` with the code cache; the bundle sets the exit code. */
export function launch(bundlePath: string, argv: readonly string[]): void {
  runBundle(bundlePath, cacheCommandName(argv), new Map());
}

/** What a bundle requires as `strata-lib:<name>`: dist/bundles/lib-<name>.cjs (scripts/build.mjs). */
const LIBRARY_PREFIX = 'strata-lib:';

/**
 * Runs one bundle through the code cache (its cache file named after `command` too) and returns
 * its `module.exports`. The bundle's `require('strata-lib:<name>')` runs the library bundle
 * `lib-<name>.cjs` beside it the same way, once per process (`loaded`).
 */
function runBundle(bundlePath: string, command: string, loaded: Map<string, unknown>): unknown {
  const trace = process.env.STRATA_TRACE_LOAD === '1';
  if (trace) process.stderr.write(`strata-trace: bundle ${basename(bundlePath, '.cjs')}\n`);
  // The bundle is ASCII (scripts/build.mjs checks): latin1 is the cheapest exact decoding.
  const source = readFileSync(bundlePath, 'latin1');
  const bundleId = ID_LINE.exec(source)?.[1];
  const debug = process.env.STRATA_DEBUG_COMPILE_CACHE === '1';
  // dist/.v8cache: beside the launcher, one directory up from dist/bundles/.
  const dirs = bundleId ? cacheDirectories(dirname(dirname(bundlePath))) : [];
  const name = `${bundleId}-${basename(bundlePath, '.cjs')}-${command}-${process.version}-${process.arch}.v8cache`;
  let cachedData: Buffer | undefined;
  for (const dir of dirs) {
    cachedData = readCacheFile(join(dir, name));
    if (cachedData) break;
  }
  // Module.wrap's wrapper, on the first line so the bundle's line numbers stay as they are.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) { ${source}\n});`, {
    filename: bundlePath,
    cachedData,
  });
  const accepted = cachedData !== undefined && !script.cachedDataRejected;
  if (debug) {
    process.stderr.write(
      `compile cache: ${accepted ? 'hit' : cachedData ? 'rejected' : dirs.length > 0 ? 'miss' : 'off'} ${name}\n`,
    );
  }
  if (!accepted && bundleId && dirs.length > 0) {
    let written = false;
    const write = () => {
      if (written) return;
      written = true;
      let payload: Buffer;
      try {
        payload = script.createCachedData();
      } catch {
        return;
      }
      for (const dir of dirs) {
        try {
          writeCacheFile(dir, name, payload, bundleId);
          if (debug) process.stderr.write(`compile cache: wrote ${join(dir, name)}\n`);
          return;
        } catch {
          // not writable (a read-only install): try the next directory
        }
      }
    };
    // A long run is cached early: V8 drops the bytecode of functions idle for a while, so a cache
    // taken at the end of a 28 s build lacked the start-up path, and later no-op rebuilds then
    // took 30 ms longer (measured) compiling it again.
    const early = setTimeout(write, EARLY_WRITE_MS);
    early.unref();
    process.once('exit', (code) => {
      clearTimeout(early);
      // A run that failed quickly may have stopped early and compiled little: wait for a good one.
      if (code === 0) write();
    });
  }
  const wrapper = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: { exports: unknown },
    filename: string,
    dirname: string,
  ) => void;
  const module = { exports: {} };
  const nodeRequire = createRequire(bundlePath);
  const moduleRequire = trace ? tracedRequire(nodeRequire) : nodeRequire;
  const require = ((id: string) => {
    if (!id.startsWith(LIBRARY_PREFIX)) return moduleRequire(id);
    const library = join(dirname(bundlePath), `lib-${id.slice(LIBRARY_PREFIX.length)}.cjs`);
    if (!loaded.has(library)) loaded.set(library, runBundle(library, command, loaded));
    return loaded.get(library);
  }) as NodeJS.Require;
  Object.assign(require, nodeRequire);
  wrapper.call(module.exports, module.exports, require, module, bundlePath, dirname(bundlePath));
  return module.exports;
}

/** Whether the exit report of {@link tracedRequire} is set up (once per process). */
let tracingExit = false;

/**
 * `require` that reports each module it loads from outside the bundle (STRATA_TRACE_LOAD=1), and at
 * exit whether Node loaded its own undici (what `fetch` and its globals bring in).
 */
function tracedRequire(require: NodeJS.Require): NodeJS.Require {
  const seen = new Set<string>();
  const traced = ((id: string) => {
    if (!seen.has(id)) {
      seen.add(id);
      process.stderr.write(`strata-trace: require ${id}\n`);
    }
    return require(id);
  }) as NodeJS.Require;
  Object.assign(traced, require);
  if (tracingExit) return traced;
  tracingExit = true;
  process.once('exit', () => {
    const internals = (process as unknown as { moduleLoadList: string[] }).moduleLoadList;
    if (internals.includes('NativeModule internal/deps/undici/undici'))
      process.stderr.write('strata-trace: node-internal undici\n');
  });
  return traced;
}
