#!/usr/bin/env node
'use strict';
// The strata command: runs the CLI that `npm run build` bundles into dist/.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const launcher = join(__dirname, '..', 'dist', 'strata.cjs');
if (!existsSync(launcher)) {
  process.stderr.write('strata: dist/strata.cjs is missing; run `npm run build` first\n');
  process.exit(1);
}
require(launcher);
