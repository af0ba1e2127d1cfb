import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError, writeFileAtomicSync } from '../util/index.ts';
import { overlayMountOptions } from './mount.ts';
import { NativeSnapshotter } from './native-snapshotter.ts';
import { OverlaySnapshotter } from './overlay-snapshotter.ts';
import type { Snapshotter } from './snapshotter.ts';

let overlayWorks: boolean | undefined;

/**
 * Whether an overlay mount works here (root, a kernel with overlayfs, a filesystem that can hold
 * an upperdir). Probed once per process by mounting a throwaway overlay under `dir`.
 */
export function overlaySupported(dir: string): boolean {
  if (overlayWorks !== undefined) return overlayWorks;
  // The answer is remembered on disk per kernel and user: probing mounts (~10 ms) on every
  // build would cost a no-op rebuild more than the rest of its work.
  const recordPath = join(dir, 'overlay-probe.json');
  const identity = `${release()}|${process.getuid?.() ?? ''}|${overlayMountOptions().join(',')}`;
  try {
    const record = JSON.parse(readFileSync(recordPath, 'utf8')) as { identity: string; works: boolean };
    if (record.identity === identity) {
      overlayWorks = record.works;
      return overlayWorks;
    }
  } catch {
    // no record yet (or unreadable): probe below
  }
  overlayWorks = probeOverlay(dir);
  try {
    writeFileAtomicSync(recordPath, JSON.stringify({ identity, works: overlayWorks }));
  } catch {
    // read-only state dir: probe again next time
  }
  return overlayWorks;
}

function probeOverlay(dir: string): boolean {
  let works: boolean;
  const probe = join(dir, `probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    for (const d of ['l1', 'l2', 'u', 'w', 'm']) mkdirSync(join(probe, d), { recursive: true });
    execFileSync(
      'mount',
      [
        '-t',
        'overlay',
        'overlay',
        '-o',
        `lowerdir=l2:l1,upperdir=u,workdir=w,${overlayMountOptions().join(',')}`,
        join(probe, 'm'),
      ],
      {
        cwd: probe,
        stdio: 'ignore',
      },
    );
    execFileSync('umount', [join(probe, 'm')], { stdio: 'ignore' });
    works = true;
  } catch {
    works = false; // no privileges or no overlayfs: the native snapshotter takes over
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
  return works;
}

/**
 * The snapshotter for a strata root: `overlay` where overlay mounts work, else `native`.
 * `kind` (`overlay`, `native`; the CLI takes it from `STRATA_SNAPSHOTTER`) forces one.
 */
export function openSnapshotter(root: string, kind?: string): Snapshotter {
  const dir = join(root, 'snapshots');
  mkdirSync(dir, { recursive: true });
  if (kind !== undefined && kind !== '' && kind !== 'overlay' && kind !== 'native' && kind !== 'auto') {
    throw new InvalidInputError(`unknown snapshotter ${JSON.stringify(kind)}`, {
      hint: 'use overlay or native',
    });
  }
  const useOverlay =
    kind === 'overlay' || ((kind === undefined || kind === '' || kind === 'auto') && overlaySupported(dir));
  return useOverlay
    ? new OverlaySnapshotter(join(dir, 'overlay'))
    : new NativeSnapshotter(join(dir, 'native'));
}
