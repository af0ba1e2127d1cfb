/**
 * BuildKit's Dockerfile build checks (frontend/dockerfile/linter/ruleset.go): each rule's name,
 * description, documentation URL and whether it is experimental. A warning whose `rule` is one of
 * these is governed by `# check=` (skip, error, experimental); other warnings (`UnusedBuildArg`,
 * strata's own `PlatformIgnored`) are always shown and never fail the build.
 */

/** One of BuildKit's build checks. */
export interface LintRule {
  readonly name: string;
  readonly description: string;
  /** The rule's page in Docker's documentation (BuildKit gives none for InvalidBaseImagePlatform). */
  readonly url?: string;
  /** Experimental rules run only when `# check=experimental=<rule>|all` enables them. */
  readonly experimental: boolean;
}

const DOCS = 'https://docs.docker.com/go/dockerfile/rule/';

function rule(name: string, slug: string | undefined, description: string, experimental = false): LintRule {
  return slug === undefined
    ? { name, description, experimental }
    : { name, description, url: `${DOCS}${slug}/`, experimental };
}

/** BuildKit's 22 build checks, in ruleset.go's order. */
export const LINT_RULES: readonly LintRule[] = [
  rule('StageNameCasing', 'stage-name-casing', 'Stage names should be lowercase'),
  rule('FromAsCasing', 'from-as-casing', "The 'as' keyword should match the case of the 'from' keyword"),
  rule(
    'NoEmptyContinuation',
    'no-empty-continuation',
    'Empty continuation lines will become errors in a future release',
  ),
  rule(
    'ConsistentInstructionCasing',
    'consistent-instruction-casing',
    'All commands within the Dockerfile should use the same casing (either upper or lower)',
  ),
  rule('DuplicateStageName', 'duplicate-stage-name', 'Stage names should be unique'),
  rule('ReservedStageName', 'reserved-stage-name', 'Reserved words should not be used as stage names'),
  rule(
    'JSONArgsRecommended',
    'json-args-recommended',
    'JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals',
  ),
  rule(
    'MaintainerDeprecated',
    'maintainer-deprecated',
    'The MAINTAINER instruction is deprecated, use a label instead to define an image author',
  ),
  rule('UndefinedArgInFrom', 'undefined-arg-in-from', 'FROM command must use declared ARGs'),
  rule(
    'WorkdirRelativePath',
    'workdir-relative-path',
    'Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes',
  ),
  rule('UndefinedVar', 'undefined-var', 'Variables should be defined before their use'),
  rule(
    'MultipleInstructionsDisallowed',
    'multiple-instructions-disallowed',
    'Multiple instructions of the same type should not be used in the same stage',
  ),
  rule(
    'LegacyKeyValueFormat',
    'legacy-key-value-format',
    'Legacy key/value format with whitespace separator should not be used',
  ),
  rule('InvalidBaseImagePlatform', undefined, 'Base image platform does not match expected target platform'),
  rule(
    'RedundantTargetPlatform',
    'redundant-target-platform',
    'Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior',
  ),
  rule(
    'SecretsUsedInArgOrEnv',
    'secrets-used-in-arg-or-env',
    'Sensitive data should not be used in the ARG or ENV commands',
  ),
  rule(
    'InvalidDefaultArgInFrom',
    'invalid-default-arg-in-from',
    'Default value for global ARG results in an empty or invalid base image name',
  ),
  rule(
    'FromPlatformFlagConstDisallowed',
    'from-platform-flag-const-disallowed',
    'FROM --platform flag should not use a constant value',
  ),
  rule('CopyIgnoredFile', 'copy-ignored-file', 'Attempting to Copy file that is excluded by .dockerignore'),
  rule(
    'InvalidDefinitionDescription',
    'invalid-definition-description',
    'Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`. If this is not intended to be a description comment, add an empty line or comment between the instruction and the comment.',
    true,
  ),
  rule('ExposeProtoCasing', 'expose-proto-casing', 'Protocol in EXPOSE instruction should be lowercase'),
  rule(
    'ExposeInvalidFormat',
    'expose-invalid-format',
    'IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release',
  ),
];

const BY_NAME = new Map(LINT_RULES.map((r) => [r.name, r]));

/** The BuildKit build check named `name`, if it is one. */
export function lintRule(name: string): LintRule | undefined {
  return BY_NAME.get(name);
}
