// `git daemon` on 127.0.0.1 for tests of Git sources: started on a free port, again on another
// one when the port was taken in between (the daemon then exits), and ready before it returns.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { type AddressInfo, createServer } from 'node:net';

/** A running `git daemon` serving every repository under its base path as `git://…/<name>`. */
export interface GitDaemon {
  /** `git://127.0.0.1:<port>` (no trailing slash). */
  readonly url: string;
  readonly port: number;
  stop(): void;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

function lsRemote(url: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('git', ['ls-remote', '--', url], { env, timeout: 10_000 }, (error) => resolve(error === null));
  });
}

/**
 * Starts `git daemon --export-all` over `base`; `probe` names one repository under it, listed to
 * know the daemon is ready. Throws when no daemon answered after several ports and 60 s each.
 */
export async function startGitDaemon(
  base: string,
  options: { probe: string; env: NodeJS.ProcessEnv },
): Promise<GitDaemon> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child: ChildProcess = spawn(
      'git',
      [
        'daemon',
        '--reuseaddr',
        '--export-all',
        `--base-path=${base}`,
        '--listen=127.0.0.1',
        `--port=${port}`,
        base,
      ],
      { stdio: 'ignore', env: options.env },
    );
    let exited = false;
    child.on('exit', () => {
      exited = true;
    });
    const url = `git://127.0.0.1:${port}`;
    // Generous: the machine may be loaded; a daemon that lost the port race exits at once.
    const deadline = Date.now() + 60_000;
    while (!exited && Date.now() < deadline) {
      if (await lsRemote(`${url}/${options.probe}`, options.env))
        return { url, port, stop: () => child.kill() };
      await new Promise((r) => setTimeout(r, 200));
    }
    child.kill();
  }
  throw new Error(`git daemon did not answer on 127.0.0.1 for ${base}`);
}
