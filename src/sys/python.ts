// The python3 that runs domu-forge's helper scripts (standard library only).

import { accessSync, constants as fsConstants } from 'node:fs';
import { spawnSync } from 'node:child_process';

let python: string | null | undefined;

/**
 * The python3 to run domu-forge's helper scripts (standard library only): the system's own
 * /usr/bin/python3 where it is, else the first on PATH, else null. A version manager's shim ahead
 * of it on PATH (pyenv's runs a chain of a dozen shell scripts, about 0.1 s) would cost more than
 * the work it is asked to do.
 */
export function python3(): string | null {
  if (python === undefined) {
    try {
      accessSync('/usr/bin/python3', fsConstants.X_OK);
      python = '/usr/bin/python3';
    } catch {
      python = spawnSync('sh', ['-c', 'command -v python3 >/dev/null']).status === 0 ? 'python3' : null;
    }
  }
  return python;
}
