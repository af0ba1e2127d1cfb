/**
 * runtime — runs a RUN step's process in an OCI runtime (runc or crun): finds a runtime that works
 * on this machine (probed once, cached on disk), generates the runtime spec BuildKit's runc executor
 * would (namespaces, /proc, /dev, /sys, /etc/hosts and /etc/resolv.conf from per-run files, Docker's
 * capabilities, USER resolved in the rootfs), adds the step's bind, cache, tmpfs and secret mounts,
 * streams the output and reports the exit status; says which platforms this machine can run
 * (natively or through QEMU's binfmt_misc handlers, which it registers for `strata binfmt`). See
 * README.md. Depends on util and oci.
 */
export * from './binfmt.ts';
export * from './chroot-executor.ts';
export * from './chroot-root-files.ts';
export * from './container-nofile.ts';
export * from './elf-machines.ts';
export * from './etc-files.ts';
export * from './executor.ts';
export * from './find-runtime.ts';
export * from './host-capabilities.ts';
export * from './isolation-mode.ts';
export * from './mount-stubs.ts';
export * from './oci-executor.ts';
export * from './oci-runtime.ts';
export * from './platform-support.ts';
export * from './resolve-user.ts';
export * from './run-bundle.ts';
export * from './runtime-errors.ts';
export * from './runtime-spec.ts';
export * from './seccomp-profile.ts';
export * from './step-isolation.ts';
export * from './step-mounts.ts';
export * from './step-network.ts';
export * from './step-network-pool.ts';
