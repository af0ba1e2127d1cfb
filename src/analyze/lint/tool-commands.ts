import { hasFlag, operandsOf, programOf, type SimpleCommand, subcommandOf } from './shell-commands.ts';

/**
 * Recognisers for the package managers and compilers the lint rules talk about. Each takes one
 * simple command (see shell-commands.ts).
 */

/** `python3 -m pip install x` read as `pip install x`. */
export function normalizeCommand(command: SimpleCommand): SimpleCommand {
  if (/^python[0-9.]*$/.test(programOf(command)) && command[1] === '-m' && command[2])
    return [command[2], ...command.slice(3)];
  return command;
}

/** `apt-get install`, `apt install`, `aptitude install`. */
export function isAptInstall(c: SimpleCommand): boolean {
  return ['apt-get', 'apt', 'aptitude'].includes(programOf(c)) && subcommandOf(c) === 'install';
}

/** `apt-get update`, `apt update`. */
export function isAptUpdate(c: SimpleCommand): boolean {
  return ['apt-get', 'apt', 'aptitude'].includes(programOf(c)) && subcommandOf(c) === 'update';
}

/** `pip install`, `pip3 install`, `python -m pip install`. */
export function isPipInstall(c: SimpleCommand): boolean {
  const n = normalizeCommand(c);
  return /^pip[0-9.]*$/.test(programOf(n)) && subcommandOf(n) === 'install';
}

/** `npm install`, `npm i`, `npm ci`, `npm add`. */
export function isNpmInstall(c: SimpleCommand): boolean {
  return programOf(c) === 'npm' && ['install', 'i', 'ci', 'add', 'isntall'].includes(subcommandOf(c) ?? '');
}

/** `yarn`, `yarn install`, `yarn add`. */
export function isYarnInstall(c: SimpleCommand): boolean {
  if (programOf(c) !== 'yarn') return false;
  const sub = subcommandOf(c);
  return sub === undefined || sub === 'install' || sub === 'add';
}

/** `pnpm install`, `pnpm i`, `pnpm add`. */
export function isPnpmInstall(c: SimpleCommand): boolean {
  return programOf(c) === 'pnpm' && ['install', 'i', 'add'].includes(subcommandOf(c) ?? '');
}

/** A command that installs a project's dependencies from its manifest (for copy-all-before-install). */
export function installsDependencies(c: SimpleCommand): string | undefined {
  const n = normalizeCommand(c);
  const program = programOf(n);
  const sub = subcommandOf(n);
  if (isNpmInstall(n) && operandsOf(n).length === 0) return 'package.json package-lock.json';
  if (isYarnInstall(n) && sub !== 'add') return 'package.json yarn.lock';
  if (isPnpmInstall(n) && sub !== 'add') return 'package.json pnpm-lock.yaml';
  if (
    isPipInstall(n) &&
    (hasFlag(n, '-r', '--requirement') || operandsOf(n).some((o) => o === '.' || o.startsWith('./')))
  )
    return 'requirements.txt (or pyproject.toml)';
  if (program === 'poetry' && sub === 'install') return 'pyproject.toml poetry.lock';
  if (program === 'go' && sub === 'mod' && operandsOf(n)[0] === 'download') return 'go.mod go.sum';
  if (program === 'bundle' && (sub === 'install' || sub === undefined)) return 'Gemfile Gemfile.lock';
  if (program === 'composer' && sub === 'install') return 'composer.json composer.lock';
  if (program === 'cargo' && sub === 'fetch') return 'Cargo.toml Cargo.lock';
  if ((program === 'mvn' || program === 'mvnw') && (sub ?? '').startsWith('dependency:')) return 'pom.xml';
  return undefined;
}

/** Package names a package manager installs (`apt-get install -y gcc make` → gcc, make), with the manager. */
export function installedPackages(c: SimpleCommand): { manager: string; packages: string[] } | undefined {
  const program = programOf(c);
  const sub = subcommandOf(c);
  if (isAptInstall(c)) return { manager: 'apt', packages: operandsOf(c) };
  if (program === 'apk' && sub === 'add') {
    // `--virtual .name` takes a value: skip it.
    const words = c.slice(c.indexOf('add') + 1);
    const packages: string[] = [];
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      if (w === '--virtual' || w === '-t' || w === '--repository' || w === '-X') i++;
      else if (!w.startsWith('-')) packages.push(w);
    }
    return { manager: 'apk', packages };
  }
  if (['yum', 'dnf', 'microdnf', 'zypper'].includes(program) && sub === 'install')
    return { manager: program, packages: operandsOf(c) };
  return undefined;
}

/** The `--virtual NAME` of an `apk add`, when given. */
export function apkVirtualName(c: SimpleCommand): string | undefined {
  if (programOf(c) !== 'apk') return undefined;
  const i = c.findIndex((w) => w === '--virtual' || w === '-t');
  return i >= 0 ? c[i + 1] : undefined;
}

/** Packages a command removes again (`apt-get purge gcc`, `apk del .build-deps`). */
export function removedPackages(c: SimpleCommand): string[] {
  const program = programOf(c);
  const sub = subcommandOf(c);
  if (['apt-get', 'apt'].includes(program) && ['purge', 'remove', 'autoremove'].includes(sub ?? ''))
    return operandsOf(c);
  if (program === 'apk' && sub === 'del') return operandsOf(c);
  if (['yum', 'dnf'].includes(program) && ['remove', 'erase', 'autoremove'].includes(sub ?? ''))
    return operandsOf(c);
  return [];
}

const COMPILER_PACKAGES = new Set([
  'gcc',
  'g++',
  'clang',
  'make',
  'cmake',
  'build-essential',
  'build-base',
  'autoconf',
  'automake',
  'libtool',
  'golang',
  'golang-go',
  'go',
  'rustc',
  'cargo',
  'default-jdk',
  'maven',
  'gradle',
  'gcc-c++',
  'musl-dev',
  'linux-headers',
]);

/** A compiler, build tool or development-headers package (`gcc`, `build-essential`, `libssl-dev`). */
export function isCompilerPackage(name: string): boolean {
  const bare = name.replace(/[=<>].*$/, '');
  if (COMPILER_PACKAGES.has(bare)) return true;
  if (/^gcc-\d+$|^g\+\+-\d+$|^clang-\d+$/.test(bare)) return true;
  if (/^openjdk-\d+-jdk(-headless)?$|^openjdk\d*(-devel)?$/.test(bare)) return true;
  return /-dev$|-devel$/.test(bare);
}

/** What a build tool caches and where its cache mount goes. */
export interface CachedTool {
  readonly tool: string;
  /** The mount(s) to add: `--mount=type=cache,target=…`. */
  readonly mounts: readonly string[];
}

/** A compiler or package manager whose cache a `--mount=type=cache` keeps between builds. */
export function cachedTool(c: SimpleCommand): CachedTool | undefined {
  const n = normalizeCommand(c);
  const program = programOf(n);
  const sub = subcommandOf(n);
  if (program === 'go' && ['build', 'install', 'test', 'generate', 'run'].includes(sub ?? ''))
    return { tool: `go ${sub}`, mounts: ['/root/.cache/go-build', '/go/pkg/mod'] };
  if (program === 'go' && sub === 'mod' && operandsOf(n)[0] === 'download')
    return { tool: 'go mod download', mounts: ['/go/pkg/mod'] };
  if (isNpmInstall(n)) return { tool: `npm ${sub}`, mounts: ['/root/.npm'] };
  if (isYarnInstall(n)) return { tool: 'yarn install', mounts: ['/usr/local/share/.cache/yarn'] };
  if (isPnpmInstall(n)) return { tool: 'pnpm install', mounts: ['/root/.local/share/pnpm/store'] };
  if (isPipInstall(n)) return { tool: 'pip install', mounts: ['/root/.cache/pip'] };
  if (isAptInstall(n)) return { tool: `${program} install`, mounts: ['/var/cache/apt', '/var/lib/apt'] };
  if (program === 'cargo' && ['build', 'install', 'fetch', 'test'].includes(sub ?? ''))
    return { tool: `cargo ${sub}`, mounts: ['/usr/local/cargo/registry', '/app/target'] };
  if (program === 'mvn' || program === 'mvnw') return { tool: 'mvn', mounts: ['/root/.m2'] };
  if (program === 'gradle' || program === 'gradlew') return { tool: 'gradle', mounts: ['/root/.gradle'] };
  return undefined;
}
