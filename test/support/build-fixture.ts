import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runStrata, tempDir } from './cli.ts';
import { makeBusyboxTarball } from './rootfs.ts';

/** A strata store with `busybox:local` imported, and a helper to write build contexts. */
export interface BuildFixture {
  readonly root: string;
  readonly work: string;
  /** Writes files (path → content) under a new context directory and returns it. */
  context(name: string, files: Readonly<Record<string, string>>): string;
  cleanup(): void;
}

/** Makes a store with a busybox base image (from Debian's busybox-static), for build tests. */
export async function buildFixture(prefix: string): Promise<BuildFixture> {
  const dir = tempDir(prefix);
  const root = join(dir.path, 'store');
  const tarball = makeBusyboxTarball(join(dir.path, 'base'));
  // A fixed creation time makes the base image's digest the same in every store ("machine").
  const imported = await runStrata(['import', tarball, 'busybox:local', '-m', 'busybox-static test base'], {
    root,
    env: { SOURCE_DATE_EPOCH: '0' },
  });
  if (imported.code !== 0) throw new Error(`import failed: ${imported.stderr}`);
  return {
    root,
    work: dir.path,
    context(name, files) {
      const ctx = join(dir.path, name);
      for (const [path, content] of Object.entries(files)) {
        mkdirSync(dirname(join(ctx, path)), { recursive: true });
        writeFileSync(join(ctx, path), content);
      }
      return ctx;
    },
    cleanup: dir.cleanup,
  };
}
