import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseReference } from '../../src/reference/index.ts';
import { readElf, slimVariantOf } from '../../src/slim/index.ts';

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
