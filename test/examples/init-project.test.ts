import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseDockerfile } from '../../src/dockerfile/index.ts';
import { initProject } from '../../src/init/index.ts';
import { planBuild } from '../../src/plan/index.ts';
import { runStrata, tempDir } from '../support/cli.ts';

function project(root: string, files: Record<string, string>): string {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  return root;
}

/** Plans the written Dockerfile with strata's own parser and planner: it must be buildable. */
function plan(dir: string) {
  const text = readFileSync(join(dir, 'Dockerfile'), 'utf8');
  return planBuild(parseDockerfile(text, { file: 'Dockerfile' }), {});
}

describe('strata init', () => {
  const work = tempDir('strata-init-');
  after(() => work.cleanup());

  it('go: module, Go version and the main package under cmd/ from the sources; final stage FROM scratch', async () => {
    const dir = project(join(work.path, 'go'), {
      'go.mod': 'module example.com/acme/billing\n\ngo 1.21\n\nrequire github.com/gin-gonic/gin v1.9.1\n',
      'go.sum': '',
      'cmd/billing-api/main.go': 'package main\n\nfunc main() { r := gin.Default(); r.Run(":9090") }\n',
      'internal/store/store.go': 'package store\n',
      'cmd/billing-api/main_test.go': 'package main\n',
    });
    const result = await initProject({ kind: 'go', dir });
    const text = readFileSync(join(dir, 'Dockerfile'), 'utf8');
    assert.match(text, /^ARG GO_VERSION=1\.21$/m);
    assert.match(text, /^COPY go\.mod go\.sum \.\/$/m);
    assert.match(text, /^RUN go build .* -o \/out\/billing-api \.\/cmd\/billing-api$/m);
    assert.match(text, /^FROM scratch$/m);
    assert.match(text, /^COPY --from=build \/out\/billing-api \/billing-api$/m);
    assert.match(text, /^EXPOSE 9090$/m);
    assert.match(text, /^ENTRYPOINT \["\/billing-api"\]$/m);
    assert.ok(
      result.detected.includes('module example.com/acme/billing (go.mod)'),
      result.detected.join('; '),
    );
    assert.ok(result.detected.some((d) => d.startsWith('main package ./cmd/billing-api')));
    const graph = plan(dir);
    assert.equal(graph.stages.length, 2);
    assert.match(readFileSync(join(dir, '.dockerignore'), 'utf8'), /^\.git$/m);
  });

  it('go: says what it assumed when go.mod has no go directive and nothing declares a port', async () => {
    const dir = project(join(work.path, 'go-bare'), {
      'go.mod': 'module tool\n',
      'main.go': 'package main\n\nimport "C"\n\nfunc main() {}\n',
    });
    const result = await initProject({ kind: 'go', dir });
    assert.ok(
      result.assumed.some((a) => a.startsWith('Go ')),
      result.assumed.join('; '),
    );
    assert.ok(result.assumed.includes('listens on port 8080'));
    assert.ok(
      result.warnings.some((w) => w.includes('CGO_ENABLED=0')),
      'cgo is flagged',
    );
    assert.match(readFileSync(join(dir, 'Dockerfile'), 'utf8'), /^COPY go\.mod \.\/$/m);
  });

  it('python: requirements.txt and the Flask app object; packages copied into the slim image', async () => {
    const dir = project(join(work.path, 'py'), {
      'requirements.txt': 'Flask==2.2.2\ngunicorn==20.1.0\n',
      'service/web.py': 'from flask import Flask\napi = Flask(__name__)\n',
      '.python-version': '3.12.1\n',
    });
    const result = await initProject({ kind: 'python', dir });
    const text = readFileSync(join(dir, 'Dockerfile'), 'utf8');
    assert.match(text, /^ARG PYTHON_VERSION=3\.12$/m);
    assert.match(text, /^FROM python:\$\{PYTHON_VERSION\}-slim-bookworm$/m);
    assert.match(text, /^COPY --from=build \/install \/$/m);
    assert.match(text, /"service\.web:api"\]$/m);
    assert.deepEqual(result.warnings, []);
    assert.ok(result.detected.includes('WSGI application service.web:api (service/web.py)'));
    assert.equal(plan(dir).stages.length, 2);
  });

  it('python: pyproject with a FastAPI app runs uvicorn workers and warns about missing servers', async () => {
    const dir = project(join(work.path, 'py-asgi'), {
      'pyproject.toml': '[project]\nname = "x"\nrequires-python = ">=3.10"\ndependencies = ["fastapi"]\n',
      'main.py': 'from fastapi import FastAPI\napp = FastAPI()\n',
    });
    const result = await initProject({ kind: 'python', dir });
    const text = readFileSync(join(dir, 'Dockerfile'), 'utf8');
    assert.match(text, /uvicorn\.workers\.UvicornWorker", "main:app"\]/);
    assert.match(text, /pip install --no-cache-dir --prefix=\/install\/usr\/local \.$/m);
    assert.equal(result.warnings.length, 2, result.warnings.join('; '));
  });

  it('node: engines, lockfile, build and start scripts; prunes dev deps; non-root user', async () => {
    const dir = project(join(work.path, 'node'), {
      'package.json': JSON.stringify({
        name: 'svc',
        engines: { node: '>=20.10' },
        scripts: { build: 'tsc', start: 'node dist/index.js' },
      }),
      'package-lock.json': '{}',
      'src/index.ts': 'app.listen(process.env.PORT ?? 4000)\n',
    });
    const result = await initProject({ kind: 'node', dir });
    const text = readFileSync(join(dir, 'Dockerfile'), 'utf8');
    assert.match(text, /^ARG NODE_VERSION=20$/m);
    assert.match(text, /^COPY package\.json package-lock\.json \.\/$/m);
    assert.match(text, /^ {4}npm ci$/m);
    assert.match(text, /^RUN npm run build && npm prune --omit=dev$/m);
    assert.match(text, /^USER node$/m);
    assert.match(text, /^CMD \["node","dist\/index\.js"\]$/m);
    assert.match(text, /--mount=type=secret,id=extra-ca,required=false/);
    assert.ok(result.detected.includes('listens on port 4000'), result.detected.join('; '));
    assert.equal(plan(dir).stages.length, 2);
  });

  it('node: yarn without a build script copies the app as is', async () => {
    const dir = project(join(work.path, 'node-yarn'), {
      'package.json': JSON.stringify({ name: 'y', main: 'server.js' }),
      'yarn.lock': '',
    });
    const result = await initProject({ kind: 'node', dir });
    const text = readFileSync(join(dir, 'Dockerfile'), 'utf8');
    assert.match(text, /yarn install --frozen-lockfile$/m);
    assert.match(text, /^COPY --from=build \/app \.\/$/m);
    assert.ok(result.assumed.includes('Node 20'));
    assert.ok(result.assumed.includes('no build step (package.json has no "build" script)'));
  });

  it('node: the final stage copies each file once, with and without a build script (strata lint agrees)', async () => {
    for (const [name, scripts] of [
      ['node-once-plain', {}],
      ['node-once-build', { build: 'tsc' }],
    ] as const) {
      const dir = project(join(work.path, name), {
        'package.json': JSON.stringify({ name, scripts }),
        'package-lock.json': '{}',
      });
      const init = await runStrata(['init', 'node', dir]);
      assert.equal(init.code, 0, init.stderr);
      const text = readFileSync(join(dir, 'Dockerfile'), 'utf8');
      const finalStage = text.slice(text.lastIndexOf('\nFROM '));
      const copied = [...finalStage.matchAll(/^COPY --from=build (\S+)/gm)].map((m) => m[1]!);
      // No copied path lies inside another one that is copied too.
      for (const a of copied)
        for (const b of copied)
          assert.ok(a === b || !a.startsWith(`${b}/`), `${a} is copied twice (also by ${b}): ${finalStage}`);
      const lint = await runStrata([
        'lint',
        '--format',
        'json',
        '--fail-on',
        'none',
        join(dir, 'Dockerfile'),
      ]);
      assert.equal(lint.code, 0, lint.stderr);
      const ids = (JSON.parse(lint.stdout) as { findings: { ruleId: string }[] }).findings.map(
        (f) => f.ruleId,
      );
      assert.ok(!ids.includes('copy-overwrites-copy'), ids.join(', '));
    }
  });

  it('refuses to overwrite a Dockerfile without --force, and keeps an existing .dockerignore', async () => {
    const dir = project(join(work.path, 'existing'), {
      'package.json': '{}',
      Dockerfile: 'FROM mine\n',
      '.dockerignore': 'secret.txt\n',
    });
    await assert.rejects(initProject({ kind: 'node', dir }), { code: 'INIT_EXISTS' });
    assert.equal(readFileSync(join(dir, 'Dockerfile'), 'utf8'), 'FROM mine\n');
    const cli = await runStrata(['init', 'node', dir, '-f', 'Dockerfile.multi']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^wrote .*Dockerfile\.multi$/m);
    assert.match(cli.stdout, /^kept {2}.*\.dockerignore$/m);
    assert.match(cli.stdout, /^assumed \(check these\):$/m);
    assert.match(cli.stdout, /^build it with: strata build -f .*Dockerfile\.multi -t existing /m);
    assert.equal(readFileSync(join(dir, '.dockerignore'), 'utf8'), 'secret.txt\n');
    const forced = await runStrata(['init', 'node', dir, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(readFileSync(join(dir, 'Dockerfile'), 'utf8'), 'FROM mine\n');
  });

  it('rejects an unknown kind and a missing package.json with exit code 1', async () => {
    const bad = await runStrata(['init', 'rust', work.path]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unknown project kind "rust"/);
    const dir = project(join(work.path, 'empty'), { README: '' });
    const missing = await runStrata(['init', 'node', dir]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no package\.json/);
  });
});
