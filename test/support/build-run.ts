import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runStrata } from './cli.ts';

/** One `--progress json` event, as the tests read them. */
export interface ProgressEvent {
  readonly type: string;
  readonly step?: string;
  readonly name?: string;
  readonly at: number;
}

/** The json progress events in a build's stderr. */
export function progressEvents(stderr: string): ProgressEvent[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as ProgressEvent);
}

/** What a build did: the layer steps that ran and those the cache answered, and the image. */
export interface BuildRun {
  readonly ran: string[];
  readonly cached: string[];
  readonly digest: string;
}

/**
 * Builds `ctx` into the store at `root` (reproducibly: SOURCE_DATE_EPOCH is fixed) and reports
 * which layer steps ran and which came from the cache, by name, from the json events.
 */
export async function buildRun(
  store: { readonly root: string; readonly work: string },
  ctx: string,
  extra: readonly string[] = [],
): Promise<BuildRun> {
  const meta = join(store.work, `meta-${Math.random().toString(16).slice(2)}.json`);
  const result = await runStrata(['build', '--progress', 'json', '--metadata-file', meta, ...extra, ctx], {
    root: store.root,
    env: { SOURCE_DATE_EPOCH: '1700000000' },
  });
  assert.equal(result.code, 0, result.stderr);
  const events = progressEvents(result.stderr);
  const names = new Map(events.filter((e) => e.type === 'step-started').map((e) => [e.step!, e.name!]));
  const cached = events.filter((e) => e.type === 'step-cached').map((e) => names.get(e.step!)!);
  const ran = [...names.values()].filter((n) => /^(RUN|COPY|ADD|WORKDIR)/.test(n) && !cached.includes(n));
  // The manifest digest (buildx's --iidfile holds the config digest).
  const digest: string = JSON.parse(readFileSync(meta, 'utf8'))['containerimage.digest'];
  return { ran, cached, digest };
}
