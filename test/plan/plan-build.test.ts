// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text is full of ${VAR} written in plain strings on purpose.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DockerfileError, formatDockerfileError, parseDockerfile } from '../../src/dockerfile/index.ts';
import { formatPlatform, parsePlatform } from '../../src/oci/index.ts';
import { type BuildGraph, type PlanOptions, planBuild, type Step } from '../../src/plan/index.ts';

const AMD64 = parsePlatform('linux/amd64');

function plan(text: string, options: PlanOptions = {}): BuildGraph {
  return planBuild(parseDockerfile(text), { platform: AMD64, buildPlatform: AMD64, ...options });
}

/** The variables a step sees, as an object. */
function envOf(step: Step): Record<string, string> {
  return Object.fromEntries(step.env.map((v) => [v.name, v.value]));
}

/** The last step of the target stage. */
function lastStep(graph: BuildGraph): Step {
  const steps = graph.stages[graph.target]!.steps;
  return steps[steps.length - 1]!;
}

/** The pairs of the last ENV step of the target. */
function lastEnv(graph: BuildGraph): Record<string, string> {
  const step = lastStep(graph);
  assert.equal(step.kind, 'env');
  return Object.fromEntries(step.kind === 'env' ? step.pairs.map((p) => [p.name, p.value]) : []);
}

/** [what it proves, Dockerfile, options, expected pairs of the final ENV] */
const scopeCases: readonly [string, string, PlanOptions, Record<string, string>][] = [
  ['a global ARG is not visible inside a stage', 'ARG V=1\nFROM scratch\nENV X=[$V]', {}, { X: '[]' }],
  [
    're-declaring a global ARG without value brings it into the stage',
    'ARG V=1\nFROM scratch\nARG V\nENV X=$V',
    {},
    { X: '1' },
  ],
  ['a stage ARG default beats the global value', 'ARG V=1\nFROM scratch\nARG V=2\nENV X=$V', {}, { X: '2' }],
  [
    '--build-arg beats the global default',
    'ARG V=1\nFROM scratch\nARG V\nENV X=$V',
    { buildArgs: { V: 'cli' } },
    { X: 'cli' },
  ],
  [
    '--build-arg beats a stage default',
    'FROM scratch\nARG V=default\nENV X=$V',
    { buildArgs: { V: 'cli' } },
    { X: 'cli' },
  ],
  [
    '--build-arg fills an ARG without default',
    'FROM scratch\nARG V\nENV X=$V',
    { buildArgs: { V: 'cli' } },
    { X: 'cli' },
  ],
  [
    'an ARG without default or value stays unset',
    'FROM scratch\nARG V\nENV X=${V-unset}',
    {},
    { X: 'unset' },
  ],
  [
    'an ARG is only visible from its declaration on',
    'FROM scratch\nENV BEFORE=[$V]\nARG V=1\nENV X=[$V]',
    {},
    { X: '[1]' },
  ],
  [
    'ENV shadows an ARG declared before it',
    'FROM scratch\nARG V\nENV V=from-env\nENV X=$V',
    { buildArgs: { V: 'cli' } },
    { X: 'from-env' },
  ],
  [
    'the reference example: ENV with an ARG fallback',
    'FROM scratch\nARG CONT_IMG_VER\nENV CONT_IMG_VER=${CONT_IMG_VER:-v1.0.0}\nENV X=$CONT_IMG_VER',
    {},
    { X: 'v1.0.0' },
  ],
  [
    'the reference example, with a build arg',
    'FROM scratch\nARG CONT_IMG_VER\nENV CONT_IMG_VER=${CONT_IMG_VER:-v1.0.0}\nENV X=$CONT_IMG_VER',
    { buildArgs: { CONT_IMG_VER: 'v2.0.1' } },
    { X: 'v2.0.1' },
  ],
  [
    'an ARG after an ENV of the same name sets the build env (BuildKit adds ARGs to the state env)',
    'FROM scratch\nENV V=env\nARG V=arg\nENV X=$V',
    {},
    { X: 'arg' },
  ],
  [
    'ENV pairs are expanded with the values from before the instruction',
    'FROM scratch\nENV abc=hello\nENV abc=bye def=$abc\nENV X=$def Y=$abc',
    {},
    { X: 'hello', Y: 'bye' },
  ],
  [
    'an ARG default may use earlier variables',
    'FROM scratch\nARG A=1\nARG B=${A}2\nENV X=$B',
    {},
    { X: '12' },
  ],
  [
    'a global ARG default may use earlier global ARGs and predefined ones',
    'ARG A=x\nARG B=${A}-$TARGETARCH\nFROM scratch\nARG B\nENV X=$B',
    {},
    { X: 'x-amd64' },
  ],
  [
    'predefined platform ARGs need a declaration in the stage',
    'FROM scratch\nENV BEFORE=[$TARGETARCH]\nARG TARGETARCH TARGETOS TARGETPLATFORM BUILDPLATFORM\nENV X=$TARGETOS/$TARGETARCH Y=$TARGETPLATFORM Z=$BUILDPLATFORM',
    { platform: parsePlatform('linux/arm64') },
    { X: 'linux/arm64', Y: 'linux/arm64', Z: 'linux/amd64' },
  ],
  [
    'TARGETVARIANT for arm',
    'FROM scratch\nARG TARGETVARIANT TARGETARCH\nENV X=$TARGETARCH/$TARGETVARIANT',
    { platform: parsePlatform('linux/arm/v6') },
    { X: 'arm/v6' },
  ],
  [
    'TARGETSTAGE names the target',
    'FROM scratch AS one\nFROM scratch AS two\nARG TARGETSTAGE\nENV X=$TARGETSTAGE',
    {},
    { X: 'two' },
  ],
  [
    'TARGETSTAGE is "default" when the last stage has no name',
    'FROM scratch\nARG TARGETSTAGE\nENV X=$TARGETSTAGE',
    {},
    { X: 'default' },
  ],
  [
    'a --build-arg can replace a predefined ARG',
    'FROM scratch\nARG TARGETOS\nENV X=$TARGETOS',
    { buildArgs: { TARGETOS: 'plan9' } },
    { X: 'plan9' },
  ],
  [
    'a stage built on a stage inherits its ARG and ENV values',
    'FROM scratch AS base\nARG A=1\nENV E=2\nFROM base\nENV X=$A$E',
    {},
    { X: '12' },
  ],
  [
    "a stage built on scratch has BuildKit's default PATH",
    'FROM scratch\nENV X=$PATH',
    {},
    { X: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
  ],
  [
    'quotes in ENV values are removed by expansion',
    'FROM scratch\nENV X="a b" Y=\'$HOME\' Z=a\\ b',
    {},
    { X: 'a b', Y: '$HOME', Z: 'a b' },
  ],
  [
    'the backtick escape applies to expansion',
    '# escape=`\nFROM scratch\nENV X=`$HOME Y=C:\\dir',
    {},
    { X: '$HOME', Y: 'C:\\dir' },
  ],
  [
    'legacy ENV keeps spaces and expands',
    'FROM scratch\nENV A=1\nENV GREETING hello $A world',
    {},
    { GREETING: 'hello 1 world' },
  ],
];

describe('planBuild: ARG and ENV scoping', () => {
  for (const [name, text, options, expected] of scopeCases) {
    it(name, () => assert.deepEqual(lastEnv(plan(text, options)), expected));
  }

  it('records the environment each step sees and where each variable came from', () => {
    const graph = plan('FROM scratch\nARG A=1\nENV B=2\nRUN true');
    const run = lastStep(graph);
    assert.deepEqual(
      run.env.map((v) => [v.name, v.value, v.source]),
      [
        ['PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'default'],
        ['A', '1', 'arg'],
        ['B', '2', 'env'],
      ],
    );
    assert.deepEqual(run.buildArgs, [{ name: 'A', value: '1' }]);
  });

  it('lists variables an image base might define as unresolved, and resolves them given the image env', () => {
    const text = 'FROM alpine:3.19\nENV PATH=/app/bin:$PATH NAME=${APP:-none}';
    const unknown = plan(text);
    const step = lastStep(unknown);
    assert.deepEqual(step.unresolved, ['PATH', 'APP']);
    assert.deepEqual(lastEnv(unknown), { PATH: '/app/bin:', NAME: 'none' });
    const known = plan(text, {
      baseImageEnv: new Map([['docker.io/library/alpine:3.19', ['PATH=/usr/bin:/bin', 'APP=web']]]),
    });
    assert.deepEqual(lastStep(known).unresolved, []);
    assert.deepEqual(lastEnv(known), { PATH: '/app/bin:/usr/bin:/bin', NAME: 'web' });
  });

  it('puts proxy build args in proxyEnv without asking for a declaration', () => {
    const graph = plan('FROM scratch\nRUN true', {
      buildArgs: { HTTP_PROXY: 'http://p:3128', no_proxy: 'localhost' },
    });
    assert.deepEqual(graph.proxyEnv, [
      { name: 'HTTP_PROXY', value: 'http://p:3128' },
      { name: 'no_proxy', value: 'localhost' },
    ]);
    assert.deepEqual(graph.warnings, []);
    assert.deepEqual(envOf(lastStep(graph)).HTTP_PROXY, undefined);
  });

  it('warns about a --build-arg no ARG declares, with a suggestion', () => {
    const graph = plan('FROM scratch\nARG VERSION\nRUN true', {
      buildArgs: { VERSOIN: '1', SOURCE_DATE_EPOCH: '0' },
    });
    assert.deepEqual(
      graph.warnings.map((w) => [w.rule, w.message]),
      [
        [
          'UnusedBuildArg',
          'build-arg "VERSOIN" was not consumed: no ARG instruction declares it (did you mean VERSION?)',
        ],
      ],
    );
  });

  it('warns about an undeclared variable in FROM', () => {
    const graph = plan('FROM alpine:${TAG:-3.19}');
    assert.deepEqual(
      graph.warnings.map((w) => w.message),
      ["FROM argument 'TAG' is not declared"],
    );
  });
});

describe('planBuild: what gets expanded', () => {
  const vars = 'FROM scratch\nARG D=/data U=app P=8080 S=SIGTERM F=file.txt M=0644 C=/cache\n';

  it('expands COPY and ADD sources, destination, --chown and --chmod', () => {
    const graph = plan(`${vars}COPY --chown=$U:$U --chmod=$M $F \${F%.txt}.md $D/\nADD --chown=\${U} $F $D`);
    const [copy, add] = graph.stages[0]!.steps.slice(-2);
    assert.ok(copy?.kind === 'copy' && add?.kind === 'add');
    assert.deepEqual(
      [copy.sources, copy.dest, copy.chown, copy.chmod],
      [['file.txt', 'file.md'], '/data/', 'app:app', '0644'],
    );
    assert.deepEqual([add.sources, add.dest, add.chown], [['file.txt'], '/data', 'app']);
  });

  it('drops --chown and --chmod that expand to nothing', () => {
    const copy = lastStep(plan('FROM scratch\nARG OWNER\nCOPY --chown=$OWNER --chmod=$MODE a /b'));
    assert.ok(copy.kind === 'copy');
    assert.deepEqual([copy.chown, copy.chmod], [undefined, undefined]);
  });

  it('expands WORKDIR, USER, VOLUME, STOPSIGNAL, LABEL and EXPOSE (EXPOSE splits words)', () => {
    const graph = plan(
      `${vars}ARG PORTS="80 443/udp"\nWORKDIR $D\nUSER $U\nVOLUME $D "$C"\nSTOPSIGNAL $S\nLABEL $U.port=$P\nEXPOSE $P $PORTS 9000-9001`,
    );
    const steps = graph.stages[0]!.steps.slice(-6);
    assert.deepEqual(
      steps.map((s) => {
        switch (s.kind) {
          case 'workdir':
            return s.path;
          case 'user':
            return s.user;
          case 'volume':
            return s.volumes;
          case 'stopsignal':
            return s.signal;
          case 'label':
            return s.pairs;
          case 'expose':
            return s.ports;
          default:
            return s.kind;
        }
      }),
      [
        '/data',
        'app',
        ['/data', '/cache'],
        'SIGTERM',
        [{ name: 'app.port', value: '8080' }],
        ['8080/tcp', '80/tcp', '443/udp', '9000/tcp', '9001/tcp'],
      ],
    );
  });

  it('does not expand RUN, CMD, ENTRYPOINT, SHELL or HEALTHCHECK commands (the shell does)', () => {
    const graph = plan(
      `${vars}RUN echo $D\nCMD echo $D\nENTRYPOINT ["echo", "$D"]\nSHELL ["/bin/sh", "-c", "$D"]\nHEALTHCHECK CMD test -d $D`,
    );
    const steps = graph.stages[0]!.steps.slice(-5);
    assert.deepEqual(
      JSON.stringify(
        steps.map((s) =>
          'command' in s ? s.command : 'shell' in s ? s.shell : 'test' in s ? s.test : undefined,
        ),
      ).match(/\$D/g)?.length,
      5,
    );
  });

  it('expands RUN --mount values', () => {
    const graph = plan(
      `${vars}RUN --mount=type=cache,target=$C,id=\${U}-cache,uid=1000 --mount=type=secret,id=$U,env=TOKEN true`,
    );
    const run = lastStep(graph);
    assert.ok(run.kind === 'run');
    assert.deepEqual(run.mounts, [
      {
        type: 'cache',
        from: { kind: 'scratch' },
        source: '',
        target: '/cache',
        readOnly: false,
        id: 'app-cache',
        sharing: 'shared',
        required: false,
        uid: 1000,
      },
      {
        type: 'secret',
        from: { kind: 'context' },
        source: '',
        target: '',
        readOnly: true,
        id: 'app',
        required: false,
        env: 'TOKEN',
      },
    ]);
  });

  it('gives a cache mount the cleaned target as id by default', () => {
    const run = lastStep(plan('FROM scratch\nRUN --mount=type=cache,target=/root/.cache/ true'));
    assert.ok(run.kind === 'run');
    assert.equal(run.mounts[0]!.id, '/root/.cache');
  });

  it('expands heredoc sources of COPY unless the delimiter is quoted', () => {
    const graph = plan('FROM scratch\nARG NAME=world\nCOPY <<A <<"B" /\nhello $NAME "q"\nA\nhello $NAME\nB');
    const copy = lastStep(graph);
    assert.ok(copy.kind === 'copy');
    assert.deepEqual(copy.inline, [
      { name: 'A', content: 'hello world "q"\n' },
      { name: 'B', content: 'hello $NAME\n' },
    ]);
  });

  it('checks values that only expansion reveals', () => {
    assert.throws(
      () => plan('FROM scratch\nARG M=999\nCOPY --chmod=$M a b'),
      /invalid chmod parameter: '999'/,
    );
    assert.throws(
      () => plan('FROM scratch\nARG T=nope\nRUN --mount=type=$T,target=/x true'),
      /unsupported mount type "nope"/,
    );
    assert.throws(() => plan('FROM scratch\nARG S=SIGNOPE\nSTOPSIGNAL $S'), /invalid signal: SIGNOPE/);
    assert.throws(() => plan('FROM scratch\nEXPOSE 80/icmp'), /invalid proto: icmp/);
    assert.throws(() => plan('FROM scratch\nEXPOSE 70000'), /invalid containerPort: 70000/);
    assert.throws(
      () => plan('FROM scratch\nARG V\nVOLUME $V'),
      /VOLUME specified can not be an empty string/,
    );
    assert.throws(
      () => plan('FROM scratch\nADD --checksum=sha256:x a b /c'),
      /checksum can't be specified for multiple sources/,
    );
    assert.throws(
      () => plan('FROM scratch\nADD --checksum=sha256:x local.tgz /c'),
      /checksum requires HTTP\(S\) or Git sources/,
    );
  });
});

describe('planBuild: examples from the Dockerfile reference', () => {
  it('environment replacement in WORKDIR, ADD and COPY, and an escaped $', () => {
    const steps = plan('FROM busybox\nENV FOO=/bar\nWORKDIR ${FOO}\nADD . $FOO\nCOPY \\$FOO /quux').stages[0]!
      .steps;
    const [, workdir, add, copy] = steps;
    assert.ok(workdir?.kind === 'workdir' && add?.kind === 'add' && copy?.kind === 'copy');
    assert.deepEqual([workdir.path, add.dest, copy.sources, copy.dest], ['/bar', '/bar', ['$FOO'], '/quux']);
  });

  it('one global ARG feeds the FROM of several stages', () => {
    const graph = plan(
      'ARG CODE_VERSION=latest\nFROM base:${CODE_VERSION}\nCMD /code/run-app\nFROM extras:${CODE_VERSION}\nCMD /code/run-extras',
      {
        buildArgs: { CODE_VERSION: '2.1' },
      },
    );
    assert.deepEqual(
      graph.stages.map((s) => (s.base.kind === 'image' ? s.base.ref.familiar() : s.base.kind)),
      ['base:2.1', 'extras:2.1'],
    );
  });

  it('a global ARG used in FROM is re-declared to be used in the stage', () => {
    const graph = plan(
      'ARG VERSION=latest\nFROM busybox:$VERSION\nARG VERSION\nRUN echo $VERSION > image_version',
    );
    const run = lastStep(graph);
    assert.equal(envOf(run).VERSION, 'latest');
    assert.deepEqual(run.buildArgs, [{ name: 'VERSION', value: 'latest' }]);
  });

  it('an ARG is scoped to the stage that declares it', () => {
    const graph = plan(
      'FROM busybox\nARG SETTINGS\nRUN ./run/setup $SETTINGS\nFROM busybox\nRUN ./run/other $SETTINGS',
      { buildArgs: { SETTINGS: 'x' } },
    );
    assert.equal(envOf(graph.stages[0]!.steps[1]!).SETTINGS, 'x');
    assert.equal(envOf(graph.stages[1]!.steps[0]!).SETTINGS, undefined);
  });

  it('a multi-stage build copying from a stage by index and by name', () => {
    const graph = plan(
      'FROM golang:1.23 AS build\nWORKDIR /src\nRUN go build -o /bin/hello ./main.go\nFROM scratch\nCOPY --from=0 /bin/hello /bin/hello\nCOPY --from=build /bin/hello /bin/hello2\nCMD ["/bin/hello"]',
    );
    assert.deepEqual(graph.stages[1]!.dependsOn, [0]);
    assert.deepEqual(graph.order, [0, 1]);
  });
});

describe('planBuild: stages and edges', () => {
  const multi = [
    'FROM golang:1.22 AS build', // 0
    'RUN go build',
    'FROM alpine:3.19 AS Test', // 1
    'COPY --from=BUILD /out /app',
    'RUN --mount=from=build,source=/src,target=/src /app/test',
    'FROM build AS lint', // 2
    'RUN golangci-lint run',
    'FROM scratch', // 3
    'COPY --from=0 /out /app',
    'COPY --from=nginx:1.27 /etc/nginx/nginx.conf /etc/',
    'RUN --mount=type=cache,target=/c true',
  ].join('\n');

  it('resolves bases and --from by name (case-insensitively), by index, and as images', () => {
    const graph = plan(multi);
    assert.deepEqual(
      graph.stages.map((s) => [
        s.displayName,
        s.base.kind === 'image'
          ? s.base.ref.toString()
          : s.base.kind === 'stage'
            ? `stage ${s.base.stage}`
            : 'scratch',
        s.dependsOn,
      ]),
      [
        ['build', 'docker.io/library/golang:1.22', []],
        ['test', 'docker.io/library/alpine:3.19', [0]],
        ['lint', 'stage 0', [0]],
        ['stage-3', 'scratch', [0]],
      ],
    );
    assert.deepEqual(graph.stages[3]!.imageDependencies.map(String), ['docker.io/library/nginx:1.27']);
    const copy = graph.stages[3]!.steps[1]!;
    assert.ok(copy.kind === 'copy');
    assert.equal(copy.from.kind, 'image');
  });

  it('builds only what the target needs, dependencies first', () => {
    const all = plan(multi);
    assert.equal(all.target, 3);
    assert.deepEqual(all.order, [0, 3]);
    assert.deepEqual(
      all.stages.map((s) => s.needed),
      [true, false, false, true],
    );
    const test = plan(multi, { target: 'TEST' });
    assert.deepEqual([test.target, test.order], [1, [0, 1]]);
    const lint = plan(multi, { target: 'lint' });
    assert.deepEqual([lint.target, lint.order], [2, [0, 2]]);
  });

  it('gives skipped stages no steps when they cannot be expanded, but fails on needed ones', () => {
    const text = 'FROM scratch AS broken\nENV X="${NOPE:?must be set}"\nFROM scratch AS ok\nRUN true';
    const graph = plan(text);
    assert.deepEqual(
      graph.stages.map((s) => [s.needed, s.steps.length]),
      [
        [false, 0],
        [true, 1],
      ],
    );
    assert.throws(() => plan(text, { target: 'broken' }), /NOPE: must be set/);
  });

  it('treats FROM <name> of a later stage as an image, as BuildKit does', () => {
    const graph = plan('FROM later AS first\nFROM scratch AS later');
    assert.equal(graph.stages[0]!.base.kind, 'image');
  });

  it('takes the platform from FROM --platform (with global ARGs) or from the base stage', () => {
    const graph = plan(
      'FROM --platform=$BUILDPLATFORM scratch AS tools\nFROM tools AS derived\nFROM --platform=linux/arm/v7 scratch',
      { platform: parsePlatform('linux/arm64') },
    );
    assert.deepEqual(
      graph.stages.map((s) => [formatPlatform(s.platform), s.platformExplicit]),
      [
        ['linux/amd64', true],
        ['linux/amd64', false],
        ['linux/arm/v7', true],
      ],
    );
  });

  it("keeps the base stage's platform even over FROM --platform, as BuildKit does, and says so", () => {
    const graph = plan(
      'FROM --platform=linux/arm64 scratch AS base\nFROM --platform=linux/s390x base\nFROM --platform=$TARGETPLATFORM scratch AS other',
      {
        target: 'other',
      },
    );
    assert.equal(formatPlatform(graph.stages[1]!.platform), 'linux/arm64');
    assert.deepEqual(
      graph.warnings.map((w) => w.rule),
      ['FromPlatformFlagConstDisallowed', 'FromPlatformFlagConstDisallowed', 'RedundantTargetPlatform'],
    );
    assert.deepEqual(
      plan('FROM --platform=linux/arm64 scratch AS base\nFROM --platform=linux/s390x base')
        .warnings.filter((w) => w.rule === 'PlatformIgnored')
        .map((w) => w.message),
      ['FROM --platform has no effect on a stage built on stage "base", which sets the platform'],
    );
  });

  it('runs the ONBUILD triggers of a base stage first in the stage built on it', () => {
    const graph = plan(
      'FROM scratch AS kit\nONBUILD COPY --from=src /x /x\nONBUILD RUN make\nFROM scratch AS src\nFROM kit\nRUN after',
    );
    const steps = graph.stages[2]!.steps;
    assert.deepEqual(
      steps.map((s) => [s.kind, s.onbuild]),
      [
        ['copy', true],
        ['run', true],
        ['run', false],
      ],
    );
    assert.deepEqual(graph.stages[2]!.dependsOn, [0, 1]);
  });

  it('expands FROM with global ARGs and --build-arg', () => {
    const text = 'ARG REGISTRY=ghcr.io/acme\nARG TAG\nFROM ${REGISTRY}/app:${TAG:-latest}';
    const base = plan(text).stages[0]!.base;
    assert.ok(base.kind === 'image');
    assert.equal(base.ref.toString(), 'ghcr.io/acme/app:latest');
    assert.equal(base.text, 'ghcr.io/acme/app:latest');
    const graph = plan(text, { buildArgs: { TAG: 'v2' } });
    assert.ok(graph.stages[0]!.base.kind === 'image');
    assert.equal(graph.stages[0]!.base.ref.toString(), 'ghcr.io/acme/app:v2');
  });
});

describe('planBuild: the check directive', () => {
  it('fails on a remaining lint warning with error=true, naming the rules', () => {
    assert.throws(
      () => plan('# check=error=true\nFROM scratch AS Build\nCMD run'),
      (error: unknown) =>
        error instanceof DockerfileError &&
        formatDockerfileError(error) ===
          "Dockerfile:2:1: lint violation found for rules: StageNameCasing, JSONArgsRecommended (first: Stage name 'Build' should be lowercase; fix it, or skip the rule with # check=skip=StageNameCasing)",
    );
  });

  it('passes once the rules are skipped; unused build args never fail it', () => {
    const graph = plan(
      '# check=error=true;skip=StageNameCasing,JSONArgsRecommended\nFROM scratch AS Build\nCMD run',
      { buildArgs: { NOPE: '1' } },
    );
    assert.deepEqual(
      graph.warnings.map((w) => w.rule),
      ['UnusedBuildArg'],
    );
  });
});

/** [what is wrong, Dockerfile, options, exact error line] */
const errorCases: readonly [string, string, PlanOptions, string][] = [
  [
    'an unknown target',
    'FROM scratch AS build\nFROM scratch AS final',
    { target: 'biuld' },
    'target stage "biuld" could not be found (did you mean build?)',
  ],
  [
    'a target in a Dockerfile without names',
    'FROM scratch',
    { target: 'x' },
    'target stage "x" could not be found (no stage has a name (FROM … AS <name>))',
  ],
  [
    'a stage copying from itself',
    'FROM scratch AS a\nCOPY --from=a /x /y',
    {},
    'Dockerfile:2:1: circular dependency detected on stage: a (stage "a" refers to itself; copy from an earlier stage instead)',
  ],
  [
    'a stage copying from itself by index',
    'FROM scratch\nCOPY --from=0 /x /y',
    {},
    'Dockerfile:2:1: circular dependency detected on stage: stage-0 (stage "stage-0" refers to itself; copy from an earlier stage instead)',
  ],
  [
    'a cycle between stages',
    'FROM scratch AS a\nCOPY --from=b /x /y\nFROM scratch AS b\nCOPY --from=a /x /y',
    {},
    'Dockerfile:4:1: circular dependency detected on stage: a (the stages form a cycle: a -> b -> a)',
  ],
  [
    'a reference to a later stage',
    'FROM scratch AS a\nCOPY --from=b /x /y\nFROM scratch AS b',
    { target: 'a' },
    'Dockerfile:2:1: cannot copy from stage "b", it needs to be defined before current stage "a" (move the stage it refers to above this one)',
  ],
  [
    'a mount from a later stage',
    'FROM scratch AS a\nRUN --mount=from=b,target=/b true\nFROM scratch AS b',
    { target: 'a' },
    'Dockerfile:2:1: cannot mount from stage "b", it needs to be defined before current stage "a" (move the stage it refers to above this one)',
  ],
  [
    'a stage index out of range',
    'FROM scratch\nFROM scratch\nCOPY --from=5 /x /y',
    {},
    'Dockerfile:3:1: invalid stage index 5 (this Dockerfile has 2 stages, numbered from 0)',
  ],
  [
    'a misspelled stage in --from',
    'FROM scratch AS builder\nFROM scratch\nCOPY --from=Buidler /x /y',
    {},
    'Dockerfile:3:1: "Buidler" is neither a build stage nor a valid image reference: invalid reference "Buidler": repository name (library/Buidler) must be lowercase (did you mean builder?)',
  ],
  [
    'an invalid base image',
    'FROM scratch AS builder\nFROM Builder:',
    {},
    'Dockerfile:2:1: invalid base image: invalid reference "Builder:": repository name (library/Builder) must be lowercase (did you mean builder?)',
  ],
  [
    'a base that expands to nothing',
    'ARG BASE\nFROM $BASE',
    {},
    'Dockerfile:2:1: base name ($BASE) should not be blank (check that the ARGs it uses are declared before the first FROM and have values)',
  ],
  [
    'a bad FROM --platform',
    'FROM --platform=linux/amd64/v1/x scratch',
    {},
    'Dockerfile:1:1: failed to parse platform linux/amd64/v1/x: invalid platform "linux/amd64/v1/x" (expected os/arch[/variant], e.g. linux/amd64 or linux/arm/v7)',
  ],
  [
    'an expansion error in a needed stage',
    'FROM scratch\nARG V\nENV X="${V:?is required}"',
    {},
    'Dockerfile:3:1: failed to process "\\"${V:?is required}\\"": V: is required',
  ],
  [
    'an expansion error in FROM',
    'FROM alpine:${TAG',
    {},
    `Dockerfile:1:1: failed to process "alpine:\${TAG": syntax error: missing '}'`,
  ],
];

describe('planBuild: errors are pinned and located', () => {
  for (const [name, text, options, expected] of errorCases) {
    it(name, () => {
      assert.throws(
        () => plan(text, options),
        (error: unknown) => {
          assert.ok(error instanceof DockerfileError, `not a DockerfileError: ${String(error)}`);
          assert.equal(formatDockerfileError(error), expected);
          return true;
        },
      );
    });
  }
});
