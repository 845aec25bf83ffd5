// Turning "no space left" into one clear message that names the full target and what to do.

import { DomuError, errnoCode } from '../errors.js';
import { formatSize } from './size.js';

const FULL = /No space left on device|ENOSPC|Disk quota exceeded|EDQUOT/;

/** Whether an error (or one of its causes) is a full disk or quota. */
export function isNoSpace(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur !== undefined && cur !== null && depth < 8; depth++) {
    const code = errnoCode(cur);
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
    if (cur instanceof Error && FULL.test(cur.message)) return true;
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return false;
}

/**
 * The one-line error for a full target, or undefined when `e` is something else.
 * `what` names the target ("image /srv/x.img"); `size` is its size when it has one.
 */
export function fullTargetError(e: unknown, what: string, size: number | undefined): DomuError | undefined {
  if (!isNoSpace(e)) return undefined;
  if (size === undefined) {
    return new DomuError('ENVIRONMENT', `no space left on the disk that holds ${what}`, { cause: e });
  }
  return new DomuError('ENVIRONMENT', `${what} is full: the tree needs more than its ${formatSize(size)}`, {
    hint: 'give a larger --size, or leave --size out to have it worked out from the tree',
    cause: e,
  });
}
