import { basename, join, posix } from 'node:path';
import { detectPort, exists, readText, sourceFiles } from './project-files.ts';
import type { GeneratedProject, ProjectGenerator } from './project-generator.ts';

async function generateGo(dir: string): Promise<GeneratedProject> {
  const detected: string[] = [];
  const assumed: string[] = [];
  const warnings: string[] = [];
  const goMod = await readText(join(dir, 'go.mod'));
  let module: string | undefined;
  let goVersion = '1.22';
  if (goMod) {
    module = goMod.match(/^module\s+(\S+)/m)?.[1]?.replace(/^"|"$/g, '');
    const v = goMod.match(/^go\s+(\d+\.\d+)/m)?.[1];
    if (module) detected.push(`module ${module} (go.mod)`);
    if (v) {
      goVersion = v;
      detected.push(`Go ${v} (go.mod's go directive)`);
    } else assumed.push(`Go ${goVersion} (go.mod has no go directive)`);
  } else {
    assumed.push(`Go ${goVersion}, and modules (no go.mod: run \`go mod init\` first)`);
  }
  const hasSum = await exists(join(dir, 'go.sum'));
  const files = (await sourceFiles(dir, ['.go'])).filter((f) => !f.endsWith('_test.go'));
  const mains = new Set<string>();
  let cgo = false;
  for (const f of files) {
    const text = (await readText(join(dir, f))) ?? '';
    if (/^package\s+main\b/m.test(text)) mains.add(posix.dirname(f));
    if (/^import\s+"C"|^\s+"C"\s*$/m.test(text)) cgo = true;
  }
  let mainPkg = '.';
  const sortedMains = [...mains].sort();
  if (mains.has('.')) detected.push('main package in the project root');
  else if (sortedMains.length > 0) {
    mainPkg = `./${sortedMains[0]}`;
    detected.push(
      `main package ${mainPkg}${sortedMains.length > 1 ? ` (of ${sortedMains.length}: ${sortedMains.map((m) => `./${m}`).join(', ')})` : ''}`,
    );
  } else assumed.push('main package in the project root (no `package main` found)');
  const binary =
    mainPkg === '.' ? (module ? posix.basename(module) : basename(dir)) : posix.basename(mainPkg);
  const binName = binary.replace(/[^A-Za-z0-9._-]/g, '') || 'app';
  const port = await detectPort(dir, files, /(?:Listen(?:AndServe)?|Run)\(\s*"[^"]*:(\d{2,5})"/, 8080);
  (port.found ? detected : assumed).push(`listens on port ${port.port}`);
  if (cgo)
    warnings.push(
      'the code imports "C": CGO_ENABLED=0 will fail; use a distroless or slim final stage instead of scratch',
    );
  assumed.push('no CA certificates or time zone data needed at run time (final stage is FROM scratch)');

  const copyMod = hasSum ? 'COPY go.mod go.sum ./' : 'COPY go.mod ./';
  const dockerfile = `# syntax=docker/dockerfile:1
# Multi-stage build for a Go service (written by \`strata init go\`).
# Stage "build" compiles with the full toolchain; the final image holds only the static binary.

ARG GO_VERSION=${goVersion}
FROM golang:\${GO_VERSION}-bookworm AS build
WORKDIR /src
# Dependencies first: this layer is reused until go.mod${hasSum ? ' or go.sum' : ''} change.
${goMod ? `${copyMod}\nRUN go mod download\n` : ''}COPY . .
# Static (no cgo), reproducible (-trimpath) and stripped (-s -w) binary.
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags="-s -w" -o /out/${binName} ${mainPkg}

# The final image: an empty filesystem plus the binary.
FROM scratch
COPY --from=build /out/${binName} /${binName}
# Run unprivileged (scratch has no /etc/passwd: a numeric uid).
USER 65532:65532
EXPOSE ${port.port}
ENTRYPOINT ["/${binName}"]
`;
  const dockerignore = `# Only what \`go build\` needs goes into the build context.
.git
.github/
*.md
Dockerfile*
.dockerignore
/bin/
/${binName}
*.test
*.out
.idea/
.vscode/
`;
  return { dockerfile, dockerignore, detected, assumed, warnings };
}

/** Go: go.mod's module and Go version, the main package, cgo; a static binary in a small final image. */
export const goGenerator: ProjectGenerator = { kind: 'go', generate: generateGo };
