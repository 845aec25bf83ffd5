// A full target becomes one message naming it and what to do.
import { describe, expect, it } from 'vitest';
import { fullTargetError, isNoSpace } from '../../src/targets/errors.js';
import { DomuError } from '../../src/errors.js';

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

describe('isNoSpace', () => {
  it('finds ENOSPC and EDQUOT by code, by message, or in a cause chain', () => {
    expect(isNoSpace(enospc())).toBe(true);
    expect(isNoSpace({ code: 'EDQUOT' })).toBe(true);
    expect(isNoSpace(new Error('mke2fs: No space left on device while populating'))).toBe(true);
    expect(isNoSpace(new Error('Disk quota exceeded'))).toBe(true);
    expect(isNoSpace(new DomuError('INTERNAL', 'copy failed', { cause: new Error('wrapped', { cause: enospc() }) }))).toBe(true);
  });

  it('is false for anything else, and a looping cause chain ends', () => {
    expect(isNoSpace(new Error('EACCES: permission denied'))).toBe(false);
    expect(isNoSpace(undefined)).toBe(false);
    expect(isNoSpace('No space left on device')).toBe(false);
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(isNoSpace(a)).toBe(false);
  });
});

describe('fullTargetError', () => {
  it('names the target and its size, with a hint, when the target was sized', () => {
    const e = fullTargetError(enospc(), 'image /srv/x.img', 2 * 1024 ** 3)!;
    expect(e.code).toBe('ENVIRONMENT');
    expect(e.message).toMatch(/^image \/srv\/x\.img is full: the tree needs more than its 2(\.0)? ?Gi?B$/);
    expect(e.hint).toBe('give a larger --size, or leave --size out to have it worked out from the tree');
    expect(e.exitStatus).toBe(3);
  });

  it('blames the disk that holds an unsized target; undefined for other errors', () => {
    const e = fullTargetError(enospc(), 'directory /srv/t', undefined)!;
    expect(e.message).toBe('no space left on the disk that holds directory /srv/t');
    expect(e.hint).toBeUndefined();
    expect(fullTargetError(new Error('EIO'), 'x', 1)).toBeUndefined();
  });
});
