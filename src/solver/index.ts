/**
 * solver — runs a planned build: stages in parallel as their inputs are ready, each step by its
 * handler in `steps/` (RUN in the OCI runtime, COPY/ADD, WORKDIR, config-only instructions), every
 * filesystem change committed as a layer through the snapshotter and archive pipeline, the image
 * config and history written exactly as BuildKit writes them. Emits progress events; renders
 * nothing.
 */
export * from './commit-layer.ts';
export * from './compress-layers.ts';
export * from './entitlements.ts';
export * from './errors.ts';
export * from './go-format.ts';
export * from './history.ts';
export * from './image-state.ts';
export * from './shared-solve.ts';
export * from './solve-graph.ts';
export type * from './step-context.ts';
export { commandArgs } from './steps/config.ts';
