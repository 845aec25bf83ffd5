// The kinds of difference verify reports, in the order it lists them (scripts read the --json kinds).
import { describe, expect, it } from 'vitest';
import { DIFFERENCE_KINDS } from '../../src/verify/kinds.js';

describe('DIFFERENCE_KINDS', () => {
  it('keeps its names and order', () => {
    expect(DIFFERENCE_KINDS).toEqual(['missing', 'extra', 'type', 'content', 'size', 'owner', 'mode', 'mtime', 'symlink', 'device', 'hardlink', 'xattr', 'acl', 'not-empty', 'unreadable']);
  });
});
