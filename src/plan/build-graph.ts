import type {
  CacheSharing,
  CommandLine,
  DockerfileWarning,
  FromInstruction,
  HealthcheckTest,
  Heredoc,
  Instruction,
  MountType,
  NetworkMode,
  RunDevice,
  SecurityMode,
  SourceRange,
} from '../dockerfile/index.ts';
import type { Platform } from '../oci/index.ts';
import type { Reference } from '../reference/index.ts';

/**
 * The pure result of planning a Dockerfile: every stage, which of them the target needs, and for
 * each step its arguments already expanded, the variables it sees and where it came from. Nothing
 * has been read or run yet; a solver can execute this graph without looking at the Dockerfile again.
 * Stages refer to each other by index (`Stage.index`), so the graph is plain data that prints as JSON.
 */
export interface BuildGraph {
  /** Every stage in Dockerfile order, needed or not. */
  readonly stages: readonly Stage[];
  /** Indexes of the stages to build, dependencies first (only what the target needs). */
  readonly order: readonly number[];
  /** Index of the target stage (`--target`, else the last stage). */
  readonly target: number;
  /** The platform the image is built for (`--platform`, else the host). */
  readonly platform: Platform;
  /** The platform the build runs on (the host). */
  readonly buildPlatform: Platform;
  /** The global ARGs (declared before the first FROM, plus the predefined ones) after `--build-arg`. */
  readonly globalArgs: readonly Variable[];
  /**
   * Proxy variables from `--build-arg` (`HTTP_PROXY`, `https_proxy`, …): set for every RUN but
   * left out of history and cache keys unless a stage declares them with ARG (BuildKit's rule).
   */
  readonly proxyEnv: readonly Variable[];
  /** The escape token in force (`\` or `` ` ``), for re-expanding words with an image's env. */
  readonly escapeToken: '\\' | '`';
  readonly warnings: readonly DockerfileWarning[];
}

/** A name and a value, in the order they were defined. */
export interface Variable {
  readonly name: string;
  readonly value: string;
}

/** Where a variable a step sees was defined. */
export type VariableSource = 'arg' | 'env' | 'default';

/** A variable visible to a step, and which instruction (or default) set it. */
export interface ScopedVariable extends Variable {
  readonly source: VariableSource;
}

/** What a stage starts from. */
export type StageBase =
  | { readonly kind: 'scratch' }
  | {
      readonly kind: 'image';
      /** The base after ARG expansion, as written (`alpine:3.19`). */
      readonly text: string;
      readonly ref: Reference;
    }
  | { readonly kind: 'stage'; readonly stage: number };

/** One build stage: a FROM and the steps after it. */
export interface Stage {
  /** Position in the Dockerfile, 0-based (what `COPY --from=0` means). */
  readonly index: number;
  /** The `AS` name, lower-cased. */
  readonly name?: string | undefined;
  /** The name BuildKit shows: the stage name, or `stage-<index>`. */
  readonly displayName: string;
  readonly base: StageBase;
  /** The stage's platform: `FROM --platform`, inherited from a base stage, or the build's target platform. */
  readonly platform: Platform;
  /** True when `FROM --platform` set the platform explicitly. */
  readonly platformExplicit: boolean;
  readonly steps: readonly Step[];
  /** Stages this one needs: its base stage and every `--from` / `--mount from=` stage. */
  readonly dependsOn: readonly number[];
  /** External images used by `COPY --from=<image>` or `RUN --mount=from=<image>` in this stage. */
  readonly imageDependencies: readonly Reference[];
  /** Whether the target needs this stage (false: it is skipped). */
  readonly needed: boolean;
  readonly from: FromInstruction;
  readonly location: SourceRange;
}

/** Where COPY takes files from, or what a RUN mount mounts. */
export type FileSource =
  | { readonly kind: 'context' }
  | { readonly kind: 'stage'; readonly stage: number }
  | { readonly kind: 'image'; readonly ref: Reference }
  | { readonly kind: 'scratch' };

/** What every step carries. */
export interface StepBase {
  /** Position of the step within its stage, 0-based. */
  readonly index: number;
  readonly location: SourceRange;
  /** The instruction as parsed (words unexpanded), for messages and history. */
  readonly instruction: Instruction;
  /**
   * The ARG and ENV variables this step sees, as the Dockerfile defines them (ordered, unique by
   * name, later definitions replacing earlier ones). A stage built on an image also sees that
   * image's config `Env` beneath these; see `unresolved`.
   */
  readonly env: readonly ScopedVariable[];
  /** The ARGs in scope (inherited from base stages too), as BuildKit lists them in RUN history. */
  readonly buildArgs: readonly { readonly name: string; readonly value?: string }[];
  /**
   * Variables the step's words referenced that the Dockerfile does not define. In a stage built on
   * an image they may come from the image's `Env`: plan again with `baseImageEnv` to resolve them.
   */
  readonly unresolved: readonly string[];
  /** True for a step that came from an ONBUILD trigger of the base stage. */
  readonly onbuild: boolean;
  /**
   * The SHELL an earlier SHELL instruction of this stage (or a base stage) set; undefined when
   * none did, so the base image's shell applies (`/bin/sh -c` when the image sets none).
   */
  readonly activeShell?: readonly string[] | undefined;
}

/** RUN: a command in a container. */
export interface RunStep extends StepBase {
  readonly kind: 'run';
  /** Not expanded: the shell expands shell-form commands when it runs them. */
  readonly command: CommandLine;
  readonly heredocs: readonly Heredoc[];
  readonly mounts: readonly PlannedMount[];
  readonly network: NetworkMode;
  readonly security: SecurityMode;
  readonly devices: readonly RunDevice[];
}

/** A `RUN --mount` with its values expanded and its source resolved. */
export interface PlannedMount {
  readonly type: MountType;
  /** Where the mounted files come from: context (bind default), a stage, an image, or scratch. */
  readonly from: FileSource;
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
  readonly sizeBytes?: number | undefined;
  /** Cache mounts: the id (defaults to the cleaned target, as in BuildKit). */
  readonly id?: string | undefined;
  readonly sharing?: CacheSharing | undefined;
  readonly required: boolean;
  /** Secret mounts: the environment variable to expose the secret in. */
  readonly env?: string | undefined;
  readonly mode?: number | undefined;
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
}

/** A heredoc source of COPY/ADD, its content expanded when the delimiter was unquoted. */
export interface PlannedInlineSource {
  readonly name: string;
  readonly content: string;
}

/** COPY: files from the context, a stage or an image. */
export interface CopyStep extends StepBase {
  readonly kind: 'copy';
  readonly from: FileSource;
  readonly sources: readonly string[];
  readonly inline: readonly PlannedInlineSource[];
  readonly dest: string;
  readonly chown?: string | undefined;
  readonly chmod?: string | undefined;
  readonly link: boolean;
  readonly parents: boolean;
  readonly exclude: readonly string[];
}

/** ADD: like COPY from the context, plus URLs, git refs and archive extraction. */
export interface AddStep extends StepBase {
  readonly kind: 'add';
  readonly sources: readonly string[];
  readonly inline: readonly PlannedInlineSource[];
  readonly dest: string;
  readonly chown?: string | undefined;
  readonly chmod?: string | undefined;
  readonly link: boolean;
  readonly checksum?: string | undefined;
  readonly keepGitDir?: boolean | undefined;
  readonly unpack?: boolean | undefined;
  readonly exclude: readonly string[];
}

/** WORKDIR (expanded; relative paths are resolved against the previous WORKDIR by the solver). */
export interface WorkdirStep extends StepBase {
  readonly kind: 'workdir';
  readonly path: string;
}

/** Instructions that change only the image config: no layer. */
export type ConfigStep = StepBase &
  (
    | { readonly kind: 'env'; readonly pairs: readonly Variable[] }
    | { readonly kind: 'arg'; readonly args: readonly { readonly name: string; readonly value?: string }[] }
    | { readonly kind: 'label'; readonly pairs: readonly Variable[] }
    | { readonly kind: 'expose'; readonly ports: readonly string[] }
    | { readonly kind: 'user'; readonly user: string }
    | { readonly kind: 'volume'; readonly volumes: readonly string[] }
    | { readonly kind: 'shell'; readonly shell: readonly string[] }
    | { readonly kind: 'stopsignal'; readonly signal: string }
    | { readonly kind: 'cmd'; readonly command: CommandLine }
    | { readonly kind: 'entrypoint'; readonly command: CommandLine }
    | {
        readonly kind: 'healthcheck';
        readonly test: HealthcheckTest;
        readonly intervalNs: number;
        readonly timeoutNs: number;
        readonly startPeriodNs: number;
        readonly startIntervalNs: number;
        readonly retries: number;
      }
    | { readonly kind: 'onbuild'; readonly expression: string }
    | { readonly kind: 'maintainer'; readonly maintainer: string }
  );

/** One step of a stage. */
export type Step = RunStep | CopyStep | AddStep | WorkdirStep | ConfigStep;

/** The `kind` of a step. */
export type StepKind = Step['kind'];
