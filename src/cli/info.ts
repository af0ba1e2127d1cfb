import type { Command } from 'commander';
import { systemInfo } from '../api/system-info.ts';
import { storeFor } from './cli-context.ts';
import { formatPlatformSupport } from './format-platform-support.ts';
import { STRATA_VERSION } from './version.ts';

/**
 * `strata info [--json]`: the store, snapshotter, runtime and platform strata uses here, and the
 * isolation RUN steps get, and the platforms RUN steps can run here and how.
 */
export function registerInfoCommand(program: Command): void {
  program
    .command('info')
    .description(
      'show the store, the snapshotter (overlay or native), the OCI runtime strata uses here, how RUN steps are isolated and which platforms they can run',
    )
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const info = await systemInfo(await storeFor(command), STRATA_VERSION);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
        return;
      }
      const { isolation } = info;
      const network = isolation.network.available
        ? `a private network namespace per RUN (made ${
            isolation.network.namespace === 'addon' ? 'in-process by the addon' : 'by ip netns add'
          }), outbound through slirp4netns ${isolation.network.slirp4netns.version} (${
            isolation.network.slirp4netns.path
          }); the host's loopback and interfaces out of reach`
        : `unavailable: ${isolation.network.error} (RUN steps need --network=none, or host with --allow network.host)`;
      const seccomp = isolation.seccomp.enabled
        ? `on — ${isolation.seccomp.profile}, ${isolation.seccomp.allowedSyscalls} syscalls allowed; off for RUN --security=insecure`
        : `off — ${isolation.seccomp.reason}`;
      const runtime =
        'error' in info.runtime
          ? `unavailable: ${info.runtime.error}`
          : `${info.runtime.name} (${info.runtime.version}, ${info.runtime.path}, mode ${info.runtime.mode})`;
      const mode = info.isolationMode;
      const chroot = mode.chrootUnavailable
        ? `--isolation=chroot unavailable: ${mode.chrootUnavailable}`
        : '--isolation=chroot available';
      const isolationLine =
        mode.mode === 'chroot'
          ? `chroot — ${mode.reason ?? 'chosen'}; RUN steps run with chroot(2) in strata's own namespaces, network and seccomp profile, with at most the capabilities below: the container strata runs in is the boundary (docs/kubernetes.md)`
          : `oci — each RUN step in a container made by the runtime, as below (${chroot})`;
      process.stdout.write(
        [
          `strata:       ${info.version} (node ${info.node})`,
          `platform:     ${info.platform}`,
          `store:        ${info.root}`,
          `mode:         ${info.privileges.description}`,
          `snapshotter:  ${info.snapshotter.kind} — ${info.snapshotter.reason}`,
          `mounts:       ${info.mounts}`,
          `runtime:      ${runtime}`,
          `cgroups:      ${info.cgroups}`,
          `isolation:    ${isolationLine}`,
          mode.mode === 'chroot' ? 'RUN steps with --isolation=oci (not in use here):' : 'RUN steps:',
          `  namespaces:   ${isolation.namespaces.join(', ')}; ${
            info.privileges.mode === 'rootless'
              ? "inside strata's user namespace (root in a step is you on the host)"
              : 'no user namespace (root in a step is root on the host)'
          }`,
          `  network:      ${network}`,
          `  seccomp:      ${seccomp}`,
          `  capabilities: ${isolation.capabilities.join(' ')}`,
          `  masked:       ${isolation.maskedPaths.join(' ')}`,
          `  read-only:    ${isolation.readonlyPaths.join(' ')} /sys`,
          'platforms RUN steps can run (strata binfmt --install ARCH adds emulated ones):',
          ...info.platforms.map((p) => `  ${formatPlatformSupport(p)}`),
          '',
        ].join('\n'),
      );
    });
}
