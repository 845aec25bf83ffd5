#!/usr/bin/env node
// The domu-forge command: a commander program whose subcommands live one per file in src/cli/.
// This file and its commands are the only places that print or exit.

import { Command, CommanderError } from 'commander';
import { registerCommands } from './commands.js';
import { reportError } from './output.js';
import { EXIT_STATUS } from '../errors.js';

export async function makeProgram(args: readonly string[] = []): Promise<Command> {
  const program = new Command('domu-forge')
    .description('Build Xen DomU root filesystems and images: exact parallel clones of a working Dom0, ' +
      'distribution installs into an alternate root, Xen fixups, domain configs, boot tests.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.addHelpText('after', `
Exit statuses:
  0    success
  1    internal error (a bug, or a tool failed unexpectedly)
  2    bad usage or bad input (nothing was written)
  3    a required tool is missing, or the host cannot do it
  4    a fleet build finished, but some of its guests failed (the table says which)
  5    verify found differences
  6    boot test failed
  23   finished, but some entries could not be copied (listed)
  24   finished, but the source changed during the run (listed)
  130  interrupted (SIGINT or SIGTERM); run the same command again to finish`);
  await registerCommands(program, args);
  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = await makeProgram(argv.slice(2));
  try {
    await program.parseAsync(argv);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; anything else commander rejects is a usage error
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0) return 0;
      return EXIT_STATUS.USAGE;
    }
    const json = program.commands.some((c) => c.opts().json === true);
    return reportError(e, { json });
  }
}

// `domu-forge ... | head` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode === undefined ? 0 : Number(process.exitCode));
    throw e;
  });
}

main(process.argv).then(
  (status) => {
    process.exitCode = status;
  },
  (e: unknown) => {
    process.exitCode = reportError(e);
  },
);
