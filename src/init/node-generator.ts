import { join } from 'node:path';
import { InvalidInputError, NotFoundError } from '../util/index.ts';
import { detectPort, exists, readText, sourceFiles } from './project-files.ts';
import type { GeneratedProject, ProjectGenerator } from './project-generator.ts';

interface PackageJson {
  name?: string;
  main?: string;
  scripts?: Record<string, string>;
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

async function generateNode(dir: string): Promise<GeneratedProject> {
  const detected: string[] = [];
  const assumed: string[] = [];
  const warnings: string[] = [];
  const raw = await readText(join(dir, 'package.json'));
  if (raw === undefined) {
    throw new NotFoundError(`no package.json in ${dir}`, {
      hint: 'run npm init first, or pick the right directory',
    });
  }
  let pkg: PackageJson;
  try {
    pkg = JSON.parse(raw) as PackageJson;
  } catch (error) {
    throw new InvalidInputError(`${join(dir, 'package.json')} is not valid JSON`, { cause: error });
  }
  const scripts = pkg.scripts ?? {};
  const engine = pkg.engines?.node?.match(/(\d+)/)?.[1];
  const nodeVersion = engine ?? '20';
  (engine ? detected : assumed).push(
    `Node ${nodeVersion}${engine ? ` (engines.node "${pkg.engines?.node}")` : ''}`,
  );

  const yarn = await exists(join(dir, 'yarn.lock'));
  const pnpm = await exists(join(dir, 'pnpm-lock.yaml'));
  const npmLock = await exists(join(dir, 'package-lock.json'));
  let lockfile: string;
  let install: string;
  let prune: string;
  if (pnpm) {
    lockfile = 'pnpm-lock.yaml';
    install = 'corepack enable && pnpm install --frozen-lockfile';
    prune = 'pnpm prune --prod';
  } else if (yarn) {
    lockfile = 'yarn.lock';
    install = 'yarn install --frozen-lockfile';
    prune = 'npm prune --omit=dev';
  } else {
    lockfile = npmLock ? 'package-lock.json' : '';
    install = npmLock ? 'npm ci' : 'npm install';
    prune = 'npm prune --omit=dev';
    if (!npmLock)
      warnings.push(
        'no lockfile: builds are not reproducible; commit a package-lock.json and the image uses npm ci',
      );
  }
  if (lockfile) detected.push(`dependencies from ${lockfile}`);

  const build = scripts.build !== undefined;
  if (build) detected.push(`build step: npm run build ("${scripts.build}")`);
  else assumed.push('no build step (package.json has no "build" script)');

  // The command: `node <file>` from the start script when it is that simple, else npm start.
  let cmd: string[];
  const start = scripts.start;
  const simple = start?.match(/^node\s+([\w./-]+)$/);
  if (simple) {
    cmd = ['node', simple[1]!];
    detected.push(`start command node ${simple[1]} (scripts.start)`);
  } else if (start) {
    cmd = ['npm', 'start'];
    detected.push(`start command npm start ("${start}")`);
  } else {
    const main = pkg.main ?? 'index.js';
    cmd = ['node', main];
    (pkg.main ? detected : assumed).push(`start command node ${main}${pkg.main ? ' (main)' : ''}`);
  }
  const files = (await sourceFiles(dir, ['.js', '.ts', '.mjs', '.cjs'], 200)).filter(
    (f) => !f.endsWith('.d.ts'),
  );
  const port = await detectPort(dir, files, /(?:listen\(\s*|PORT\s*(?:\?\?|\|\|)\s*)(\d{2,5})/, 3000);
  (port.found ? detected : assumed).push(`listens on port ${port.port}`);
  const outDirs = build ? ['dist'] : [];
  if (build) assumed.push('the build writes to dist/ (the final stage copies it)');

  // Each file reaches the final image once: with a build, package.json, the production
  // node_modules and the build output; without one, /app as it is (package.json and node_modules
  // included) — copying node_modules first and then /app again would ship it twice (strata lint:
  // copy-overwrites-copy).
  const finalCopies = build
    ? [
        'COPY --from=build /app/package.json ./',
        'COPY --from=build /app/node_modules ./node_modules',
        ...outDirs.map((d) => `COPY --from=build /app/${d} ./${d}`),
      ].join('\n')
    : 'COPY --from=build /app ./';
  const copyLock = lockfile ? `COPY package.json ${lockfile} ./` : 'COPY package.json ./';
  const dockerfile = `# syntax=docker/dockerfile:1
# Multi-stage build for a Node.js service (written by \`strata init node\`).
#   build   installs every dependency, ${build ? 'runs the build, ' : ''}then drops the dev dependencies;
#   final   the slim node image with the production node_modules${build ? ' and the build output' : ' and the app'}, as user node.

ARG NODE_VERSION=${nodeVersion}
FROM node:\${NODE_VERSION}-bookworm AS build
WORKDIR /app
${copyLock}
# Behind a TLS-inspecting proxy: --secret id=extra-ca,src=<its CA file> (docs/extra-ca-certificates.md).
RUN --mount=type=secret,id=extra-ca,required=false,target=/run/secrets/extra-ca \\
    if [ -s /run/secrets/extra-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra-ca; fi; \\
    ${install}
COPY . .
RUN ${build ? 'npm run build && ' : ''}${prune}

FROM node:\${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
${finalCopies}
USER node
EXPOSE ${port.port}
CMD ${JSON.stringify(cmd)}
`;
  const dockerignore = `# node_modules is installed inside the image; build output is made there.
node_modules/
dist/
npm-debug.log*
.npm/
.git
*.md
Dockerfile*
.dockerignore
.env
`;
  return { dockerfile, dockerignore, detected, assumed, warnings };
}

/** Node: package.json's scripts, engines and lockfile. */
export const nodeGenerator: ProjectGenerator = { kind: 'node', generate: generateNode };
