// Loading the stage modules that other parts of the tree provide (install, boot test) by path at run time, with the slice of their interface the pipeline uses. A build
// whose spec does not need a module never loads it; one that does and finds it missing gets a
// clear error naming the module.

import { DomuError, errnoCode } from '../errors.js';
import type { CleanupStack } from './cleanup.js';

export async function loadPeer<T>(rel: string, what: string): Promise<T> {
  const url = new URL(rel, import.meta.url).href;
  try {
    return (await import(url)) as T;
  } catch (e) {
    if (errnoCode(e) === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(rel.replace(/^\.\.\//, ''))) {
      throw new DomuError('INTERNAL', `${what} is not part of this build (${rel} is missing)`);
    }
    throw e;
  }
}

/** The part of src/install the pipeline uses. */
export interface InstallModule {
  installDistribution(o: Record<string, unknown>): Promise<{ tool: string; packages: number; seconds: number; release: string; logFile: string; warnings: string[] }>;
}

/** The part of src/boot the pipeline uses. */
export interface BootModule {
  bootTest(o: { image: string; cleanup?: CleanupStack; [k: string]: unknown }): Promise<{ passed?: boolean; ok?: boolean; [k: string]: unknown }>;
}
