// What one install run shares between its steps: the log, the package cache and its proxy, the
// progress counters, the cleanup stack, and the result being filled in.

import type { CleanupStack } from '../cleanup.js';
import { DomuError } from '../errors.js';
import type { PackageCache } from './package-cache.js';
import { requireTool, type InstallLog, type InstallProgress } from './progress.js';
import type { InstallResult } from './types.js';

export class InstallContext {
  /** Set once anything but the marker has been written into the root. */
  rootTouched = false;
  readonly progress: InstallProgress = { phase: 'preflight', retrieved: 0, unpacked: 0, configured: 0, line: '' };

  constructor(
    readonly log: InstallLog,
    readonly cache: PackageCache,
    readonly cacheDir: string,
    /** False when the caller asked for no cache (a throw-away cache dir is used). */
    readonly cacheEnabled: boolean,
    /** The package cache's proxy URL, when it runs. */
    readonly proxy: string | undefined,
    private readonly cleanup: CleanupStack,
    readonly result: InstallResult,
    private readonly env: NodeJS.ProcessEnv | undefined,
    private readonly onProgress?: (p: InstallProgress) => void,
  ) {}

  phase(name: string): void {
    this.progress.phase = name;
    this.progress.line = '';
    this.log.note(`phase: ${name}`);
    this.onProgress?.(this.progress);
  }

  warn(message: string): void {
    this.result.warnings.push(message);
    this.log.note(`warning: ${message}`);
  }

  requireTool(tool: string): void {
    requireTool(tool, this.env);
  }

  /** Push an undo step for the install's lifetime; it is dropped again when the install ends. */
  cleanupPush(label: string, run: () => void | Promise<void>): void {
    this.drops.push(this.cleanup.push(label, run));
  }

  readonly drops: Array<() => void> = [];

  interrupted(): DomuError {
    return new DomuError('INTERRUPTED', `install into ${this.result.root} was interrupted`, {
      hint: 'run the same command again: the half-made install is cleared and redone',
    });
  }
}
