// The subcommand list: a run registers only the command it names; --help and unknown words get all.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMANDS, registerCommands } from '../../src/cli/commands.js';

const names = (p: Command) => p.commands.map((c) => c.name()).sort();

describe('registerCommands', () => {
  it('with no command, or an unknown one, registers every command once', async () => {
    const all = new Command();
    await registerCommands(all, ['--help']);
    expect(names(all)).toEqual(COMMANDS.map(([n]) => n).sort());
    const unknown = new Command();
    await registerCommands(unknown, ['frobnicate']);
    expect(names(unknown)).toEqual(names(all));
  });

  it('a named command registers its own module only (pack and unpack share one)', async () => {
    const p = new Command();
    await registerCommands(p, ['--json', 'xen-config', '--hostname', 'x']);
    expect(names(p)).toEqual(['xen-config']);
    const t = new Command();
    await registerCommands(t, ['unpack', 'a.tar', '/srv/t']);
    expect(names(t)).toEqual(['pack', 'unpack']);
  });

  it('lists each name once', () => {
    const list = COMMANDS.map(([n]) => n);
    expect(new Set(list).size).toBe(list.length);
  });
});
