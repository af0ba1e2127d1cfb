/**
 * export — where a built image goes besides the store: its root filesystem as a directory
 * (`type=local`) or a tar (`type=tar`); OCI layouts, docker-archives and registries.
 */
export * from './rootfs.ts';
