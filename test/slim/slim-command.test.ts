/**
 * `strata slim` end to end: a single-stage Dockerfile per supported kind, written here, slimmed,
 * and verified by building and running both images (real builds with runc, real runs). The
 * bases are the examples' bootstrapped ones ($STRATA_EXAMPLES_ROOT, default
 * /var/lib/strata-test/examples; test/examples/examples.test.ts makes them when missing).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runStrata, tempDir } from '../support/cli.ts';

const ROOT = process.env.STRATA_EXAMPLES_ROOT ?? '/var/lib/strata-test/examples';
const work = tempDir('strata-slim-');
after(() => work.cleanup());

function project(name: string, files: Record<string, string>): string {
  const dir = join(work.path, name);
  for (const [file, text] of Object.entries(files)) {
    const path = join(dir, file);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
  }
  return dir;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function slim(dir: string, args: readonly string[]) {
  return runStrata(['slim', '--progress', 'plain', ...args, dir], { root: ROOT, timeoutMs: 240_000 });
}

describe('strata slim: single-stage → multi-stage, verified by running both', { concurrency: 3 }, () => {
  it('C built with gcc: a dynamic binary goes onto debian:bookworm-slim, stripped, and keeps running', async () => {
    const dir = project('c', {
      'hello.c':
        '#include <unistd.h>\n#include <stdio.h>\nint main(void){puts("up");fflush(stdout);for(;;)pause();}\n',
      Dockerfile:
        'FROM buildpack-deps:bookworm\nWORKDIR /src\nCOPY hello.c .\nRUN gcc -g -O2 -o /usr/local/bin/hello hello.c\nLABEL org.example.kind=c\nCMD ["hello"]\n',
    });
    const r = await slim(dir, ['--verify', '--alive', '2']);
    assert.equal(r.code, 0, r.stderr);
    const out = readFileSync(join(dir, 'Dockerfile.slim'), 'utf8');
    assert.match(out, /^FROM buildpack-deps:bookworm AS build$/m);
    assert.match(out, /^FROM debian:bookworm-slim$/m);
    assert.match(out, /^RUN strip --strip-unneeded \/usr\/local\/bin\/hello$/m);
    assert.match(out, /^COPY --from=build \/usr\/local\/bin\/hello \/usr\/local\/bin\/hello$/m);
    assert.match(out, /^LABEL org\.example\.kind=c$/m);
    assert.match(out, /^CMD \["hello"\]$/m);
    assert.doesNotMatch(out, /^COPY --from=build \/src/m, 'the source stays in the builder');
    assert.match(r.stdout, /check\s+ok \(running after 2 s\)\s+ok \(running after 2 s\)/);
  });

  it('Go with cgo only in net: built static with CGO_ENABLED=0 and shipped FROM scratch as nobody', async () => {
    const port = await freePort();
    const dir = project('go', {
      'main.go':
        'package main\nimport ("net/http";"os")\nfunc main(){http.HandleFunc("/ping",func(w http.ResponseWriter,_ *http.Request){w.Write([]byte("pong"))});http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"),nil)}\n',
      Dockerfile:
        'FROM golang:1.19-bookworm\nWORKDIR /src\nCOPY main.go .\nRUN go build -o /usr/local/bin/srv main.go\nEXPOSE 8080\nCMD ["srv"]\n',
    });
    const r = await slim(dir, ['--verify', '-e', `PORT=${port}`, '--http', `${port}/ping`]);
    assert.equal(r.code, 0, r.stderr);
    const out = readFileSync(join(dir, 'Dockerfile.slim'), 'utf8');
    assert.match(out, /^ENV CGO_ENABLED=0\nRUN --mount[^\n]* go build/m);
    assert.match(out, /^FROM scratch$/m);
    assert.match(out, /^COPY --from=build \/etc\/ssl\/certs\/ca-certificates\.crt /m);
    assert.match(out, /^USER 65534:65534$/m);
    assert.match(
      out,
      /^RUN --mount=type=cache,target=\/root\/\.cache\/go-build --mount=type=cache,target=\/go\/pkg\/mod go build/m,
    );
    assert.match(r.stdout, /check\s+ok \(HTTP 200\)\s+ok \(HTTP 200\)/);
  });

  it('Go with its own cgo code: stays dynamic and goes onto debian:bookworm-slim', async () => {
    const dir = project('go-cgo', {
      'main.go':
        'package main\n\n// #include <stdlib.h>\nimport "C"\nimport ("fmt";"time")\nfunc main(){fmt.Println(C.abs(-3));for{time.Sleep(time.Hour)}}\n',
      Dockerfile:
        'FROM golang:1.19-bookworm\nWORKDIR /src\nCOPY main.go .\nRUN go build -o /usr/local/bin/cg main.go\nCMD ["cg"]\n',
    });
    const r = await slim(dir, ['--verify', '--alive', '2']);
    assert.equal(r.code, 0, r.stderr);
    const out = readFileSync(join(dir, 'Dockerfile.slim'), 'utf8');
    assert.match(out, /^FROM debian:bookworm-slim$/m);
    assert.doesNotMatch(out, /CGO_ENABLED/);
    assert.match(out, /^COPY --from=build \/usr\/local\/bin\/cg \/usr\/local\/bin\/cg$/m);
    assert.match(r.stdout, /check\s+ok \(running after 2 s\)\s+ok \(running after 2 s\)/);
  });

  it('Python: the app onto the -slim variant of the same python image, answering HTTP', async () => {
    const port = await freePort();
    const dir = project('python', {
      'app.py':
        'import http.server, os\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response(200); self.end_headers(); self.wfile.write(b"pong")\nhttp.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()\n',
      Dockerfile:
        'FROM python:3.11-bookworm\nWORKDIR /app\nCOPY app.py .\nENV PYTHONUNBUFFERED=1\nCMD ["python3", "app.py"]\n',
    });
    const r = await slim(dir, ['--verify', '-e', `PORT=${port}`, '--http', `${port}/`]);
    assert.equal(r.code, 0, r.stderr);
    const out = readFileSync(join(dir, 'Dockerfile.slim'), 'utf8');
    assert.match(out, /^FROM python:3\.11-slim-bookworm$/m);
    assert.match(out, /^COPY --from=build \/app \/app$/m);
    assert.match(out, /^ENV PYTHONUNBUFFERED=1$/m);
    assert.match(r.stdout, /check\s+ok \(HTTP 200\)\s+ok \(HTTP 200\)/);
  });

  it('Node without a build step: the app onto node:18-bookworm-slim, answering HTTP', async () => {
    const port = await freePort();
    const dir = project('node', {
      'package.json': '{"name":"n","version":"1.0.0","private":true}\n',
      'server.js':
        'require("http").createServer((q,s)=>s.end("pong")).listen(Number(process.env.PORT),"127.0.0.1");\n',
      Dockerfile:
        'FROM node:18-bookworm\nWORKDIR /app\nCOPY package.json server.js ./\nUSER node\nCMD ["node", "server.js"]\n',
    });
    const r = await slim(dir, [
      '--verify',
      '-e',
      `PORT=${port}`,
      '--http',
      `${port}/`,
      '-o',
      join(dir, 'out.Dockerfile'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = readFileSync(join(dir, 'out.Dockerfile'), 'utf8');
    assert.match(out, /^FROM node:18-bookworm-slim$/m);
    assert.match(out, /^USER node$/m);
    assert.match(r.stdout, /check\s+ok \(HTTP 200\)\s+ok \(HTTP 200\)/);
  });

  it('Python with a compiled extension in a venv: the venv and the app onto the -slim image, gcc left behind', async () => {
    const port = await freePort();
    const dir = project('python-ext', {
      'fastping.c':
        '#include <Python.h>\nstatic PyObject *pong(PyObject *s, PyObject *a) { return PyUnicode_FromString("pong"); }\nstatic PyMethodDef M[] = {{"pong", pong, METH_NOARGS, ""}, {0}};\nstatic struct PyModuleDef D = {PyModuleDef_HEAD_INIT, "fastping", 0, -1, M};\nPyMODINIT_FUNC PyInit_fastping(void) { return PyModule_Create(&D); }\n',
      'setup.py':
        'from setuptools import setup, Extension\nsetup(name="fastping", version="1.0", ext_modules=[Extension("fastping", ["fastping.c"])])\n',
      'app.py':
        'import http.server, os, fastping\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response(200); self.end_headers(); self.wfile.write(fastping.pong().encode())\nhttp.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()\n',
      Dockerfile:
        'FROM python:3.11-bookworm\nWORKDIR /app\nCOPY . .\nRUN python3 -m venv --system-site-packages /opt/venv && /opt/venv/bin/pip install --no-build-isolation --no-index .\nENV PATH=/opt/venv/bin:$PATH\nCMD ["python", "app.py"]\n',
    });
    const r = await slim(dir, ['--verify', '-e', `PORT=${port}`, '--http', `${port}/`]);
    assert.equal(r.code, 0, r.stderr);
    const out = readFileSync(join(dir, 'Dockerfile.slim'), 'utf8');
    assert.match(out, /^FROM python:3\.11-slim-bookworm$/m);
    assert.match(out, /^COPY --from=build \/opt\/venv \/opt\/venv$/m);
    assert.match(out, /^COPY --from=build \/app \/app$/m);
    assert.match(out, /^ENV PATH=\/opt\/venv\/bin:\$PATH$/m);
    assert.match(r.stdout, /check\s+ok \(HTTP 200\)\s+ok \(HTTP 200\)/);
  });

  it('Node with a build step and devDependencies: pruned with npm in the builder, onto the -slim image', async () => {
    const port = await freePort();
    const dir = project('node-build', {
      'package.json': JSON.stringify({
        name: 'app',
        version: '1.0.0',
        private: true,
        scripts: { build: 'node build-tool/build.js' },
        devDependencies: { 'build-tool': 'file:./build-tool' },
      }),
      'build-tool/package.json': '{"name":"build-tool","version":"1.0.0"}\n',
      'build-tool/build.js':
        'require("fs").mkdirSync("dist",{recursive:true});require("fs").writeFileSync("dist/server.js","require(\\"http\\").createServer((q,s)=>s.end(\\"pong\\")).listen(Number(process.env.PORT),\\"127.0.0.1\\");\\n");\n',
      Dockerfile:
        'FROM node:18-bookworm\nWORKDIR /app\nCOPY . .\nRUN npm install --offline --no-audit --no-fund && npm run build\nEXPOSE 3000\nCMD ["node", "dist/server.js"]\n',
    });
    const r = await slim(dir, ['--verify', '-e', `PORT=${port}`, '--http', `${port}/`]);
    assert.equal(r.code, 0, r.stderr);
    const out = readFileSync(join(dir, 'Dockerfile.slim'), 'utf8');
    // The prune step mounts the npm cache the rewrite gave the install.
    assert.match(out, /^RUN --mount=type=cache,target=\/root\/\.npm cd \/app && npm prune --omit=dev/m);
    assert.match(out, /^FROM node:18-bookworm-slim$/m);
    assert.match(out, /^CMD \["node", "dist\/server\.js"\]$/m);
    assert.match(r.stdout, /check\s+ok \(HTTP 200\)\s+ok \(HTTP 200\)/);
  });

  it('keeps a small file a step wrote outside the application, and refuses to guess about 25 MB of them', async () => {
    const dir = project('c-conf', {
      'hello.c': '#include <unistd.h>\nint main(void){for(;;)pause();}\n',
      Dockerfile:
        'FROM buildpack-deps:bookworm\nCOPY hello.c /tmp/hello.c\nRUN gcc -o /usr/local/bin/hello /tmp/hello.c && mkdir -p /etc/hello && echo debug=1 > /etc/hello/hello.conf\nCMD ["hello"]\n',
    });
    const r = await slim(dir, []);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      readFileSync(join(dir, 'Dockerfile.slim'), 'utf8'),
      /^COPY --from=build \/etc\/hello\/hello\.conf \/etc\/hello\/hello\.conf$/m,
    );
    const big = project('c-blob', {
      'hello.c': '#include <unistd.h>\nint main(void){for(;;)pause();}\n',
      Dockerfile:
        'FROM buildpack-deps:bookworm\nCOPY hello.c /tmp/hello.c\nRUN gcc -o /usr/local/bin/hello /tmp/hello.c && mkdir -p /opt/data && head -c 25000000 /dev/zero > /opt/data/blob\nCMD ["hello"]\n',
    });
    const refused = await slim(big, []);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(
      refused.stderr,
      /steps wrote 1 file\(s\), 25\.0 MB, outside the application.*\/opt\/data\/blob/,
    );
    assert.equal(existsSync(join(big, 'Dockerfile.slim')), false);
    // --force writes it, marked unverified, the unexplained file named in the header.
    const forced = await slim(big, ['--force']);
    assert.equal(forced.code, 0, forced.stderr);
    const text = readFileSync(join(big, 'Dockerfile.slim'), 'utf8');
    assert.match(text, /UNVERIFIED/);
    assert.match(text, /^# - steps wrote 1 file\(s\), 25\.0 MB[^\n]*(\n# {3}[^\n]*)*\/opt\/data\/blob/m);
  });

  it('refuses a CMD that is a shell script, writes nothing, and --force writes it marked unverified', async () => {
    const dir = project('script', {
      'start.sh': '#!/bin/sh\nexec sleep 1000\n',
      Dockerfile:
        'FROM debian:bookworm-slim\nCOPY start.sh /start.sh\nRUN chmod +x /start.sh\nCMD ["/start.sh"]\n',
    });
    const r = await slim(dir, []);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot prove a slim rewrite/);
    assert.match(r.stderr, /\/start\.sh, a script for \/bin\/sh/);
    assert.equal(existsSync(join(dir, 'Dockerfile.slim')), false);
    const forced = await slim(dir, ['--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(readFileSync(join(dir, 'Dockerfile.slim'), 'utf8'), /UNVERIFIED/);
  });

  it('refuses a Dockerfile that is multi-stage already, before building', async () => {
    const dir = project('multi', { Dockerfile: 'FROM debian:bookworm-slim AS a\nFROM a\nCMD ["true"]\n' });
    const r = await slim(dir, []);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /has 2 stages: strata slim rewrites a single-stage Dockerfile/);
  });
});

describe('strata slim: options that need --verify are refused without it, never ignored', () => {
  const cases: Array<[readonly string[], RegExp]> = [
    [['--alive', '3'], /--alive needs --verify/],
    [['-e', 'A=1'], /--env needs --verify/],
    [['--http', '8080'], /--http needs --verify/],
    [['--check', 'true'], /--check needs --verify/],
    [['--verify', '--timeout', '3'], /--timeout applies to --http only/],
    [['--verify', '--check', 'true', '--http', '80'], /--check and --http are two ways to verify: give one/],
    [['--verify', '--http', '99999'], /invalid --http "99999"/],
  ];
  for (const [args, message] of cases) {
    it(`${args.join(' ')} → ${message.source}`, async () => {
      const r = await runStrata(['slim', ...args, work.path], { root: ROOT });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, message);
    });
  }
});
