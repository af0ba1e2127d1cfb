// Installs npm from the registry's tarball, checked against the registry's published integrity,
// the way Docker's official node images bundle it: /usr/local/lib/node_modules/npm plus npm and npx
// on PATH. (Debian's npm package would bring ~400 node-* packages and python3 along.)
// Usage: node install-npm.mjs VERSION   (env NPM_REGISTRY: a registry other than npmjs.org)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, symlinkSync } from 'node:fs';

const version = process.argv[2];
if (!version) throw new Error('usage: node install-npm.mjs VERSION');
const registry = (process.env.NPM_REGISTRY || 'https://registry.npmjs.org/').replace(/\/?$/, '/');
const get = async (url) => {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  return response;
};
const meta = await (await get(`${registry}npm/${version}`)).json();
const tarball = Buffer.from(await (await get(meta.dist.tarball)).arrayBuffer());
const [algorithm, expected] = meta.dist.integrity.split('-', 2);
const actual = createHash(algorithm).update(tarball).digest('base64');
if (actual !== expected) throw new Error(`npm ${version}: integrity mismatch (${algorithm} ${actual})`);
const dir = '/usr/local/lib/node_modules/npm';
mkdirSync(dir, { recursive: true });
execFileSync('tar', ['-xzf', '-', '--strip-components=1', '--no-same-owner', '-C', dir], { input: tarball });
mkdirSync('/usr/local/bin', { recursive: true });
symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', '/usr/local/bin/npm');
symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', '/usr/local/bin/npx');
console.log(`npm ${version} installed in ${dir}`);
