/**
 * `strata slim` on single-stage projects in the shapes people write them (test/fixtures/slim/):
 * Node with yarn and pnpm, with and without a TypeScript build; Rust with Debian's cargo; C with
 * gcc, a Makefile and libcurl; Python started with `python -m` and by a console script; Go with a
 * shell-form CMD; ARGs in FROM with WORKDIR, USER, HEALTHCHECK and ENTRYPOINT + CMD. Each is
 * slimmed and verified (both images built and run with the same check), and the slim image must
 * be smaller. Real builds: apt-get and the npm registry are reached from RUN steps (the host's CA
 * bundle goes in as the `extra-ca` secret, docs/extra-ca-certificates.md); the step cache makes a
 * second run quick.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO, runStrata, tempDir } from '../support/cli.ts';

const ROOT = process.env.STRATA_EXAMPLES_ROOT ?? '/var/lib/strata-test/examples';
const FIXTURES = join(REPO, 'test', 'fixtures', 'slim');
const HOST_CA = '/etc/ssl/certs/ca-certificates.crt';
const work = tempDir('strata-slim-kinds-');
after(() => work.cleanup());

/** A copy of a fixture project (the rewrite is written beside its Dockerfile), with edits. */
function project(name: string, edit: (dockerfile: string) => string = (d) => d): string {
  const dir = join(work.path, name);
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  const file = join(dir, 'Dockerfile');
  writeFileSync(file, edit(readFileSync(file, 'utf8')));
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
  const secret = existsSync(HOST_CA) ? ['--secret', `id=extra-ca,src=${HOST_CA}`] : [];
  return runStrata(['slim', '--progress', 'plain', ...secret, ...args, dir], {
    root: ROOT,
    timeoutMs: 900_000,
  });
}

/** Asserts the verify table says both images passed and the slim one is smaller. */
function assertVerified(stdout: string, check: RegExp): void {
  const row = (name: string) =>
    new RegExp(`^${name}\\s+(.+?)\\s{2,}(.+?)\\s{2,}([0-9.]+)x$`, 'm').exec(stdout);
  const size = row('size');
  assert.ok(size, `no size row in:\n${stdout}`);
  assert.ok(Number(size[3]) > 1, `the slim image is not smaller: ${size[0]}`);
  const c = /^check\s+(.+?)\s{2,}(.+?)\s*$/m.exec(stdout);
  assert.ok(c, `no check row in:\n${stdout}`);
  assert.match(c[1]!, check);
  assert.match(c[2]!, check);
}

function written(dir: string): string {
  return readFileSync(join(dir, 'Dockerfile.slim'), 'utf8');
}

/** The final stage: the text from the last FROM on. */
function finalStage(text: string): string {
  return text.slice(text.lastIndexOf('\nFROM ') + 1);
}

describe('strata slim: kinds in the shapes people write them', { concurrency: 2 }, () => {
  it("Rust with Debian's cargo: the binary from target/release onto debian:bookworm-slim, cargo's caches where this image keeps them", async () => {
    const port = await freePort();
    const dir = project('rust-cargo');
    const r = await slim(dir, ['--verify', '-e', `PORT=${port}`, '--http', `${port}/`]);
    assert.equal(r.code, 0, r.stderr);
    const out = written(dir);
    const final = finalStage(out);
    assert.match(final, /^FROM debian:bookworm-slim$/m);
    assert.match(
      final,
      /^COPY --from=build \/usr\/src\/hello-server\/target\/release\/hello-server \/usr\/src\/hello-server\/target\/release\/hello-server$/m,
    );
    assert.match(final, /^WORKDIR \/usr\/src\/hello-server$/m);
    assert.match(final, /^CMD \["\.\/target\/release\/hello-server"\]$/m);
    assert.doesNotMatch(
      final,
      /apt-get install/,
      'the binary needs only libc and libgcc_s, both in the base',
    );
    // Debian's cargo keeps crates under $HOME/.cargo, not the rust image's /usr/local/cargo; and
    // target/ is where the final stage copies from, so it gets no cache mount.
    assert.match(
      out,
      /^RUN --mount=type=cache,target=\/root\/\.cargo\/registry cargo build --release --offline$/m,
    );
    assert.doesNotMatch(out, /\/app\/target|\/usr\/local\/cargo/);
    assertVerified(r.stdout, /^ok \(HTTP 200\)$/);
  });

  it('C with gcc, a Makefile and libcurl: the runtime library package (libcurl4), not the -dev one, and no second copy of the binary', async () => {
    const dir = project('c-curl');
    const r = await slim(dir, ['--verify', '--alive', '2']);
    assert.equal(r.code, 0, r.stderr);
    const final = finalStage(written(dir));
    assert.match(final, /^FROM debian:bookworm-slim$/m);
    // Only libcurl4: the libraries it loads in turn come with it as its dependencies.
    assert.match(final, /apt-get install -y --no-install-recommends libcurl4$/m);
    assert.doesNotMatch(final, /-dev\b|\bgcc\b|\bmake\b/);
    assert.match(final, /^COPY --from=build \/usr\/local\/bin\/fetchd \/usr\/local\/bin\/fetchd$/m);
    // `make install` copied /build/fetchd to /usr/local/bin: the build directory's copy stays behind.
    assert.doesNotMatch(final, /\/build\/fetchd/);
    assertVerified(r.stdout, /^ok \(running after 2 s\)$/);
  });

  it('Go with a shell-form CMD of plain words: FROM scratch, the CMD in exec form', async () => {
    const port = await freePort();
    const dir = project('go-shell', (d) => d.replace('--port 8080', `--port ${port}`));
    const r = await slim(dir, ['--verify', '--http', `${port}/healthz`]);
    assert.equal(r.code, 0, r.stderr);
    const final = finalStage(written(dir));
    assert.match(final, /^FROM scratch$/m);
    assert.match(final, new RegExp(`^CMD \\["\\./server", "--port", "${port}"\\]$`, 'm'));
    assert.match(final, new RegExp(`as written: CMD\\s+(#\\s+)?\\./server --port ${port}`));
    assert.match(final, /^WORKDIR \/go\/src\/app$/m);
    assertVerified(r.stdout, /^ok \(HTTP 200\)$/);
  });

  it("Go installed with `go install` and run by name: the final stage gets the builder's PATH directory (golang's /go/bin)", async () => {
    const port = await freePort();
    const dir = project('go-install');
    const r = await slim(dir, ['--verify', '-e', `PORT=${port}`, '--http', `${port}/ping`]);
    assert.equal(r.code, 0, r.stderr);
    const final = finalStage(written(dir));
    assert.match(final, /^FROM scratch$/m);
    assert.match(final, /^COPY --from=build \/go\/bin\/server \/go\/bin\/server$/m);
    assert.match(
      final,
      /^ENV PATH=\/go\/bin:\/usr\/local\/sbin:\/usr\/local\/bin:\/usr\/sbin:\/usr\/bin:\/sbin:\/bin$/m,
    );
    assert.match(final, /^CMD \["server"\]$/m);
    assertVerified(r.stdout, /^ok \(HTTP 200\)$/);
  });

  it('Go behind an entrypoint script that ends with exec "$@": the script and CMD\'s program onto debian:bookworm-slim, which has what the script calls', async () => {
    const port = await freePort();
    const dir = project('go-entrypoint');
    const r = await slim(dir, ['--verify', '-e', `PORT=${port}`, '--http', `${port}/ping`]);
    assert.equal(r.code, 0, r.stderr);
    const out = written(dir);
    assert.match(out, /docker-entrypoint\.sh is an entrypoint script that ends with exec "\$@"/);
    const final = finalStage(out);
    assert.match(
      final,
      /^FROM debian:bookworm-slim$/m,
      'the script needs /bin/sh, mkdir and date: not scratch',
    );
    assert.match(final, /^COPY --from=build \/usr\/local\/bin\/api \/usr\/local\/bin\/api$/m);
    assert.match(
      final,
      /^COPY --from=build \/usr\/local\/bin\/docker-entrypoint\.sh \/usr\/local\/bin\/docker-entrypoint\.sh$/m,
    );
    assert.match(final, /^ENTRYPOINT \["docker-entrypoint\.sh"\]\nCMD \["api"\]$/m);
    assertVerified(r.stdout, /^ok \(HTTP 200\)$/);
  });

  it('ARGs in FROM, a second WORKDIR, USER, HEALTHCHECK, ENTRYPOINT + CMD and a file a RUN wrote in /etc: all kept', async () => {
    const port = await freePort();
    const dir = project('go-args', (d) => d.replaceAll('8081', String(port)));
    const r = await slim(dir, ['--verify', '--http', `${port}/ping`]);
    assert.equal(r.code, 0, r.stderr);
    const out = written(dir);
    assert.match(
      out,
      /^ARG GO_VERSION=1\.19\nARG DEBIAN_RELEASE=bookworm\nFROM golang:\$\{GO_VERSION\}-\$\{DEBIAN_RELEASE\} AS build$/m,
    );
    // strip runs after the stage's USER greeter: as root, or it could not write the binary.
    assert.match(out, /^USER root\n\n(#[^\n]*\n)+RUN strip --strip-unneeded \/opt\/greeter\/greeter$/m);
    const final = finalStage(out);
    assert.match(final, /^FROM scratch$/m);
    assert.doesNotMatch(final, /\.pwd\.lock|subuid|subgid/, "useradd's lock and subordinate ids stay behind");
    assert.match(final, /^WORKDIR \/opt\/greeter$/m);
    assert.match(final, /^COPY --from=build \/opt\/greeter\/greeter \/opt\/greeter\/greeter$/m);
    // The program reads /etc/greeter/greeting, which a RUN wrote: copied at the same path.
    assert.match(final, /^COPY --from=build \/etc\/greeter\/greeting \/etc\/greeter\/greeting$/m);
    assert.match(final, /^COPY --from=build \/etc\/passwd \/etc\/passwd$/m);
    assert.match(final, /^USER greeter$/m);
    assert.doesNotMatch(final, /^USER 65534/m);
    assert.match(
      final,
      new RegExp(
        `^HEALTHCHECK --interval=10s --timeout=3s CMD \\["/opt/greeter/greeter", "-health", "-port", "${port}"\\]$`,
        'm',
      ),
    );
    assert.match(final, /^ENTRYPOINT \["\.\/greeter"\]$/m);
    assert.match(final, new RegExp(`^CMD \\["-port", "${port}"\\]$`, 'm'));
    assertVerified(r.stdout, /^ok \(HTTP 200\)$/);
  });

  it('Python started with `python -m`: the package directory onto the -slim image, the apt tool it may run installed again', async () => {
    const port = await freePort();
    const dir = project('python-module');
    const r = await slim(dir, ['--verify', '-e', `PORT=${port}`, '--http', `${port}/`]);
    assert.equal(r.code, 0, r.stderr);
    const final = finalStage(written(dir));
    assert.match(final, /^FROM python:3\.11-slim-bookworm$/m);
    assert.match(final, /^COPY --from=build \/srv\/shorturl \/srv\/shorturl$/m);
    assert.match(final, /apt-get install -y --no-install-recommends sqlite3$/m);
    assert.match(final, /^CMD \["python", "-m", "shorturl"\]$/m);
    assertVerified(r.stdout, /^ok \(HTTP 200\)$/);
  });

  it('Python started by a console script pip wrote: the package, its .dist-info and its script onto the -slim image', async () => {
    const port = await freePort();
    const dir = project('python-console');
    const r = await slim(dir, ['--build-arg', `PORT=${port}`, '--verify', '--http', `${port}/`]);
    assert.equal(r.code, 0, r.stderr);
    const final = finalStage(written(dir));
    assert.match(final, /^FROM python:3\.11-slim-bookworm$/m);
    assert.match(final, /\/usr\/local\/bin\/pingsvc/);
    assert.match(final, /\/usr\/local\/lib\/python3\.11\/dist-packages\/pingsvc\b/);
    assert.match(final, /^ARG PORT=8000\nENV PORT=\$\{PORT\}$/m);
    assert.match(final, /^CMD pingsvc --port \$PORT$/m);
    assertVerified(r.stdout, /^ok \(HTTP 200\)$/);
  });

  it('Node with yarn (v1 lockfile) and a TypeScript build, started with `yarn start`: typescript pruned with yarn, yarn kept because CMD runs it', async () => {
    const port = await freePort();
    const dir = project('node-yarn-ts');
    const r = await slim(dir, ['--verify', '-e', `PORT=${port}`, '--http', `${port}/`]);
    assert.equal(r.code, 0, r.stderr);
    const out = written(dir);
    assert.match(
      out,
      /^RUN --mount=type=cache,target=\/usr\/local\/share\/\.cache\/yarn cd \/usr\/src\/app && yarn install --production --frozen-lockfile --ignore-scripts --prefer-offline$/m,
    );
    const final = finalStage(out);
    assert.match(final, /^FROM node:18-bookworm-slim$/m);
    // Where `npm install -g` put it (/usr with Debian's Node.js, /usr/local with the official image's).
    assert.match(
      out,
      /^\s+\/usr(\/local)?\/lib\/node_modules\/yarn \\$|^COPY --from=build \/usr(\/local)?\/lib\/node_modules\/yarn /m,
    );
    assert.match(final, /^CMD \["yarn", "start"\]$/m);
    assertVerified(r.stdout, /^ok \(HTTP 200\)$/);
  });

  it('Node with yarn and no build step, started with node: devDependencies pruned, yarn itself left in the builder', async () => {
    const port = await freePort();
    const dir = project('node-yarn');
    const r = await slim(dir, ['--verify', '-e', `PORT=${port}`, '--http', `${port}/`]);
    assert.equal(r.code, 0, r.stderr);
    const out = written(dir);
    assert.match(out, /^RUN [^\n]*cd \/app && yarn install --production /m);
    assert.match(out, /global npm package yarn \(yarn, yarnpkg\) stays in the builder/);
    const final = finalStage(out);
    assert.doesNotMatch(
      final,
      /node_modules\/yarn|bin\/yarn/,
      'neither yarn nor its commands (dangling links)',
    );
    assertVerified(r.stdout, /^ok \(HTTP 200\)$/);
  });

  it('Node with pnpm (pnpm-lock.yaml) and a TypeScript build, run as node: pruned with pnpm, pnpm left in the builder', async () => {
    const port = await freePort();
    const dir = project('node-pnpm-ts');
    const r = await slim(dir, ['--verify', '-e', `PORT=${port}`, '--http', `${port}/`]);
    assert.equal(r.code, 0, r.stderr);
    const out = written(dir);
    assert.match(out, /^RUN [^\n]*cd \/app && pnpm prune --prod$/m);
    const final = finalStage(out);
    assert.match(final, /^FROM node:18-bookworm-slim$/m);
    assert.doesNotMatch(
      final,
      /node_modules\/pnpm|bin\/pnp[mx]|\.local\/state/,
      'pnpm, its commands and its state stay behind',
    );
    assert.match(final, /^USER node$/m);
    assertVerified(r.stdout, /^ok \(HTTP 200\)$/);
  });

  it('Node with pnpm and no build step, started with a shell-form `pnpm start`: pnpm kept because CMD runs it', async () => {
    const port = await freePort();
    const dir = project('node-pnpm');
    const r = await slim(dir, ['--verify', '-e', `PORT=${port}`, '--http', `${port}/`]);
    assert.equal(r.code, 0, r.stderr);
    const out = written(dir);
    assert.match(out, /^RUN [^\n]*cd \/home\/node\/app && pnpm prune --prod$/m);
    const final = finalStage(out);
    // Where `npm install -g` put it (/usr with Debian's Node.js, /usr/local with the official image's).
    assert.match(
      out,
      /^\s+\/usr(\/local)?\/lib\/node_modules\/pnpm \\$|^COPY --from=build \/usr(\/local)?\/lib\/node_modules\/pnpm /m,
    );
    assert.match(final, /^CMD pnpm start$/m);
    assertVerified(r.stdout, /^ok \(HTTP 200\)$/);
  });
});

describe('strata slim: files and tools the final stage must have, copied or refused by name', {
  concurrency: 2,
}, () => {
  it('refuses an ENTRYPOINT script and names what it calls and where each comes from; --force writes it marked UNVERIFIED', async () => {
    const dir = project('script-tools');
    const r = await slim(dir, []);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /runs \/usr\/local\/bin\/docker-entrypoint\.sh, a script for \/bin\/sh that calls jq \(apt package jq, which a step installed\), sleep \(apt package coreutils, from the base image\) \(as far as its text shows\)/,
    );
    assert.equal(existsSync(join(dir, 'Dockerfile.slim')), false, 'nothing is written');
    const forced = await slim(dir, ['--force']);
    assert.equal(forced.code, 0, forced.stderr);
    const out = written(dir);
    assert.match(out, /UNVERIFIED/);
    assert.match(
      out,
      /# Missing facts:\n# - [^\n]*docker-entrypoint\.sh, a script for \/bin\/sh that calls jq/,
    );
  });

  it("keeps a settings file a RUN wrote in the user's ~/.config, which the program reads at start", async () => {
    const port = await freePort();
    const dir = project('python-home-config');
    const r = await slim(dir, ['--verify', '-e', `PORT=${port}`, '--http', `${port}/`]);
    assert.equal(r.code, 0, r.stderr);
    const final = finalStage(written(dir));
    assert.match(
      final,
      /^COPY --from=build \/root\/\.config\/greeter\/settings\.json \/root\/\.config\/greeter\/settings\.json$/m,
    );
    assertVerified(r.stdout, /^ok \(HTTP 200\)$/);
  });
});
