/**
 * The examples' inputs for rootless tests and bench/rootless.ts: their base images copied from the
 * bootstrapped examples store (read only) into a root store and a test user's store, through OCI
 * layouts, and the build arguments and secrets the demo passes (scripts/demo.mjs).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO, runStrata } from '../support/cli.ts';
import type { TestUser } from './test-user.ts';

/** The bootstrapped examples store ($STRATA_EXAMPLES_ROOT). */
export const EXAMPLES_ROOT = process.env.STRATA_EXAMPLES_ROOT ?? '/var/lib/strata-test/examples';

/** One example of scripts/demo.mjs. */
export interface Example {
  readonly name: string;
  readonly dir: string;
  readonly bases: readonly string[];
}

interface DemoModule {
  EXAMPLES: readonly Example[];
  detectBuildEnvironment(o: { log: (t: string) => void; tmp: string }): Promise<{
    buildArgs: Record<string, string[]>;
    secrets: string[];
  }>;
}

/** What building an example takes: its `strata build` arguments. */
export interface ExampleInputs {
  readonly examples: readonly Example[];
  /** `build …` arguments for the example's Dockerfile.multi, tagged `tag`. */
  buildArgs(example: Example, tag: string, extra?: readonly string[]): string[];
}

/**
 * Copies every example's bases into `rootStore` and into `user`'s store (through layouts under
 * `work`), and makes the demo's build inputs readable by the user.
 */
export async function prepareExamples(options: {
  readonly work: string;
  readonly rootStore: string;
  readonly user: TestUser;
}): Promise<ExampleInputs> {
  const { work, rootStore, user } = options;
  const demo = (await import(pathToFileURL(join(REPO, 'scripts', 'demo.mjs')).href)) as DemoModule;
  const inputs = join(work, 'inputs');
  const environment = await demo.detectBuildEnvironment({ log: () => undefined, tmp: inputs });
  // The extra-CA secret file is root's: the user must read it too.
  if (existsSync(inputs)) execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, inputs]);
  const layouts = join(work, 'layouts');
  mkdirSync(layouts, { recursive: true });
  const bases = demo.EXAMPLES.flatMap((e) => e.bases);
  const check = (result: { code: number | null; stderr: string }, what: string) => {
    if (result.code !== 0) throw new Error(`${what} failed: ${result.stderr}`);
  };
  for (const [n, base] of bases.entries()) {
    const layout = `oci:${join(layouts, String(n))}:base`;
    check(
      await runStrata(['copy', '-q', `strata:${base}`, layout], { root: EXAMPLES_ROOT }),
      `export ${base}`,
    );
    check(
      await runStrata(['copy', '-q', layout, `strata:${base}`], { root: rootStore }),
      `${base} into root's store`,
    );
  }
  execFileSync('chmod', ['-R', 'a+rX', layouts]);
  for (const [n, base] of bases.entries()) {
    const layout = `oci:${join(layouts, String(n))}:base`;
    check(await user.strata(['copy', '-q', layout, `strata:${base}`]), `${base} into the user's store`);
  }
  return {
    examples: demo.EXAMPLES,
    buildArgs(example, tag, extra = []) {
      return [
        'build',
        '--progress',
        'plain',
        ...extra,
        '-f',
        join(example.dir, 'Dockerfile.multi'),
        '-t',
        tag,
        ...(environment.buildArgs[example.name] ?? []).flatMap((a) => ['--build-arg', a]),
        ...environment.secrets.flatMap((s) => ['--secret', s]),
        example.dir,
      ];
    },
  };
}
