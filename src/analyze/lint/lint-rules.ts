import { InternalError } from '../../util/index.ts';

/** How much a finding matters; maps onto SARIF's `level` (error, warning, note). */
export type LintSeverity = 'error' | 'warning' | 'info';

/** A lint rule's fixed description (docs/lint.md has the long form of each). */
export interface LintRule {
  /** Stable id, kebab-case (`apt-lists-left`). */
  readonly id: string;
  readonly severity: LintSeverity;
  /** One line: what the rule finds. */
  readonly title: string;
  /** hadolint's or BuildKit's id for the same check, where one exists. */
  readonly alias?: string;
}

/** One problem found in a Dockerfile. */
export interface LintFinding {
  readonly ruleId: string;
  readonly severity: LintSeverity;
  /** What is wrong, here. */
  readonly message: string;
  /** What to change. */
  readonly fix: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
  /** The stage the finding is in, when it is in one. */
  readonly stage?: string;
  /** hadolint's or BuildKit's id for the same check (`hadolint DL3009`), as the rule has it. */
  readonly alias?: string;
}

/** Every rule strata lint checks, in the order docs/lint.md lists them. */
export const LINT_RULES: readonly LintRule[] = [
  {
    id: 'final-stage-toolchain-image',
    severity: 'warning',
    title: 'The final stage is based on a toolchain image (compilers, SDKs, headers ship with the app)',
  },
  {
    id: 'final-stage-compiler-packages',
    severity: 'warning',
    title: 'The final stage installs compilers or -dev packages and keeps them',
  },
  {
    id: 'apt-lists-left',
    severity: 'warning',
    title: 'apt package lists are left in the layer',
    alias: 'hadolint DL3009',
  },
  {
    id: 'apt-no-install-recommends',
    severity: 'info',
    title: 'apt-get install without --no-install-recommends',
    alias: 'hadolint DL3015',
  },
  {
    id: 'pip-no-cache-dir',
    severity: 'warning',
    title: "pip install keeps pip's download cache in the layer",
    alias: 'hadolint DL3042',
  },
  {
    id: 'js-cache-left',
    severity: 'warning',
    title: "npm or yarn install keeps the package manager's cache in the layer",
    alias: 'hadolint DL3060',
  },
  {
    id: 'apk-cache-left',
    severity: 'warning',
    title: "apk add without --no-cache keeps apk's package index in the layer",
    alias: 'hadolint DL3019',
  },
  {
    id: 'package-cache-left',
    severity: 'warning',
    title: 'yum, dnf or zypper installs without cleaning their package cache in the same RUN',
    alias: 'hadolint DL3032, DL3040, DL3036',
  },
  {
    id: 'useradd-large-uid',
    severity: 'warning',
    title: 'useradd with a large UID and without -l writes huge lastlog/faillog files',
    alias: 'hadolint DL3046',
  },
  {
    id: 'copy-overwrites-copy',
    severity: 'warning',
    title: 'A later COPY copies again what an earlier COPY of the stage copied (the bytes ship twice)',
  },
  {
    id: 'copy-entire-filesystem',
    severity: 'warning',
    title: "COPY --from=<stage> / / copies another stage's whole filesystem",
    alias: 'hadolint DL3067',
  },
  {
    id: 'copied-archive-extracted',
    severity: 'warning',
    title: 'A copied archive is extracted by a RUN: the archive stays in its layer',
    alias: 'hadolint DL3010',
  },
  {
    id: 'removed-in-later-layer',
    severity: 'warning',
    title:
      'Files are removed in a later RUN than the step that created them (the bytes stay in the earlier layer)',
  },
  {
    id: 'copy-all-before-install',
    severity: 'warning',
    title: 'COPY . before the dependency install: every source change reinstalls all dependencies',
  },
  {
    id: 'missing-dockerignore',
    severity: 'warning',
    title: 'No .dockerignore while the context holds node_modules, .git or large files',
  },
  {
    id: 'add-instead-of-copy',
    severity: 'warning',
    title: 'ADD where COPY suffices',
    alias: 'hadolint DL3020',
  },
  {
    id: 'unpinned-base-image',
    severity: 'warning',
    title: 'A base image is untagged or uses latest',
    alias: 'hadolint DL3006, DL3007',
  },
  {
    id: 'unused-stage',
    severity: 'info',
    title: 'A stage the target never uses',
  },
  {
    id: 'secret-in-arg-env',
    severity: 'warning',
    title: 'A secret-looking name in ARG or ENV (its value is kept in the image history)',
    alias: 'BuildKit SecretsUsedInArgOrEnv',
  },
  {
    id: 'invalid-default-arg-in-from',
    severity: 'warning',
    title: 'A FROM needs a --build-arg: with the ARG defaults its base is empty or invalid',
    alias: 'BuildKit InvalidDefaultArgInFrom',
  },
  {
    id: 'cd-instead-of-workdir',
    severity: 'info',
    title: 'cd in a RUN where WORKDIR would set the directory for every later step',
    alias: 'hadolint DL3003',
  },
  {
    id: 'shell-form-command',
    severity: 'info',
    title: 'CMD or ENTRYPOINT in shell form: the program is not PID 1 and misses SIGTERM',
    alias: 'hadolint DL3025, BuildKit JSONArgsRecommended',
  },
  {
    id: 'no-cache-mount',
    severity: 'info',
    title: 'A compiler or package manager runs without a cache mount: every change is a cold build',
  },
];

/** The rule with `id`. */
export function lintRule(id: string): LintRule {
  const rule = LINT_RULES.find((r) => r.id === id);
  if (!rule) throw new InternalError(`no lint rule ${id}`);
  return rule;
}
