#!/usr/bin/env node
// The strata command: loads the bundled CLI built by `npm run build`.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/strata.js', import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write('strata: dist/strata.js is missing; run `npm run build` first\n');
  process.exit(1);
}
await import(bundle.href);
