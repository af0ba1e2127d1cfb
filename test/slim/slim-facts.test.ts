import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseReference } from '../../src/reference/index.ts';
import { parameterizedName, readElf, slimVariantOf } from '../../src/slim/index.ts';

describe('readElf: what the loader needs, from the program headers', () => {
  it('a static binary has no interpreter and needs nothing (busybox-static)', async () => {
    const elf = await readElf('/bin/busybox');
    assert.ok(elf, 'busybox is ELF');
    assert.equal(elf.isStatic, true);
    assert.equal(elf.interpreter, undefined);
    assert.deepEqual(elf.needed, []);
  });

  it('a dynamic binary names glibc’s loader and libc.so.6 (/bin/ls)', async () => {
    const elf = await readElf('/bin/ls');
    assert.ok(elf);
    assert.equal(elf.isStatic, false);
    assert.match(elf.interpreter ?? '', /^\/lib(64)?\/ld-linux/);
    assert.ok(elf.needed.includes('libc.so.6'), elf.needed.join(' '));
    assert.equal(elf.isGo, false);
  });

  it('a text file is not ELF', async () => {
    assert.equal(await readElf('/etc/os-release'), undefined);
  });
});

describe('slimVariantOf: the official images’ naming', () => {
  const cases: Array<[string, string | undefined]> = [
    ['node:20-bookworm', 'node:20-bookworm-slim'],
    ['node:18', 'node:18-slim'],
    ['node', 'node:slim'],
    ['node:20-bookworm-slim', 'node:20-bookworm-slim'],
    ['node:20-alpine', 'node:20-alpine'],
    ['python:3.12', 'python:3.12-slim'],
    ['python:3.11-bookworm', 'python:3.11-slim-bookworm'],
    ['python:3.12-slim-bookworm', 'python:3.12-slim-bookworm'],
    ['golang:1.22', undefined],
    ['registry.example.com/python:3.12', undefined],
  ];
  for (const [base, want] of cases) {
    it(`${base} → ${want ?? 'none'}`, () => {
      assert.equal(slimVariantOf(parseReference(base))?.name, want);
    });
  }
});

describe('parameterizedName: the final FROM keeps the builder’s ARGs', () => {
  const args = [
    { name: 'NODE_VERSION', value: '20' },
    { name: 'PY', value: '3.12' },
  ];
  it('node:${NODE_VERSION}-bookworm → node:${NODE_VERSION}-bookworm-slim', () => {
    assert.equal(
      parameterizedName('node:${NODE_VERSION}-bookworm', 'node:20-bookworm-slim', args),
      'node:${NODE_VERSION}-bookworm-slim',
    );
  });
  it('python:${PY}-bookworm → python:${PY}-slim-bookworm', () => {
    assert.equal(
      parameterizedName('python:${PY}-bookworm', 'python:3.12-slim-bookworm', args),
      'python:${PY}-slim-bookworm',
    );
  });
  it('a final base of another family is written as it is', () => {
    assert.equal(parameterizedName('golang:${GO}', 'scratch', args), 'scratch');
  });
});
