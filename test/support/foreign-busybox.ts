import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeBusyboxRootfs } from './rootfs.ts';

/**
 * Where downloaded foreign-architecture packages are kept between runs, beside the examples' base
 * images (a test downloads each once per machine).
 */
export const FOREIGN_DEBS = '/var/lib/strata-test/foreign-debs';

/**
 * Debian's busybox-static package for `arch` (Debian's name: arm64, armhf, riscv64…), downloaded
 * once with `apt-get download` into {@link FOREIGN_DEBS}. Adds the architecture to dpkg and updates
 * the package lists first when dpkg does not have it yet (as root).
 */
export function foreignBusyboxDeb(arch: string): string {
  const cached = existsSync(FOREIGN_DEBS)
    ? readdirSync(FOREIGN_DEBS).find((f) => f.startsWith('busybox-static_') && f.endsWith(`_${arch}.deb`))
    : undefined;
  if (cached) return join(FOREIGN_DEBS, cached);
  const foreign = execFileSync('dpkg', ['--print-foreign-architectures'], { encoding: 'utf8' }).split('\n');
  if (!foreign.includes(arch)) {
    execFileSync('dpkg', ['--add-architecture', arch]);
    execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update', '-qq'], { stdio: 'ignore' });
  }
  const staging = join(FOREIGN_DEBS, `.download-${process.pid}`);
  mkdirSync(staging, { recursive: true });
  try {
    const r = spawnSync('apt-get', ['download', `busybox-static:${arch}`], {
      cwd: staging,
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`apt-get download busybox-static:${arch} failed: ${r.stderr}`);
    const deb = readdirSync(staging).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download busybox-static:${arch} left no .deb`);
    renameSync(join(staging, deb), join(FOREIGN_DEBS, deb));
    return join(FOREIGN_DEBS, deb);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * A busybox rootfs tarball whose /bin/busybox is Debian's busybox-static for `arch` (the applet
 * links and /etc files as {@link makeBusyboxRootfs} makes them: the same busybox version's
 * applets), byte-reproducible. Import it with `strata import --platform linux/<arch>`.
 */
export function makeForeignBusyboxTarball(workDir: string, arch: string): string {
  const root = makeBusyboxRootfs(join(workDir, 'rootfs'));
  const unpacked = join(workDir, 'deb');
  execFileSync('dpkg-deb', ['-x', foreignBusyboxDeb(arch), unpacked]);
  copyFileSync(join(unpacked, 'bin', 'busybox'), join(root, 'bin', 'busybox'));
  const tarball = join(workDir, `busybox-${arch}.tar`);
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
