/**
 * export — a built image's root filesystem written out as a directory (`-o type=local`) or a tar
 * (`-o type=tar`). The image outputs (the store, an OCI layout, a docker-archive, a registry) are
 * the image transports in `src/api/`, which `strata copy` shares. Depends on util, oci and archive.
 */

export * from './platform-rootfs.ts';
export * from './rootfs.ts';
