/**
 * progress — progress as data. The `BuildEvent` union (steps: started / cached / log / finished /
 * failed; blob transfers: waiting / downloading / verifying / done / exists / pushing / mounted;
 * messages) and the `ProgressSink` producers emit into; the tty, plain and json renderers only
 * the CLI uses. See README.md for the event contract. Depends on util and oci only.
 */
export * from './create-renderer.ts';
export * from './events.ts';
export * from './format.ts';
export * from './json-renderer.ts';
export * from './plain-renderer.ts';
export * from './rawjson-renderer.ts';
export * from './renderer.ts';
export * from './tty-renderer.ts';
