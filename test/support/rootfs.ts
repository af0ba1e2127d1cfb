import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where Debian's busybox-static puts its binary. */
export const BUSYBOX = '/bin/busybox';

/**
 * Makes a tiny rootfs from Debian's busybox-static: /bin/busybox plus applet symlinks, /etc
 * passwd and group with root and nobody, /tmp. Enough to RUN shell commands in.
 */
export function makeBusyboxRootfs(dir: string): string {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: apt-get install busybox-static`);
  for (const d of ['bin', 'etc', 'tmp', 'root', 'dev', 'proc', 'sys'])
    mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const applet of applets) {
    if (applet === 'busybox') continue;
    if (!existsSync(join(dir, 'bin', applet))) symlinkSync('busybox', join(dir, 'bin', applet));
  }
  writeFileSync(
    join(dir, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  );
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  return dir;
}

/** A rootfs tarball (uncompressed, byte-reproducible) of {@link makeBusyboxRootfs}, made with GNU tar. */
export function makeBusyboxTarball(workDir: string): string {
  const root = makeBusyboxRootfs(join(workDir, 'rootfs'));
  const tarball = join(workDir, 'busybox.tar');
  // Reproducible bytes (sorted, fixed mtimes and owners), so every test store gets the same base.
  execFileSync('tar', [
    '-C',
    root,
    '--sort=name',
    '--mtime=@0',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '-cf',
    tarball,
    '.',
  ]);
  return tarball;
}
