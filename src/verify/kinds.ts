// The kinds of difference verify reports, in the order it lists them.

export const DIFFERENCE_KINDS = [
  'missing', // in the source, not in the target
  'extra', // in the target, not in the source
  'type',
  'content',
  'size',
  'owner',
  'mode',
  'mtime',
  'symlink',
  'device',
  'hardlink',
  'xattr',
  'acl',
  'not-empty', // an excluded directory that should be empty in the target
  'unreadable',
] as const;
export type DifferenceKind = (typeof DIFFERENCE_KINDS)[number];
