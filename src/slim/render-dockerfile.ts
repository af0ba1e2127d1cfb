import type { Dockerfile, Instruction } from '../dockerfile/index.ts';
import { cacheMountFlag, type SlimPlan } from './plan-slim.ts';
import { parameterizedName } from './slim-base.ts';
import type { SlimFacts } from './slim-facts.ts';

/** Options of {@link renderSlimDockerfile}. */
export interface RenderOptions {
  /** The original Dockerfile's name, for the header. */
  readonly source: string;
  /** `--force` with missing facts: the result is marked unverified. */
  readonly unverified: boolean;
}

/** Lines of a comment block, each prefixed with `# `, wrapped at ~98 columns. */
function comment(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    let rest = line;
    let first = true;
    while (rest.length > 0) {
      const width = first ? 96 : 94;
      let cut = rest.length <= width ? rest.length : rest.lastIndexOf(' ', width);
      if (cut <= 0) cut = rest.length;
      out.push(`# ${first ? '' : '  '}${rest.slice(0, cut).trimEnd()}`);
      rest = rest.slice(cut).trimStart();
      first = false;
    }
  }
  return out;
}

function sourceLines(text: string): string[] {
  return text.replace(/\r\n/g, '\n').split('\n');
}

/** The instruction exactly as written (its physical lines). */
function written(lines: readonly string[], instruction: Instruction): string {
  return lines.slice(instruction.range.line - 1, instruction.range.endLine).join('\n');
}

/** Variables an instruction's text references (`$X`, `${X}`, `${X:-…}`). */
function referencedVariables(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(m[1]!);
  return names;
}

function jsonArgs(args: readonly string[]): string {
  return `[${args.map((a) => JSON.stringify(a)).join(', ')}]`;
}

/**
 * Writes the multi-stage Dockerfile: the original text (directives, global ARGs, comments) with
 * its stage named as the builder, cache mounts added where planned, the plan's extra builder
 * steps, then the commented final stage.
 */
export function renderSlimDockerfile(facts: SlimFacts, plan: SlimPlan, options: RenderOptions): string {
  const dockerfile: Dockerfile = facts.dockerfile;
  const lines = sourceLines(facts.text);
  const stage = dockerfile.stages[0]!;
  const from = stage.from;
  const out: string[] = [];

  // Directives and global ARGs stay on top, as written.
  const preamble = lines.slice(0, from.range.line - 1 - from.comments.length);
  const directiveEnd = preamble.findIndex((l) => !/^#\s*[a-z]+\s*=/.test(l));
  const directives = directiveEnd < 0 ? preamble : preamble.slice(0, directiveEnd);
  out.push(...directives);
  out.push(
    ...comment([
      `Made by \`strata slim\` from ${options.source}.${options.unverified ? ' UNVERIFIED: written with --force although strata could not prove the final stage has everything the program needs (see "missing facts" below).' : ''}`,
      `Stage "${plan.builderName}" is the original Dockerfile's stage, its steps unchanged${plan.cacheMounts.size > 0 ? ' (cache mounts added)' : ''}; the final stage starts FROM ${plan.finalBase} and takes only what the program needs.`,
    ]),
  );
  if (options.unverified) {
    out.push('#', ...comment(['Missing facts:', ...plan.missing.map((m) => `- ${m}`)]));
  }
  out.push(...(directiveEnd < 0 ? [] : preamble.slice(directiveEnd)));

  // The builder: the original stage, line by line.
  const stageLines = lines.slice(from.range.line - 1 - from.comments.length);
  while (stageLines.length > 0 && stageLines[stageLines.length - 1]!.trim() === '') stageLines.pop();
  const offset = from.range.line - 1 - from.comments.length; // index in `lines` of stageLines[0]
  for (const instruction of stage.instructions) {
    const targets = plan.cacheMounts.get(instruction.range.line);
    if (!targets || instruction.kind !== 'run') continue;
    const i = instruction.range.line - 1 - offset;
    const line = stageLines[i]!;
    const at = instruction.range.column - 1 + instruction.keyword.length;
    stageLines[i] = `${line.slice(0, at)} ${targets.map(cacheMountFlag).join(' ')}${line.slice(at)}`;
  }
  for (const [line, step] of [...plan.builderInserts].sort((a, b) => b[0] - a[0])) {
    const instruction = stage.instructions.find((i) => i.range.line === line);
    const at = line - 1 - offset - (instruction?.comments.length ?? 0);
    stageLines.splice(at, 0, ...comment(step.comment), step.text);
  }
  {
    const i = from.range.endLine - 1 - offset;
    if (!from.name) stageLines[i] = `${stageLines[i]!.replace(/\s+$/, '')} AS ${plan.builderName}`;
  }
  out.push(...stageLines);
  // The steps added below change files the build made as root (strip, prune, cp -a): after the
  // stage's own USER they would run as that user and fail. USER here changes only the builder.
  const builderUser = [...stage.instructions].reverse().find((i) => i.kind === 'user');
  if (
    builderUser?.kind === 'user' &&
    !/^(root|0)(:.*)?$/.test(builderUser.user) &&
    (plan.builderSteps.length > 0 || plan.collect)
  ) {
    out.push(
      '',
      ...comment([
        `The steps below change what the build made (as root): they run as root, not as ${builderUser.user} (line ${builderUser.range.line}). The final stage keeps USER ${builderUser.user}.`,
      ]),
      'USER root',
    );
  }
  for (const step of plan.builderSteps) {
    out.push('', ...comment(step.comment), step.text);
  }

  // The collect step: many paths, or symlinks that must stay links, go through one directory.
  // `cd /` first: Debian bookworm's cp (coreutils 9.1) fails `--parents` with absolute sources
  // unless the working directory is / ("cp: 'usr/src': No such file or directory").
  const collect = plan.collect ? '/slim-root' : undefined;
  if (collect) {
    out.push(
      '',
      ...comment([
        `Everything the final stage needs, gathered under ${collect} with the paths it has here (cp -a keeps owners, modes and symlinks), so one COPY takes it:`,
        ...plan.copies.map((c) => `  ${c.path}: ${c.why}`),
      ]),
      `RUN mkdir -p ${collect} && cd / && cp -a --parents \\\n${plan.copies.map((c) => `      ${shellQuote(c.path)}`).join(' \\\n')} \\\n      ${collect}/`,
    );
  }

  // The final stage.
  out.push('', ...comment(plan.decisions.filter((d) => !d.startsWith('warning:'))));
  out.push(`FROM ${parameterizedName(from.image, plan.finalBase, facts.graph.globalArgs)}`);
  const kept = plan.kept;
  const keptText = kept.map((i) => written(lines, i)).join('\n');
  const used = referencedVariables(keptText);
  const declared: string[] = [];
  for (const instruction of stage.instructions) {
    if (instruction.kind !== 'arg') continue;
    if (instruction.args.some((a) => used.has(a.key))) declared.push(written(lines, instruction));
  }
  for (const arg of dockerfile.globalArgs) {
    for (const a of arg.args) {
      if (used.has(a.key) && !declared.some((d) => d.includes(a.key))) declared.push(`ARG ${a.key}`);
    }
  }
  if (declared.length > 0) out.push(...declared);
  const early = kept.filter((i) => i.kind === 'env' || i.kind === 'label');
  for (const i of early) out.push(written(lines, i));
  if (plan.addedPath) out.push(...comment([`${plan.addedPath.why}:`]), `ENV PATH=${plan.addedPath.value}`);
  if (plan.aptPackages.size > 0) {
    out.push(
      ...comment([
        'Debian packages the program needs at run time (apt resolves their dependencies):',
        ...[...plan.aptPackages].map(([p, why]) => `  ${p}: ${why}`),
      ]),
      `RUN ${cacheMountFlag('/var/cache/apt')} ${cacheMountFlag('/var/lib/apt')} \\\n    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${[...plan.aptPackages.keys()].sort().join(' ')}`,
    );
  }
  if (plan.createUser)
    out.push(...comment(["The image's user, with the same uid and gid as in the builder:"]), plan.createUser);
  const workdir = facts.config.WorkingDir;
  if (workdir && stage.instructions.some((i) => i.kind === 'workdir')) out.push(`WORKDIR ${workdir}`);
  if (collect) {
    out.push(`COPY --from=${plan.builderName} ${collect}/ /`);
  } else {
    for (const c of plan.copies) {
      out.push(...comment([`${c.path}: ${c.why}`]), `COPY --from=${plan.builderName} ${c.path} ${c.path}`);
    }
  }
  if (plan.addedUser)
    out.push(...comment([`The final stage ${plan.addedUser.why}.`]), `USER ${plan.addedUser.user}`);
  const late = kept.filter((i) => i.kind !== 'env' && i.kind !== 'label');
  const last = (kind: Instruction['kind']) => late.filter((i) => i.kind === kind).pop();
  for (const i of late) {
    const single = ['user', 'healthcheck', 'stopsignal', 'cmd', 'entrypoint'].includes(i.kind);
    if (single && last(i.kind) !== i) continue;
    if (plan.execForm?.line === i.range.line) {
      out.push(
        ...comment([
          `${i.kind.toUpperCase()} ${plan.execForm.why}; as written: ${written(lines, i).replace(/\s*\\\n\s*/g, ' ')}`,
        ]),
        `${i.kind.toUpperCase()} ${jsonArgs(plan.execForm.args)}`,
      );
      continue;
    }
    out.push(written(lines, i));
  }
  const c = facts.config;
  if (
    !late.some((i) => i.kind === 'entrypoint') &&
    !plan.inheritedEntrypoint &&
    c.Entrypoint &&
    c.Entrypoint.length > 0
  ) {
    out.push(
      ...comment([`ENTRYPOINT of ${stage.from.image}, which the final base may not share:`]),
      `ENTRYPOINT ${jsonArgs(c.Entrypoint)}`,
    );
  }
  if (!late.some((i) => i.kind === 'cmd' || i.kind === 'entrypoint') && c.Cmd && c.Cmd.length > 0) {
    out.push(
      ...comment([`CMD of ${stage.from.image}, which the final base may not share:`]),
      `CMD ${jsonArgs(c.Cmd)}`,
    );
  }
  return `${out.join('\n')}\n`;
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./@%+=:,-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}
