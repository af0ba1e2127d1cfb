import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { type CliResult, collectOutput, runStrata, STRATA_BIN } from '../support/cli.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

/**
 * Runs the CLI on a pseudo-terminal (python3's pty module), as a person at a terminal would:
 * waits for `prompt`, types `input`, and collects everything the terminal showed. The terminal
 * is 33 rows by 101 columns.
 */
function strataOnPty(
  args: readonly string[],
  options: { root: string; prompt: string; input: string },
): Promise<CliResult> {
  const driver = `
import fcntl, os, pty, select, struct, sys, termios, time
prompt, typed = sys.argv[1].encode(), sys.argv[2].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[3], sys.argv[3:])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 33, 101, 0, 0))  # 33 rows, 101 columns
out, sent, deadline = b'', False, time.time() + 120
while time.time() < deadline:
    if select.select([fd], [], [], 0.2)[0]:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    if not sent and prompt in out:
        os.write(fd, typed)
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode('utf-8', 'replace'))
sys.exit(os.waitstatus_to_exitcode(status))
`;
  const child = spawn(
    'python3',
    ['-c', driver, options.prompt, options.input, process.execPath, STRATA_BIN, ...args],
    { env: { ...process.env, STRATA_ROOT: options.root } },
  );
  return collectOutput(child);
}

describe("strata run with docker run's habits", () => {
  let fx: BuildFixture;
  let registry: TestRegistry;
  before(async () => {
    fx = await buildFixture('strata-docker-habits-');
    registry = await startRegistry();
  });
  after(async () => {
    await registry?.stop();
    fx?.cleanup();
  });

  it('passes piped stdin, with -i and without it (echo x | strata run IMAGE cat)', async () => {
    const piped = await runStrata(['run', '-i', 'busybox:local', 'sh', '-c', 'cat; echo "[$?]"'], {
      root: fx.root,
      input: 'line one\nline two\n',
    });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, 'line one\nline two\n[0]\n');
    // docker would give cat an empty stdin without -i; a pipe is clearly meant for the process.
    const plain = await runStrata(['run', 'busybox:local', 'cat'], { root: fx.root, input: 'x\n' });
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout, 'x\n');
  });

  it('runs an interactive shell on a real terminal with -it, with the exit status of the shell', async () => {
    const result = await strataOnPty(['run', '-it', 'busybox:local', 'sh'], {
      root: fx.root,
      prompt: '/ # ',
      input: 'tty; echo "TERM=$TERM"; stty size; exit 7\r',
    });
    assert.equal(result.code, 7, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /^\/dev\/pts\/\d+\r?$/m, 'the shell has a terminal');
    assert.match(result.stdout, /^TERM=xterm\r?$/m);
    assert.match(result.stdout, /^33 101\r?$/m, "the container's terminal has this terminal's size");
  });

  it("refuses -it without a terminal in docker's words", async () => {
    const result = await runStrata(['run', '-it', 'busybox:local', 'sh'], { root: fx.root, input: 'exit\n' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: the input device is not a TTY \(drop -t to pass piped input/m);
  });

  it('bind-mounts -v host:container[:ro], creating a missing host directory; -w, --user and -e apply', async () => {
    const data = join(fx.work, 'volume');
    mkdirSync(data);
    writeFileSync(join(data, 'in'), 'from the host\n');
    const made = join(fx.work, 'made-by-v');
    const result = await runStrata(
      [
        'run',
        '-v',
        `${data}:/data:ro`,
        '-w',
        '/data',
        '--user',
        '1234:2345',
        '-e',
        'GREETING=hi',
        'busybox:local',
        'sh',
        '-c',
        'cat in; pwd; id -u; id -g; echo "$GREETING"; touch x 2>/dev/null || echo read-only',
      ],
      { root: fx.root },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'from the host\n/data\n1234\n2345\nhi\nread-only\n');
    const wrote = await runStrata(
      ['run', '-v', `${made}:/out`, 'busybox:local', 'sh', '-c', 'echo out > /out/f'],
      {
        root: fx.root,
      },
    );
    assert.equal(wrote.code, 0, wrote.stderr);
    assert.equal(readFileSync(join(made, 'f'), 'utf8'), 'out\n');
    const named = await runStrata(['run', '-v', 'data:/data', 'busybox:local', 'true'], { root: fx.root });
    assert.equal(named.code, 1);
    assert.match(
      named.stderr,
      /^error: invalid volume specification "data:\/data": "data" would be a named volume, which strata does not have \(give a host path: -v \/path\/data:\/data\)$/m,
    );
  });

  it('pulls a missing image before running it, as docker run does; --pull never says how to get it', async () => {
    const ref = `${registry.host}/habits/busybox:1`;
    const pushed = await runStrata(['copy', 'strata:busybox:local', `docker://${ref}`], { root: fx.root });
    assert.equal(pushed.code, 0, pushed.stderr);
    const empty = join(fx.work, 'empty-store');
    const never = await runStrata(['run', '--pull', 'never', ref, 'echo', 'ran'], { root: empty });
    assert.equal(never.code, 1);
    assert.match(
      never.stderr,
      new RegExp(`^error: image ${ref} not found in the store \\(strata pull ${ref} first`, 'm'),
    );
    const ran = await runStrata(['run', ref, 'echo', 'ran'], { root: empty });
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout, 'ran\n');
    assert.match(ran.stderr, new RegExp(`^Unable to find image '${ref}' locally$`, 'm'));
    const again = await runStrata(['run', ref, 'echo', 'ran'], { root: empty });
    assert.doesNotMatch(again.stderr, /Unable to find image/, 'the second run finds it');
  });
});

describe('strata images REPOSITORY[:TAG] and strata version', () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture('strata-images-filter-');
    for (const name of ['app:1', 'app:2', 'other/app:1', 'localhost:5000/app:1'])
      assert.equal((await runStrata(['tag', 'busybox:local', name], { root: fx.root })).code, 0);
  });
  after(() => fx.cleanup());

  const listed = async (...args: string[]) => {
    const r = await runStrata(['images', ...args, '--json'], { root: fx.root });
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { name: string }[]).map((i) => i.name).sort();
  };

  it('lists one repository (every tag), one image, or a pattern, as docker images does', async () => {
    assert.deepEqual(await listed('app'), ['app:1', 'app:2']);
    assert.deepEqual(await listed('docker.io/library/app'), ['app:1', 'app:2'], 'names are normalised');
    assert.deepEqual(await listed('app:2'), ['app:2']);
    assert.deepEqual(await listed('app:3'), []);
    assert.deepEqual(await listed('*/app'), ['localhost:5000/app:1', 'other/app:1'], '* matches a host too');
    assert.deepEqual(await listed('app:*'), ['app:1', 'app:2']);
    const table = await runStrata(['images', 'app:1'], { root: fx.root });
    assert.match(
      table.stdout,
      /^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE +COMPRESSED\napp +1 +[0-9a-f]{12} /,
    );
    const bad = await runStrata(['images', 'UPPER'], { root: fx.root });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error: invalid reference format: "UPPER"/m);
  });

  it('prints a short version report like docker version, even where the store is unusable', async () => {
    const r = await runStrata(['version'], { root: fx.root });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^strata: +0\.\d+\.\d+\nnode: +v\d+\.\d+\.\d+\nplatform: +linux\/\w+\nruntime: +(runc|crun) \S+ \(\/\S+\)\nsnapshotter: +(overlay|native)\n$/,
    );
    const json = JSON.parse((await runStrata(['version', '--json'], { root: fx.root })).stdout) as {
      node: string;
    };
    assert.equal(json.node, process.version);
    const unusable = await runStrata(['version'], { root: '/proc/x' });
    assert.equal(unusable.code, 0, unusable.stderr);
    assert.match(unusable.stdout, /^runtime: +unknown \(cannot create state directory \/proc\/x/m);
  });
});
