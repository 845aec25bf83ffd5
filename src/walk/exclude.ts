// Exclusion rules, anchored like rsync's: "/var" matches only at the source root, "*.log" or
// "cache/" match at any depth, a trailing "/" matches directories only, "**" crosses slashes.
// Paths are latin1 strings (one char per byte), so non-UTF-8 names match byte for byte.

import { DomuError } from '../errors.js';

/** The cowboy clone's excludes from the seed: recreated empty in the target. */
export const DEFAULT_EXCLUDES: readonly string[] = ['/home', '/mnt', '/tmp', '/proc', '/sys', '/var'];

export interface ExcludeRule {
  pattern: string;
  anchored: boolean;
  dirOnly: boolean;
  /** Matches the whole relative path (anchored, or containing a slash) or just the last component. */
  wholePath: boolean;
  regex: RegExp;
}

function globToRegex(glob: string): string {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, end);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) {
      re += glob[i + 1]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      i++;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return re;
}

export function compileExclude(pattern: string): ExcludeRule {
  if (pattern.length === 0) throw new DomuError('USAGE', 'an exclude pattern must not be empty');
  let p = pattern;
  const dirOnly = p.length > 1 && p.endsWith('/');
  if (dirOnly) p = p.replace(/\/+$/, '');
  const anchored = p.startsWith('/');
  if (anchored) p = p.replace(/^\/+/, '');
  if (p.length === 0) throw new DomuError('USAGE', `exclude pattern "${pattern}" would exclude the whole source`);
  const wholePath = anchored || p.includes('/');
  const body = globToRegex(p);
  // A rule with a slash but not anchored matches at any depth, like rsync's.
  const regex = anchored ? new RegExp(`^${body}$`, 's') : wholePath ? new RegExp(`(^|/)${body}$`, 's') : new RegExp(`^${body}$`, 's');
  return { pattern, anchored, dirOnly, wholePath, regex };
}

export class ExcludeSet {
  readonly rules: readonly ExcludeRule[];

  constructor(patterns: readonly string[]) {
    this.rules = patterns.map(compileExclude);
  }

  /**
   * Whether `rel` (relative to the source root, latin1, no leading slash) is excluded.
   * `name` is its last component.
   */
  matches(rel: string, name: string, isDir: boolean): boolean {
    for (const r of this.rules) {
      if (r.dirOnly && !isDir) continue;
      if (r.regex.test(r.wholePath ? rel : name)) return true;
    }
    return false;
  }
}
