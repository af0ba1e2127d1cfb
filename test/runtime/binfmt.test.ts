import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseArchitectures } from '../../src/api/binfmt.ts';
import { hostPlatform } from '../../src/oci/index.ts';
import {
  BINFMT_MISC_DIR,
  BinfmtError,
  debianQemuBinfmts,
  ELF_MACHINES,
  elfMachineFor,
  elfProgram,
  handlerArchitecture,
  handlerMatches,
  parseBinfmtEntry,
  parseDebianBinfmt,
  readBinfmtHandlers,
  registrationLine,
} from '../../src/runtime/index.ts';
import { type CliResult, collectOutput, runStrata, STRATA_BIN, tempDir } from '../support/cli.ts';

/** The file binfmt_misc shows for Debian's aarch64 handler, as registered by strata. */
const AARCH64_ENTRY = `enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: POCF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
`;

function strataAsNobody(args: readonly string[]): Promise<CliResult> {
  const child = spawn(
    'setpriv',
    [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      '--',
      'sh',
      '-c',
      'exec "$@"',
      'sh',
      process.execPath,
      STRATA_BIN,
      ...args,
    ],
    { env: { PATH: process.env.PATH, STRATA_COMPILE_CACHE: '0', HOME: '/nonexistent' }, cwd: '/' },
  );
  return collectOutput(child);
}

describe('binfmt_misc handlers', () => {
  it('reads a handler entry as the kernel prints it: interpreter, flags, magic and mask', () => {
    const h = parseBinfmtEntry('qemu-aarch64', AARCH64_ENTRY);
    assert.equal(h.enabled, true);
    assert.equal(h.flags, 'POCF');
    assert.equal(h.interpreter, '/usr/libexec/qemu-binfmt/aarch64-binfmt-P');
    assert.equal(h.magic?.offset, 0);
    assert.equal(h.magic?.bytes.toString('hex'), '7f454c460201010000000000000000000200b700');
    assert.equal(parseBinfmtEntry('x', AARCH64_ENTRY.replace('enabled', 'disabled')).enabled, false);
  });

  it('matches a handler to the architecture whose programs it runs, and to no other', () => {
    const h = parseBinfmtEntry('qemu-aarch64', AARCH64_ENTRY);
    assert.equal(handlerArchitecture(h), 'arm64');
    for (const m of ELF_MACHINES)
      assert.equal(handlerMatches(h, elfProgram(m)), m.architecture === 'arm64', m.architecture);
    // The mask lets a position-independent executable (ET_DYN, 3) through as well as ET_EXEC.
    const pie = Buffer.from(elfProgram(elfMachineFor({ os: 'linux', architecture: 'arm64' })!));
    pie[16] = 3;
    assert.equal(handlerMatches(h, pie), true);
    // An extension handler (.jar) matches no program by its bytes.
    const jar = parseBinfmtEntry('jar', 'enabled\ninterpreter /usr/bin/jexec\nflags: \nextension .jar\n');
    assert.equal(jar.extension, '.jar');
    assert.equal(handlerArchitecture(jar), undefined);
  });

  it("parses Debian's qemu-user-static descriptions and registers them with Debian's magic, mask and interpreter, plus the F flag", async () => {
    const specs = await debianQemuBinfmts();
    assert.ok(specs.length > 0, 'qemu-user-static is installed (scripts/test-setup.mjs installs it)');
    const aarch64 = specs.find((s) => s.name === 'qemu-aarch64');
    assert.equal(aarch64?.architecture, 'arm64');
    assert.equal(specs.find((s) => s.name === 'qemu-riscv64')?.architecture, 'riscv64');
    assert.equal(specs.find((s) => s.name === 'qemu-arm')?.architecture, 'arm');
    // systemd-binfmt's line from the same package, but for the flags: ours add C (so O) as tonistiigi/binfmt does.
    const systemd = readFileSync('/usr/lib/binfmt.d/qemu-aarch64.conf', 'utf8').trim();
    assert.equal(registrationLine(aarch64!), systemd.replace(':M::', ':M:0:').replace(/:OPF$/, ':POCF'));
  });

  it("reads binfmt_misc as not mounted where it cannot be mounted (mount: 'try'), and says why where it must be", async () => {
    // An unprivileged container's root cannot mount it (EPERM); a missing directory fails the same way here.
    const dir = join(tempDir('strata-binfmt-').path, 'no-such-dir');
    assert.equal(await readBinfmtHandlers({ dir, mount: 'try' }), undefined);
    await assert.rejects(readBinfmtHandlers({ dir, mount: true }), (error: unknown) => {
      assert.ok(error instanceof BinfmtError);
      assert.match(error.message, /cannot mount binfmt_misc at .*no-such-dir/);
      return true;
    });
  });

  it('reads a description whose mask is missing as an exact magic', () => {
    const spec = parseDebianBinfmt(
      'qemu-x',
      'package qemu-user-static\ninterpreter /usr/bin/qemu-x\nmagic \\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\noffset 0\n',
    );
    assert.equal(spec.mask.toString('hex'), 'ffffffffffffff');
    assert.equal(spec.preserve, false);
    assert.equal(
      spec.architecture,
      undefined,
      'seven bytes match every 64-bit little-endian machine: none in particular',
    );
  });

  it('writes probe programs that exit 42: natively for amd64, through each QEMU emulator for the others', () => {
    const dir = tempDir('strata-elf-');
    try {
      for (const m of ELF_MACHINES) {
        if (!m.exit42) continue;
        const file = join(dir.path, m.architecture);
        writeFileSync(file, elfProgram(m));
        chmodSync(file, 0o755);
        // The emulator run directly, so the test does not depend on what binfmt_misc holds.
        const r =
          m.architecture === 'amd64' ? spawnSync(file) : spawnSync(`/usr/bin/qemu-${m.qemu}-static`, [file]);
        assert.equal(r.status, 42, `${m.architecture}: ${r.stderr?.toString()}`);
        const file1 = spawnSync('file', ['-b', file], { encoding: 'utf8' }).stdout;
        assert.match(file1, m.elfClass === 64 ? /^ELF 64-bit LSB executable/ : /^ELF 32-bit LSB executable/);
      }
    } finally {
      dir.cleanup();
    }
  });

  it('takes architectures as names, platforms or aliases, and refuses unknown ones', () => {
    assert.deepEqual(parseArchitectures('arm64,linux/riscv64,aarch64'), ['arm64', 'riscv64']);
    assert.equal(parseArchitectures('arm64,all'), 'all');
    assert.throws(() => parseArchitectures('sparc99'), /unknown architecture "sparc99"/);
    assert.throws(() => parseArchitectures(' , '), /no architecture named/);
  });
});

describe('strata binfmt', () => {
  it('registers a handler with the F flag, runs nothing twice, and removes it again (s390x, which no test uses)', async () => {
    const before = existsSync(join(BINFMT_MISC_DIR, 'qemu-s390x'));
    const installed = await runStrata(['binfmt', '--install', 's390x', '--json']);
    assert.equal(installed.code, 0, installed.stderr);
    const report = JSON.parse(installed.stdout) as {
      changes: Array<{ action: string; handler: string }>;
      handlers: Array<{ name: string; flags: string; architecture?: string }>;
      platforms: Array<{ platform: string; how: string }>;
    };
    assert.deepEqual(
      report.changes.map((c) => [c.handler, c.action]),
      [['qemu-s390x', before ? 'unchanged' : 'installed']],
    );
    const entry = readFileSync(join(BINFMT_MISC_DIR, 'qemu-s390x'), 'utf8');
    assert.match(entry, /^flags: .*F/m);
    assert.match(entry, /^interpreter \/usr\/libexec\/qemu-binfmt\/s390x-binfmt-P$/m);
    assert.equal(report.handlers.find((h) => h.name === 'qemu-s390x')?.architecture, 's390x');
    assert.equal(report.platforms.find((p) => p.platform === 'linux/s390x')?.how, 'emulated');
    const again = await runStrata(['binfmt', '--install', 's390x']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^qemu-s390x for s390x is registered already \(flags POCF\)$/m);
    if (!before) {
      const removed = await runStrata(['binfmt', '--uninstall', 's390x']);
      assert.equal(removed.code, 0, removed.stderr);
      assert.match(removed.stdout, /^removed qemu-s390x \(s390x\)$/m);
      assert.equal(existsSync(join(BINFMT_MISC_DIR, 'qemu-s390x')), false);
      assert.match(
        removed.stdout,
        /linux\/s390x +unavailable — no binfmt_misc handler for s390x programs is registered \(register QEMU's emulator for it \(as root\): strata binfmt --install s390x\)/,
      );
    }
  });

  it('lists the host as native and says which platforms run through which emulator', async () => {
    const r = await runStrata(['binfmt']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {2}linux\/amd64 +native — the host's own architecture$/m);
    assert.match(r.stdout, /^binfmt_misc: \/proc\/sys\/fs\/binfmt_misc \(enabled\)$/m);
  });

  it('refuses to change handlers as another user than root, and says why', async () => {
    const r = await strataAsNobody(['binfmt', '--install', 'arm64']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /^error: strata binfmt --install changes the kernel's binfmt_misc handlers and needs root/m,
    );
    assert.doesNotMatch(r.stderr, /internal error|bug in strata/);
  });

  it('refuses the host architecture and an architecture Debian has no emulator for here', async () => {
    const host = hostPlatform().architecture;
    const own = await runStrata(['binfmt', '--install', host]);
    assert.equal(own.code, 1, own.stderr);
    assert.match(own.stderr, new RegExp(`${host} is this machine's own architecture: it needs no emulator`));
    const i386 = await runStrata(['binfmt', '--install', '386']);
    assert.equal(i386.code, 1, i386.stderr);
    assert.match(i386.stderr, /Debian's qemu-user-static has no emulator for 386 on this amd64 machine/);
  });
});
