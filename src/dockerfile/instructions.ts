import type { CheckOptions } from './check-directive.ts';
import type { SourceRange } from './source-range.ts';

/**
 * The typed Dockerfile AST. Every instruction is a plain object with a `kind` tag; a `switch` on
 * `kind` is checked for exhaustiveness by the compiler. Words are kept as written (quotes and
 * `$variables` included) because what they mean depends on the ARG/ENV scope, which the planner
 * (`src/plan`) applies; `expand*` helpers there do the substitution BuildKit does.
 */

/** What every instruction carries. */
export interface InstructionBase {
  /** The keyword as written (`run`, `Copy`); `kind` is its lower-case form. */
  readonly keyword: string;
  /** The whole instruction on one logical line: continuations joined, comments removed. */
  readonly original: string;
  readonly range: SourceRange;
  /** The comment lines directly above the instruction, without `#`. */
  readonly comments: readonly string[];
}

/**
 * A command as RUN, CMD, ENTRYPOINT and HEALTHCHECK CMD take it: exec form (a JSON array of
 * strings, run without a shell) or shell form (one string for the stage's SHELL).
 */
export type CommandLine =
  | { readonly form: 'exec'; readonly args: readonly string[] }
  | { readonly form: 'shell'; readonly text: string };

/**
 * A here-document attached to an instruction (`<<EOF` … `EOF`). `content` is the body exactly as
 * in the file, each line with its line ending; `<<-` (chomp) strips leading tabs when the body is
 * used, not here.
 */
export interface Heredoc {
  /** The delimiter word with quotes removed (`EOF` for `<<"EOF"`). */
  readonly name: string;
  /** Whether `$variables` in the body are expanded: false when any part of the delimiter is quoted. */
  readonly expand: boolean;
  /** `<<-`: leading tabs are stripped from each body line. */
  readonly chomp: boolean;
  /** The file descriptor before `<<` (`3<<EOF`), 0 when absent. */
  readonly fileDescriptor: number;
  readonly content: string;
}

/** `KEY=value` in ENV and LABEL; `legacy` marks the old `ENV KEY value` form. */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly legacy: boolean;
}

/** `NAME` or `NAME=default` in ARG. */
export interface ArgDeclaration {
  readonly key: string;
  readonly defaultValue?: string | undefined;
}

/** The kinds of `RUN --mount`. */
export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';

/** `sharing=` of a cache mount. */
export type CacheSharing = 'shared' | 'private' | 'locked';

/**
 * One `RUN --mount=…` as parsed: every value as written (unexpanded). `readOnly` is the explicit
 * choice; when undefined the mount type's default applies (bind, secret and ssh are read-only,
 * cache and tmpfs writable).
 */
export interface RunMount {
  readonly type: MountType;
  readonly from?: string | undefined;
  readonly source?: string | undefined;
  readonly target?: string | undefined;
  readonly readOnly?: boolean | undefined;
  /** tmpfs size, in bytes. */
  readonly size?: number | undefined;
  readonly id?: string | undefined;
  readonly sharing?: CacheSharing | undefined;
  readonly required?: boolean | undefined;
  readonly env?: string | undefined;
  readonly mode?: number | undefined;
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
  /** The flag value as written, for messages and history. */
  readonly text: string;
}

/** One `RUN --device=name[,required]` (a CDI device). */
export interface RunDevice {
  readonly name: string;
  readonly required: boolean;
}

/** `--network` of RUN. */
export type NetworkMode = 'default' | 'none' | 'host';

/** `--security` of RUN. */
export type SecurityMode = 'sandbox' | 'insecure';

/** `FROM [--platform=p] image [AS name]`. */
export interface FromInstruction extends InstructionBase {
  readonly kind: 'from';
  /** The base as written: an image reference, a stage name or `scratch`, possibly with `$ARGS`. */
  readonly image: string;
  /** The stage name, lower-cased (BuildKit compares stage names case-insensitively). */
  readonly name?: string | undefined;
  /** The stage name as written. */
  readonly nameAsWritten?: string | undefined;
  readonly platform?: string | undefined;
}

/** `RUN [--mount=…]… [--network=…] [--security=…] [--device=…] command`. */
export interface RunInstruction extends InstructionBase {
  readonly kind: 'run';
  readonly command: CommandLine;
  readonly heredocs: readonly Heredoc[];
  readonly mounts: readonly RunMount[];
  readonly network?: NetworkMode | undefined;
  readonly security?: SecurityMode | undefined;
  /** `--device=name[,required]` (CDI devices). */
  readonly devices: readonly RunDevice[];
}

/** `CMD command`. */
export interface CmdInstruction extends InstructionBase {
  readonly kind: 'cmd';
  readonly command: CommandLine;
}

/** `ENTRYPOINT command`. */
export interface EntrypointInstruction extends InstructionBase {
  readonly kind: 'entrypoint';
  readonly command: CommandLine;
}

/** A source of COPY or ADD written as a heredoc (`COPY <<EOF /dst`). */
export interface InlineSource {
  /** The heredoc name; it is also the file name created in the destination. */
  readonly name: string;
  readonly content: string;
  readonly expand: boolean;
  readonly chomp: boolean;
}

/** What COPY and ADD share. */
export interface CopyLike extends InstructionBase {
  /** Paths (or for ADD URLs, git refs) as written, in order; heredoc sources are in `inline`. */
  readonly sources: readonly string[];
  readonly inline: readonly InlineSource[];
  readonly dest: string;
  /** JSON form (`COPY ["a b", "/dst/"]`) or whitespace-separated words. */
  readonly form: 'exec' | 'shell';
  readonly chown?: string | undefined;
  readonly chmod?: string | undefined;
  readonly link: boolean;
  readonly exclude: readonly string[];
}

/** `COPY [--from] [--chown] [--chmod] [--link] [--parents] [--exclude]… src… dest`. */
export interface CopyInstruction extends CopyLike {
  readonly kind: 'copy';
  readonly from?: string | undefined;
  readonly parents: boolean;
}

/** `ADD [--chown] [--chmod] [--link] [--checksum] [--keep-git-dir] [--unpack] [--exclude]… src… dest`. */
export interface AddInstruction extends CopyLike {
  readonly kind: 'add';
  readonly checksum?: string | undefined;
  readonly keepGitDir?: boolean | undefined;
  readonly unpack?: boolean | undefined;
}

/** `ENV k=v …` or the legacy `ENV k v`. */
export interface EnvInstruction extends InstructionBase {
  readonly kind: 'env';
  readonly pairs: readonly KeyValue[];
}

/** `ARG name[=default] …`. */
export interface ArgInstruction extends InstructionBase {
  readonly kind: 'arg';
  readonly args: readonly ArgDeclaration[];
}

/** `LABEL k=v …`. */
export interface LabelInstruction extends InstructionBase {
  readonly kind: 'label';
  readonly pairs: readonly KeyValue[];
}

/** `EXPOSE port[/proto] …` (ports as written; they are expanded and validated by the planner). */
export interface ExposeInstruction extends InstructionBase {
  readonly kind: 'expose';
  readonly ports: readonly string[];
}

/** `USER user[:group]`. */
export interface UserInstruction extends InstructionBase {
  readonly kind: 'user';
  readonly user: string;
}

/** `WORKDIR path`. */
export interface WorkdirInstruction extends InstructionBase {
  readonly kind: 'workdir';
  readonly path: string;
}

/** `VOLUME ["/a", "/b"]` or `VOLUME /a /b`. */
export interface VolumeInstruction extends InstructionBase {
  readonly kind: 'volume';
  readonly volumes: readonly string[];
  readonly form: 'exec' | 'shell';
}

/** `SHELL ["exe", "arg"…]` (JSON form only). */
export interface ShellInstruction extends InstructionBase {
  readonly kind: 'shell';
  readonly shell: readonly string[];
}

/** `STOPSIGNAL signal`. */
export interface StopSignalInstruction extends InstructionBase {
  readonly kind: 'stopsignal';
  readonly signal: string;
}

/** HEALTHCHECK durations are nanoseconds, as in the image config; 0 means "inherit the default". */
export type HealthcheckTest =
  | { readonly type: 'none' }
  | { readonly type: 'cmd'; readonly command: CommandLine };

/** `HEALTHCHECK NONE` or `HEALTHCHECK [--interval …] CMD command`. */
export interface HealthcheckInstruction extends InstructionBase {
  readonly kind: 'healthcheck';
  readonly test: HealthcheckTest;
  readonly intervalNs: number;
  readonly timeoutNs: number;
  readonly startPeriodNs: number;
  readonly startIntervalNs: number;
  readonly retries: number;
}

/** `ONBUILD instruction`: stored as text in the image, run when a later build uses it as a base. */
export interface OnbuildInstruction extends InstructionBase {
  readonly kind: 'onbuild';
  /** The trigger as BuildKit stores it in the image config (`ONBUILD` removed, heredocs joined). */
  readonly expression: string;
  readonly trigger: Instruction;
}

/** `MAINTAINER name` (deprecated: use `LABEL org.opencontainers.image.authors=…`). */
export interface MaintainerInstruction extends InstructionBase {
  readonly kind: 'maintainer';
  readonly maintainer: string;
}

/** Any Dockerfile instruction. */
export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | CopyInstruction
  | AddInstruction
  | EnvInstruction
  | ArgInstruction
  | LabelInstruction
  | ExposeInstruction
  | UserInstruction
  | WorkdirInstruction
  | VolumeInstruction
  | ShellInstruction
  | StopSignalInstruction
  | HealthcheckInstruction
  | OnbuildInstruction
  | MaintainerInstruction;

/** The `kind` of an instruction. */
export type InstructionKind = Instruction['kind'];

/** Every instruction keyword, upper-case, in the order Docker's reference lists them. */
export const INSTRUCTION_KEYWORDS: readonly string[] = [
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'FROM',
  'HEALTHCHECK',
  'LABEL',
  'MAINTAINER',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
];

/** A parser directive (`# syntax=…`, `# escape=…`, `# check=…`) from the top of the file. */
export interface Directive {
  readonly name: 'syntax' | 'escape' | 'check';
  readonly value: string;
  readonly line: number;
}

/** A build stage: a FROM and the instructions up to the next FROM. */
export interface StageNode {
  readonly from: FromInstruction;
  readonly instructions: readonly Instruction[];
}

/** Something worth telling the user that does not stop the build. */
export interface DockerfileWarning {
  /** BuildKit's rule name where one exists (`MaintainerDeprecated`, `FromAsCasing`, …). */
  readonly rule: string;
  readonly message: string;
  readonly file: string;
  readonly range?: SourceRange | undefined;
}

/** A parsed Dockerfile. */
export interface Dockerfile {
  readonly file: string;
  readonly directives: readonly Directive[];
  readonly escapeToken: '\\' | '`';
  /** Every instruction in file order. */
  readonly instructions: readonly Instruction[];
  /** The ARG instructions before the first FROM (visible to FROM lines only). */
  readonly globalArgs: readonly ArgInstruction[];
  readonly stages: readonly StageNode[];
  /** The `# check=` directive: which lint rules to skip and whether warnings fail the build. */
  readonly checks: CheckOptions;
  /** Warnings found while parsing, less those `# check=skip=` turns off. */
  readonly warnings: readonly DockerfileWarning[];
}
