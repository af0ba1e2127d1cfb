import { posix } from 'node:path';
import type { AddStep, BuildGraph, CopyStep, FileSource, RunStep, Stage, Step } from '../../plan/index.ts';
import { expandRunWord, type Report, runCommands } from './lint-context.ts';
import { argumentsOf, programOf, type SimpleCommand } from './shell-commands.ts';

/** Rules about what COPY and ADD put in a stage's layers. */

type FileStep = CopyStep | AddStep;

/**
 * Where one source of a COPY lands: the source path `src` (absolute in its namespace) is written
 * at `dest`. `kind` says what `src` must be for that: `dir` (its contents go to dest), `file` (it
 * goes into the dest directory under its own name), or `any` (dest names it exactly).
 */
interface Placement {
  readonly src: string;
  readonly dest: string;
  readonly kind: 'dir' | 'file' | 'any';
}

function isRemote(source: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(source) || /^git@/.test(source);
}

const ARCHIVE = /\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst|tzst|tar\.lz|tlz|zip|gz|bz2|xz)$/i;

/** A namespace key: copies from the same one read the same files. */
function namespaceOf(step: FileStep): string {
  const from: FileSource = step.kind === 'copy' ? step.from : { kind: 'context' };
  if (from.kind === 'stage') return `stage:${from.stage}`;
  if (from.kind === 'image') return `image:${from.ref.toString()}`;
  return from.kind;
}

/** A destination that is a directory whatever exists there (`./`, `/app/`, `.`). */
function isDirectoryDest(dest: string): boolean {
  return dest.endsWith('/') || dest === '.' || dest.endsWith('/.');
}

function placements(step: FileStep, workdir: string): Placement[] {
  const dest = posix.resolve(workdir, step.dest);
  const intoDir = isDirectoryDest(step.dest) || step.sources.length > 1;
  const out: Placement[] = [];
  for (const source of step.sources) {
    // Wildcards, URLs and archives ADD unpacks do not map one path onto one path.
    if (/[*?[]/.test(source) || isRemote(source)) continue;
    if (step.kind === 'add' && ARCHIVE.test(source)) continue;
    const src = posix.resolve('/', source);
    if (!intoDir) out.push({ src, dest, kind: 'any' });
    else {
      out.push({ src, dest, kind: 'dir' });
      if (src !== '/') out.push({ src, dest: posix.join(dest, posix.basename(src)), kind: 'file' });
    }
  }
  return out;
}

function under(path: string, root: string): string | undefined {
  if (path === root) return '';
  const prefix = root === '/' ? '/' : `${root}/`;
  return path.startsWith(prefix) ? path.slice(prefix.length) : undefined;
}

/**
 * The path both placements write the same source file to, if any: one source lies under (or is)
 * the other, and both put it at the same destination.
 */
function overlap(earlier: Placement, later: Placement): string | undefined {
  const inLater = under(earlier.src, later.src);
  if (inLater !== undefined) {
    // The earlier source is inside the later one, so the later one's source is a directory.
    if (inLater !== '' && later.kind === 'file') return undefined;
    if (inLater === '' && !compatible(earlier.kind, later.kind)) return undefined;
    const at = inLater === '' ? later.dest : posix.join(later.dest, inLater);
    return at === earlier.dest ? at : undefined;
  }
  const inEarlier = under(later.src, earlier.src);
  if (inEarlier === undefined || earlier.kind === 'file') return undefined;
  return posix.join(earlier.dest, inEarlier) === later.dest ? later.dest : undefined;
}

function listOf(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

function compatible(a: Placement['kind'], b: Placement['kind']): boolean {
  return a === 'any' || b === 'any' || a === b;
}

function copyText(step: FileStep): string {
  const from =
    step.instruction.kind === 'copy' && step.instruction.from ? ` --from=${step.instruction.from}` : '';
  return `${step.kind.toUpperCase()}${from} ${[...step.sources, step.dest].join(' ')}`;
}

/**
 * copy-overwrites-copy: a later COPY/ADD of the stage writes again, from the same stage, image or
 * context, files an earlier one already copied. The earlier layer keeps its copy, hidden: the image
 * carries those bytes twice. From the context this is also how a cache split looks (`COPY
 * package.json ./`, `RUN npm ci`, `COPY . .`), so context copies count only with no RUN between.
 */
export function checkCopyOverwrites(stage: Stage, report: Report): void {
  let workdir = '/';
  const earlier: { step: FileStep; namespace: string; placements: Placement[]; runsAfter: boolean }[] = [];
  for (const step of stage.steps) {
    if (step.kind === 'workdir') workdir = posix.resolve(workdir, step.path);
    if (step.kind === 'run') for (const e of earlier) e.runsAfter = true;
    if (step.kind !== 'copy' && step.kind !== 'add') continue;
    const namespace = namespaceOf(step);
    const mine = placements(step, workdir);
    const hits: { line: number; text: string; path: string }[] = [];
    for (const e of earlier) {
      if (e.namespace !== namespace || (namespace === 'context' && e.runsAfter)) continue;
      const path = e.placements.flatMap((a) => mine.map((b) => overlap(a, b))).find((p) => p !== undefined);
      if (path !== undefined) hits.push({ line: e.step.location.line, text: copyText(e.step), path });
    }
    if (hits.length > 0) {
      const lines = hits.map((h) => h.line);
      const which = `line${lines.length > 1 ? 's' : ''} ${listOf(lines.map(String))}`;
      report(
        'copy-overwrites-copy',
        step.location,
        `${copyText(step)} copies ${listOf(hits.map((h) => h.path))} again, which ${which} (${hits.map((h) => h.text).join('; ')}) already copied: the image carries those files twice, once in each layer`,
        `copy each path once: drop ${which}, or narrow this ${step.kind.toUpperCase()} to what ${which} did not copy`,
        stage,
      );
    }
    earlier.push({ step, namespace, placements: mine, runsAfter: false });
  }
}

/** hadolint DL3067: `COPY --from=<stage> / /` copies that stage's whole filesystem, base image included. */
export function checkCopyEntireStage(graph: BuildGraph, stage: Stage, report: Report): void {
  for (const step of stage.steps) {
    if (step.kind !== 'copy' || step.from.kind === 'context' || step.from.kind === 'scratch') continue;
    if (!step.sources.some((s) => posix.resolve('/', s) === '/')) continue;
    if (posix.resolve('/', step.dest) !== '/') continue;
    const from =
      step.from.kind === 'stage' ? graph.stages[step.from.stage]!.displayName : step.from.ref.toString();
    report(
      'copy-entire-filesystem',
      step.location,
      `COPY --from=${from} / / copies the whole filesystem of ${from}, its base image included, into this layer`,
      `copy only the files you need (COPY --from=${from} /usr/local/bin/tool /usr/local/bin/), or build FROM ${from}`,
      stage,
    );
  }
}

/** Whether the command extracts an archive named `name` (tar -x…, unzip, gunzip, …). */
function extracts(step: RunStep, c: SimpleCommand, name: string): boolean {
  const program = programOf(c);
  const extracting =
    (program === 'tar' &&
      c.slice(1).some((w) => w === '--extract' || w === '--get' || /^-?[A-Za-z]*x[A-Za-z]*$/.test(w))) ||
    ['unzip', 'gunzip', 'bunzip2', 'unlzma', 'unxz', 'uncompress', 'zcat', 'gzcat', '7z', 'xz'].includes(
      program,
    );
  return extracting && argumentsOf(c).some((a) => posix.basename(expandRunWord(step, a)) === name);
}

/**
 * hadolint DL3010: a COPY of a local archive that a later RUN extracts. The archive stays in the
 * COPY's layer beside what was extracted from it.
 */
export function checkArchiveExtracted(stage: Stage, report: Report): void {
  const archives: { name: string; step: Step }[] = [];
  for (const step of stage.steps) {
    if (step.kind === 'copy' && step.from.kind === 'context') {
      const dest = posix.basename(step.dest);
      if (ARCHIVE.test(dest) && !isDirectoryDest(step.dest)) archives.push({ name: dest, step });
      else
        for (const s of step.sources) if (ARCHIVE.test(s)) archives.push({ name: posix.basename(s), step });
    }
    if (step.kind !== 'run') continue;
    const commands = runCommands(step);
    for (const a of archives.splice(0)) {
      if (!commands.some((c) => extracts(step, c, a.name))) {
        archives.push(a);
        continue;
      }
      report(
        'copied-archive-extracted',
        a.step.location,
        `${a.name} is copied into a layer and extracted by line ${step.location.line}: the archive's bytes stay in the image beside what it holds`,
        `ADD ${a.name} <dir> extracts it without keeping it; or extract from a bind mount: RUN --mount=type=bind,source=${a.name},target=/tmp/${a.name} tar -xf /tmp/${a.name} -C <dir>`,
        stage,
      );
    }
  }
}

/**
 * hadolint DL3025 (BuildKit's JSONArgsRecommended): CMD or ENTRYPOINT in shell form runs under
 * `/bin/sh -c`, so the program is not PID 1 and does not get SIGTERM on `docker stop`.
 */
export function checkShellFormCommand(stage: Stage, report: Report): void {
  for (const step of stage.steps) {
    if ((step.kind !== 'cmd' && step.kind !== 'entrypoint') || step.command.form !== 'shell') continue;
    const keyword = step.kind.toUpperCase();
    const words = step.command.text.trim().split(/\s+/);
    report(
      'shell-form-command',
      step.location,
      `${keyword} ${step.command.text.trim()} is in shell form: it runs under /bin/sh -c, which does not pass SIGTERM on, so docker stop waits and kills it`,
      `${keyword} ${JSON.stringify(words)} (exec form; exec in a script if it needs a shell)`,
      stage,
    );
  }
}
