#!/usr/bin/env node
// `npm run demo`: builds the talk's examples single- and multi-stage and prints the size table.
// Until the build engine and the examples land (issues 5 and 6), it says so and exits 0.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
if (!existsSync(resolve(root, 'examples')) || !existsSync(resolve(root, 'src/solver'))) {
  console.log(
    'strata demo: not yet — the build engine and the examples are still being written (issues 5 and 6).',
  );
  console.log('What works today: strata import, images, tag, rmi, prune, store verify (see README).');
  process.exit(0);
}
