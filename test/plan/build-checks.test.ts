// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text is full of ${VAR} written in plain strings on purpose.
// BuildKit's 22 build checks: for each, a Dockerfile that triggers it (with the exact message and
// line BuildKit reports) and one that does not. Messages follow
// frontend/dockerfile/linter/ruleset.go and the cases of dockerfile_check_test.go.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DockerfileError, LINT_RULES, parseDockerfile } from '../../src/dockerfile/index.ts';
import { type Platform, parsePlatform } from '../../src/oci/index.ts';
import { type PlanOptions, planBuild } from '../../src/plan/index.ts';

const AMD64 = parsePlatform('linux/amd64');

/** The warnings of one rule as `line: message`. */
function warned(rule: string, text: string, options: PlanOptions = {}): string[] {
  const graph = planBuild(parseDockerfile(text), { platform: AMD64, buildPlatform: AMD64, ...options });
  return graph.warnings.filter((w) => w.rule === rule).map((w) => `${w.range?.line}: ${w.message}`);
}

interface Case {
  readonly rule: string;
  readonly triggers: string;
  readonly expected: readonly string[];
  readonly clean: string;
  readonly options?: PlanOptions;
}

const EXPERIMENTAL = '# check=experimental=InvalidDefinitionDescription\n';

const CASES: readonly Case[] = [
  {
    rule: 'StageNameCasing',
    triggers: 'FROM scratch AS BadName',
    expected: ["1: Stage name 'BadName' should be lowercase"],
    clean: 'FROM scratch AS good-name',
  },
  {
    rule: 'FromAsCasing',
    triggers: 'FROM scratch as base\nFROM base',
    expected: ["1: 'as' and 'FROM' keywords' casing do not match"],
    clean: 'FROM scratch AS base\nfrom base as other',
  },
  {
    rule: 'NoEmptyContinuation',
    triggers: 'FROM scratch\nLABEL a=1 \\\n\n  b=2',
    expected: ['2: Empty continuation line'],
    clean: 'FROM scratch\nLABEL a=1 \\\n  b=2',
  },
  {
    rule: 'ConsistentInstructionCasing',
    triggers: 'FROM scratch\nCOPY a b\ncopy c d\nRun x',
    expected: [
      "3: Command 'copy' should match the case of the command majority (uppercase)",
      "4: Command 'Run' should match the case of the command majority (uppercase)",
    ],
    clean: 'from scratch\ncopy a b\nrun x',
  },
  {
    rule: 'DuplicateStageName',
    triggers: 'FROM scratch AS b\nFROM scratch AS b',
    expected: ['2: Duplicate stage name "b", stage names should be unique'],
    clean: 'FROM scratch AS b1\nFROM scratch AS b2',
  },
  {
    rule: 'ReservedStageName',
    triggers: 'FROM scratch AS scratch\nFROM scratch AS context',
    expected: [
      '1: Stage name should not use the same name as reserved stage "scratch"',
      '2: Stage name should not use the same name as reserved stage "context"',
    ],
    clean: 'FROM scratch AS base',
  },
  {
    rule: 'JSONArgsRecommended',
    triggers: 'FROM scratch\nCMD echo hi\nENTRYPOINT run me',
    expected: [
      '2: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals',
      '3: JSON arguments recommended for ENTRYPOINT to prevent unintended behavior related to OS signals',
    ],
    clean: 'FROM scratch\nCMD ["echo", "hi"]\nSHELL ["/bin/sh", "-c"]\nENTRYPOINT run me',
  },
  {
    rule: 'MaintainerDeprecated',
    triggers: 'FROM scratch\nMAINTAINER me',
    expected: ['2: Maintainer instruction is deprecated in favor of using label'],
    clean: 'FROM scratch\nLABEL org.opencontainers.image.authors=me',
  },
  {
    rule: 'UndefinedArgInFrom',
    triggers: 'ARG BASE=scratch\nFROM ${BSE:-scratch}',
    expected: ["2: FROM argument 'BSE' is not declared (did you mean BASE?)"],
    clean: 'ARG BASE=scratch\nFROM ${BASE}',
  },
  {
    rule: 'WorkdirRelativePath',
    triggers: 'FROM scratch\nWORKDIR app\nWORKDIR more',
    expected: ['2: Relative workdir "app" can have unexpected results if the base image changes'],
    clean: 'FROM scratch AS base\nWORKDIR /app\nFROM base\nWORKDIR sub',
  },
  {
    rule: 'UndefinedVar',
    triggers: 'FROM scratch\nARG VERSION\nENV PATH=/bin\nCOPY $VERSON /x\nENV X=$PTH',
    expected: [
      // Suggestions come from the env (BuildKit's env.Keys()): an ARG without a value is not in it.
      "4: Usage of undefined variable '$VERSON'",
      "5: Usage of undefined variable '$PTH' (did you mean $PATH?)",
    ],
    clean: 'FROM scratch\nARG VERSION\nCOPY $VERSION /x\nENV X=$PATH\nRUN echo $UNSET_IN_RUN_IS_FINE',
  },
  {
    rule: 'MultipleInstructionsDisallowed',
    triggers: 'FROM scratch\nCMD ["a"]\nCMD ["b"]\nENTRYPOINT ["c"]\nHEALTHCHECK NONE\nHEALTHCHECK NONE',
    expected: [
      '2: Multiple CMD instructions should not be used in the same stage because only the last one will be used',
      '5: Multiple HEALTHCHECK instructions should not be used in the same stage because only the last one will be used',
    ],
    clean: 'FROM scratch AS base\nCMD ["a"]\nFROM base\nCMD ["b"]',
  },
  {
    rule: 'LegacyKeyValueFormat',
    triggers: 'FROM scratch\nENV key value\nLABEL key value',
    expected: [
      '2: "ENV key=value" should be used instead of legacy "ENV key value" format',
      '3: "LABEL key=value" should be used instead of legacy "LABEL key value" format',
    ],
    clean: 'FROM scratch\nENV key=value\nLABEL key=value',
  },
  {
    rule: 'InvalidBaseImagePlatform',
    triggers: 'FROM alpine',
    expected: [
      '1: Base image alpine was pulled with platform "linux/arm64", expected "linux/amd64" for current build',
    ],
    clean: 'FROM alpine',
    options: {
      baseImagePlatforms: new Map<string, Platform>([
        ['docker.io/library/alpine:latest', { os: 'linux', architecture: 'arm64' }],
      ]),
    },
  },
  {
    rule: 'RedundantTargetPlatform',
    triggers: 'FROM --platform=${TARGETPLATFORM} scratch',
    expected: [
      '1: Setting platform to predefined ${TARGETPLATFORM} in FROM is redundant as this is the default behavior',
    ],
    clean: 'FROM --platform=$BUILDPLATFORM scratch',
  },
  {
    rule: 'SecretsUsedInArgOrEnv',
    triggers: 'FROM scratch\nARG API_KEY\nENV GITHUB_TOKEN=x db_password=y',
    expected: [
      '2: Do not use ARG or ENV instructions for sensitive data (ARG "API_KEY")',
      '3: Do not use ARG or ENV instructions for sensitive data (ENV "GITHUB_TOKEN")',
      '3: Do not use ARG or ENV instructions for sensitive data (ENV "db_password")',
    ],
    clean: 'FROM scratch\nARG PUBLIC_KEY\nENV KEY_FILE=x MONKEY=y AUTHOR=z',
  },
  {
    rule: 'InvalidDefaultArgInFrom',
    triggers: 'ARG IMAGE\nFROM ${IMAGE}',
    expected: ['2: Default value for ARG ${IMAGE} results in empty or invalid base image name'],
    clean: 'ARG IMAGE=alpine\nFROM ${IMAGE}',
    options: { buildArgs: { IMAGE: 'alpine' } },
  },
  {
    rule: 'FromPlatformFlagConstDisallowed',
    triggers: 'FROM --platform=linux/arm64 scratch AS build',
    expected: ['1: FROM --platform flag should not use constant value "linux/arm64"'],
    clean: 'FROM --platform=linux/arm64 scratch AS build-arm64\nFROM --platform=$BUILDPLATFORM scratch',
  },
  {
    rule: 'CopyIgnoredFile',
    triggers: 'FROM scratch\nCOPY secret.txt ./ /x/\nADD secret.txt/ /y',
    expected: [
      '2: Attempting to Copy file "secret.txt" that is excluded by .dockerignore',
      '3: Attempting to Add file "secret.txt" that is excluded by .dockerignore',
    ],
    clean: 'FROM scratch AS a\nCOPY app /x\nFROM scratch\nCOPY --from=a secret.txt /y',
    options: { isIgnored: (path) => path.replace(/\/$/, '') === 'secret.txt' },
  },
  {
    rule: 'InvalidDefinitionDescription',
    triggers: `${EXPERIMENTAL}# some comment\nARG foo=bar\n# other\nFROM scratch AS base`,
    expected: [
      '3: Comment for ARG should follow the format: `# foo <description>`',
      '5: Comment for FROM should follow the format: `# base <description>`',
    ],
    // A blank line does not end a comment block in BuildKit's parser; an empty `#` line does.
    clean: `${EXPERIMENTAL}# foo is the thing\nARG foo=bar\n# unrelated\n#\nFROM scratch AS base`,
  },
  {
    rule: 'ExposeProtoCasing',
    triggers: 'FROM scratch\nEXPOSE 80/TCP',
    expected: ["2: Defined protocol '80/TCP' in EXPOSE instruction should be lowercase"],
    clean: 'FROM scratch\nEXPOSE 80/tcp',
  },
  {
    rule: 'ExposeInvalidFormat',
    triggers: 'FROM scratch\nEXPOSE 127.0.0.1:80:80',
    expected: [
      "2: EXPOSE instruction should not define an IP address or host-port mapping, found '127.0.0.1:80:80'",
    ],
    clean: 'FROM scratch\nEXPOSE 80',
  },
];

describe('build checks: each of BuildKit’s rules, triggered and not', () => {
  it('covers every rule of BuildKit’s ruleset', () => {
    assert.deepEqual(CASES.map((c) => c.rule).sort(), LINT_RULES.map((r) => r.name).sort());
    assert.equal(LINT_RULES.length, 22);
  });

  for (const c of CASES) {
    it(`${c.rule}: reported where BuildKit reports it`, () => {
      assert.deepEqual(warned(c.rule, c.triggers, c.options), c.expected);
    });
    it(`${c.rule}: quiet on a Dockerfile that follows it`, () => {
      const options =
        c.rule === 'InvalidBaseImagePlatform'
          ? {
              baseImagePlatforms: new Map<string, Platform>([
                ['docker.io/library/alpine:latest', { os: 'linux', architecture: 'amd64' }],
              ]),
            }
          : (c.options ?? {});
      assert.deepEqual(warned(c.rule, c.clean, options), []);
    });
    it(`${c.rule}: skipped by # check=skip=${c.rule}, and fails the build with error=true`, () => {
      const experimental = c.triggers.startsWith(EXPERIMENTAL);
      const body = experimental ? c.triggers.slice(EXPERIMENTAL.length) : c.triggers;
      const extra = experimental ? ';experimental=InvalidDefinitionDescription' : '';
      // BuildKit's Linter.Run consults skip only for rules that are not experimental; those run
      // only when `experimental=` names them.
      const skipped = warned(c.rule, `# check=skip=${c.rule}${extra}\n${body}`, c.options);
      assert.deepEqual(skipped, experimental ? c.expected : []);
      assert.throws(
        () => warned(c.rule, `# check=error=true${extra}\n${body}`, c.options),
        (error: unknown) =>
          error instanceof DockerfileError &&
          error.message.includes(`lint violation found for rules: `) &&
          error.message.includes(c.rule),
      );
    });
  }
});

describe('build checks: how # check= applies', () => {
  it('runs an experimental rule only when enabled', () => {
    assert.deepEqual(warned('InvalidDefinitionDescription', '# bad\nARG foo\nFROM scratch'), []);
    assert.equal(
      warned('InvalidDefinitionDescription', '# check=experimental=all\n# bad\nARG foo\nFROM scratch').length,
      1,
    );
  });

  it('honours a # check=skip= comment directly above an instruction, for that instruction only', () => {
    assert.deepEqual(
      warned(
        'MaintainerDeprecated',
        'FROM scratch\n# check=skip=MaintainerDeprecated\nMAINTAINER a\nMAINTAINER b',
      ),
      ['4: Maintainer instruction is deprecated in favor of using label'],
    );
  });

  it('reports dispatch-time checks only for the stages the target needs, unless asked for all', () => {
    const text = 'FROM scratch AS unused\nENV a b\nFROM scratch\nENV c=d';
    assert.deepEqual(warned('LegacyKeyValueFormat', text), []);
    assert.deepEqual(warned('LegacyKeyValueFormat', text, { checkAllStages: true }), [
      '2: "ENV key=value" should be used instead of legacy "ENV key value" format',
    ]);
  });

  it('builds on the last stage of a duplicated name, as BuildKit does', () => {
    const graph = planBuild(parseDockerfile('FROM scratch AS b\nFROM scratch AS b\nENV x=1\nFROM b'), {
      platform: AMD64,
      buildPlatform: AMD64,
    });
    assert.deepEqual(graph.stages[2]!.base, { kind: 'stage', stage: 1 });
  });

  it('leaves UndefinedVar alone while a base image’s Env is unknown', () => {
    assert.deepEqual(warned('UndefinedVar', 'FROM alpine\nENV X=$PATH:$FOO'), []);
    assert.deepEqual(
      warned('UndefinedVar', 'FROM alpine\nENV X=$PATH:$FOO', {
        baseImageEnv: new Map([['docker.io/library/alpine:latest', ['PATH=/usr/bin']]]),
      }),
      ["2: Usage of undefined variable '$FOO'"],
    );
  });
});

describe('the syntax directive', () => {
  const syntax = (value: string) =>
    parseDockerfile(`# syntax=${value}\nFROM scratch`)
      .warnings.filter((w) => w.rule === 'SyntaxDirective')
      .map((w) => w.message);

  it('is quiet for the Dockerfile frontend strata implements', () => {
    for (const v of [
      'docker/dockerfile:1',
      'docker/dockerfile:1.7',
      'docker.io/docker/dockerfile:1.17.1',
      'docker/dockerfile',
    ]) {
      assert.deepEqual(syntax(v), [], v);
    }
  });

  it('warns that another frontend, a labs or a newer version is not run', () => {
    assert.deepEqual(syntax('docker/dockerfile:1-labs'), [
      'the syntax directive names frontend "docker/dockerfile:1-labs", which is not run: strata builds with its own Dockerfile frontend (docker/dockerfile:1.17 syntax)',
    ]);
    assert.equal(syntax('docker/dockerfile:1.18').length, 1);
    assert.equal(syntax('example.com/my/frontend:2').length, 1);
  });
});
