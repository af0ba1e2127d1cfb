/**
 * Parser benchmark: a generated 5,000-line Dockerfile (stages, continuations, heredocs, flags,
 * JSON and shell forms), parsed 20 times after a warm-up; prints the median and the spread.
 * Goal: median < 20 ms. Run with `node --import tsx bench/parse.ts`.
 */
import { parseDockerfile } from '../src/dockerfile/index.ts';
import { planBuild } from '../src/plan/index.ts';

/** A realistic mix of instructions, about 5,000 physical lines. */
export function generateDockerfile(targetLines = 5000): string {
  const lines: string[] = [
    '# syntax=docker/dockerfile:1',
    'ARG BASE=debian:bookworm-slim',
    'ARG VERSION=1.0.0',
  ];
  let stage = 0;
  while (lines.length < targetLines) {
    const name = `stage${stage}`;
    lines.push(stage === 0 ? `FROM \${BASE} AS ${name}` : `FROM stage${stage - 1} AS ${name}`);
    lines.push('ARG VERSION', `ENV APP_HOME=/opt/app${stage} PATH=/opt/app${stage}/bin:$PATH LANG=C.UTF-8`);
    lines.push(
      `LABEL org.opencontainers.image.version="\${VERSION}" \\`,
      `      org.opencontainers.image.title="stage ${stage}"`,
    );
    lines.push(
      'RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \\',
      '    --mount=type=bind,source=requirements.txt,target=/tmp/requirements.txt \\',
      '    apt-get update && \\',
      '    # tools we need',
      '    apt-get install -y --no-install-recommends curl ca-certificates git && \\',
      '    rm -rf /var/lib/apt/lists/*',
    );
    lines.push(`COPY --chown=app:app --chmod=0644 --link ./src/${stage}/ \${APP_HOME}/src/`);
    if (stage > 0) lines.push(`COPY --from=stage0 /etc/os-release /tmp/os-release-${stage}`);
    lines.push('RUN <<EOF', 'set -eux', `echo "building ${stage}"`, 'make -j"$(nproc)" all', 'EOF');
    lines.push(`WORKDIR \${APP_HOME}`, 'USER app:app', 'EXPOSE 8080/tcp 9090/udp');
    lines.push(
      'HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD ["curl", "-fsS", "http://localhost:8080/health"]',
    );
    lines.push(`ENTRYPOINT ["/opt/app${stage}/bin/server"]`, 'CMD ["--config", "/etc/app/config.yaml"]', '');
    stage++;
  }
  return `${lines.slice(0, targetLines).join('\n')}\n`;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const text = generateDockerfile();
const lineCount = text.split('\n').length - 1;
for (let i = 0; i < 10; i++) planBuild(parseDockerfile(text)); // warm-up: let the JIT settle

// Wall time is what a user waits; CPU time (process.cpuUsage) is the parser's own cost, which
// stays meaningful when other processes compete for the CPU. Both are printed.
const parseWall: number[] = [];
const parseCpu: number[] = [];
const planWall: number[] = [];
let instructions = 0;
for (let i = 0; i < 20; i++) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const df = parseDockerfile(text);
  const parsed = performance.now();
  const used = process.cpuUsage(cpu);
  parseWall.push(parsed - started);
  parseCpu.push((used.user + used.system) / 1000);
  planBuild(df);
  planWall.push(performance.now() - parsed);
  instructions = df.instructions.length;
}
const fmt = (n: number): string => `${n.toFixed(2)} ms`;
const summary = (values: readonly number[]): string =>
  `median ${fmt(median(values))} (min ${fmt(Math.min(...values))}, max ${fmt(Math.max(...values))})`;
console.log(
  `Dockerfile: ${lineCount} lines, ${instructions} instructions, ${(text.length / 1024).toFixed(0)} KiB; 20 runs after warm-up`,
);
console.log(`parse wall: ${summary(parseWall)}; goal < 20 ms: ${median(parseWall) < 20 ? 'met' : 'NOT met'}`);
console.log(`parse cpu:  ${summary(parseCpu)}`);
console.log(`plan wall:  ${summary(planWall)}`);
