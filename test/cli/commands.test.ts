import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import {
  commandListing,
  commandName,
  commandNames,
  registerCommand,
  registerCommands,
} from '../../src/cli/commands.ts';

describe('cli: the command table', () => {
  it('lists each command as its module registers it (usage and description), so --help needs no module', async () => {
    for (const name of commandNames()) {
      const program = new Command('strata');
      await registerCommand(program, name);
      const command = program.commands.find((c) => c.name() === name);
      assert.ok(command, `${name}: its module registers no command ${name}`);
      const listing = commandListing(name)!;
      assert.deepEqual(
        { usage: program.createHelp().subcommandTerm(command), summary: command.description() },
        listing,
        `src/cli/commands.ts: the entry for ${name} must say what its module registers`,
      );
    }
  });

  it('registers only the named command, or every listing when none is named', async () => {
    const one = new Command('strata');
    await registerCommands(one, ['--root', '/x', 'images', '--json']);
    assert.deepEqual(
      one.commands.map((c) => c.name()),
      ['images'],
    );
    const help = new Command('strata');
    await registerCommands(help, ['help', 'tag']);
    assert.deepEqual(
      help.commands.map((c) => c.name()),
      ['tag'],
    );
    const all = new Command('strata');
    await registerCommands(all, ['--version']);
    assert.deepEqual(
      all.commands.map((c) => c.name()),
      commandNames(),
    );
    const term = all.createHelp().subcommandTerm(all.commands.find((c) => c.name() === 'build')!);
    assert.equal(term, commandListing('build')!.usage);
    assert.equal(commandName(['--root', 'build', 'images']), 'images');
    assert.equal(commandName(['--debug']), undefined);
  });
});
