// Plans before actions. A stage reads the guest through a GuestView and records what it would change
// as Actions. The runner applies them (or, for --dry-run, only records them in the view's overlay so
// that later stages plan against the tree as it would be). Printing a plan and applying it walk the
// same list, so the plan shown is what a real run does.

import { DomuError, oneLine } from '../errors.js';
import { unifiedDiff } from './diff.js';
import { GuestFs, DEFAULT_MAX_TEXT_BYTES, type Resolved } from '../guest/guest-fs.js';

export type Action =
  | { kind: 'write'; path: string; before?: string; after: string; mode: number; uid: number; gid: number; hardLinks?: number }
  | { kind: 'mkdir'; path: string; mode: number; uid?: number; gid?: number }
  | { kind: 'chmod'; path: string; mode: number; from: number }
  | { kind: 'mknod'; path: string; type: 'b' | 'c'; major: number; minor: number; mode: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'remove'; path: string; what: string }
  | { kind: 'rename'; path: string; to: string }
  | { kind: 'copy-tree'; path: string; from: string };

type OverlayEntry = { kind: 'file'; data: string; mode: number; uid: number; gid: number } | { kind: 'dir' } | { kind: 'other' } | { kind: 'absent' };

const parentOf = (p: string) => (p.lastIndexOf('/') <= 0 ? '/' : p.slice(0, p.lastIndexOf('/')));
const baseOf = (p: string) => p.slice(p.lastIndexOf('/') + 1);
const oct = (m: number) => m.toString(8).padStart(4, '0');

/**
 * The guest as the stages see it: the real tree, with the changes of earlier stages laid over it in
 * a dry run. (An overlay symlink is not followed when resolving later paths: no stage reads through
 * a link that an earlier stage made.)
 */
export class GuestView {
  readonly fs: GuestFs;
  private readonly overlay = new Map<string, OverlayEntry>();

  constructor(fs: GuestFs) {
    this.fs = fs;
  }

  async canonical(path: string, followLast = true): Promise<Resolved> {
    return this.fs.resolve(path, { followLast });
  }

  private entry(canonical: string): OverlayEntry | undefined {
    // a removed or renamed-away ancestor hides everything below it
    for (let p = canonical; ; p = parentOf(p)) {
      const e = this.overlay.get(p);
      if (e && (p === canonical || e.kind === 'absent')) return p === canonical ? e : { kind: 'absent' };
      if (p === '/') return undefined;
    }
  }

  /** What is at a path: 'file', 'dir', 'symlink', 'other' or undefined. */
  async kind(path: string, followLast = true): Promise<'file' | 'dir' | 'symlink' | 'other' | undefined> {
    const r = await this.canonical(path, followLast);
    const e = this.entry(r.guestPath);
    if (e) return e.kind === 'absent' ? undefined : e.kind === 'file' ? 'file' : e.kind === 'dir' ? 'dir' : 'other';
    if (!r.stat) return undefined;
    if (r.stat.isFile()) return 'file';
    if (r.stat.isDirectory()) return 'dir';
    if (r.stat.isSymbolicLink()) return 'symlink';
    return 'other';
  }

  async exists(path: string, followLast = true): Promise<boolean> {
    try {
      return (await this.kind(path, followLast)) !== undefined;
    } catch {
      return false;
    }
  }

  async readText(path: string, maxBytes = DEFAULT_MAX_TEXT_BYTES): Promise<string | undefined> {
    const r = await this.canonical(path);
    const e = this.entry(r.guestPath);
    if (e?.kind === 'file') return e.data;
    if (e) return undefined;
    return this.fs.readText(r.guestPath, maxBytes);
  }

  async list(path: string): Promise<string[]> {
    const r = await this.canonical(path);
    const e = this.entry(r.guestPath);
    const names = new Set(e?.kind === 'absent' ? [] : await this.fs.list(r.guestPath));
    for (const [p, v] of this.overlay) {
      if (parentOf(p) === r.guestPath && p !== '/') {
        if (v.kind === 'absent') names.delete(baseOf(p));
        else names.add(baseOf(p));
      }
    }
    return [...names].sort();
  }

  async readlink(path: string): Promise<string | undefined> {
    const r = await this.canonical(path, false);
    if (this.entry(r.guestPath)) return undefined;
    return this.fs.readlink(r.guestPath);
  }

  /** Record an action's effect so that later reads see it (dry runs and the stage's own later reads). */
  record(a: Action): void {
    switch (a.kind) {
      case 'write':
        this.overlay.set(a.path, { kind: 'file', data: a.after, mode: a.mode, uid: a.uid, gid: a.gid });
        break;
      case 'mkdir':
        this.overlay.set(a.path, { kind: 'dir' });
        break;
      case 'mknod':
      case 'symlink':
        this.overlay.set(a.path, { kind: 'other' });
        break;
      case 'copy-tree':
        this.overlay.set(a.path, { kind: 'dir' });
        break;
      case 'remove':
        this.overlay.set(a.path, { kind: 'absent' });
        break;
      case 'rename':
        this.overlay.set(a.path, { kind: 'absent' });
        this.overlay.set(a.to, { kind: 'other' });
        break;
      case 'chmod':
        break;
    }
  }

  /** Forget the overlay (after a real apply, the disk is the truth again). */
  clear(): void {
    this.overlay.clear();
  }
}

/** One line describing an action, as --dry-run and the summary print it. */
export function describeAction(a: Action): string {
  switch (a.kind) {
    case 'write': {
      const verb = a.before === undefined ? 'create' : 'edit';
      const links = a.hardLinks && a.hardLinks > 1 ? `; replaced by rename, its ${a.hardLinks} hard links keep the old content` : '';
      return `${verb} ${a.path} (${oct(a.mode)} ${a.uid}:${a.gid}${links})`;
    }
    case 'mkdir':
      return `mkdir ${a.path} (${oct(a.mode)}${a.uid !== undefined ? ` ${a.uid}:${a.gid ?? 0}` : ''})`;
    case 'chmod':
      return `chmod ${a.path} ${oct(a.from)} -> ${oct(a.mode)}`;
    case 'mknod':
      return `mknod ${a.path} ${a.type} ${a.major} ${a.minor} (${oct(a.mode)})`;
    case 'symlink':
      return `symlink ${a.path} -> ${a.target}`;
    case 'remove':
      return `remove ${a.path} (${a.what})`;
    case 'rename':
      return `rename ${a.path} -> ${a.to}`;
    case 'copy-tree':
      return `copy ${a.from} (host) -> ${a.path}`;
  }
}

/** The describing line, plus a unified diff for file writes. */
export function formatAction(a: Action): string {
  const line = describeAction(a);
  if (a.kind !== 'write') return `${line}\n`;
  // show the bytes as UTF-8 where they are (the plan is read by people)
  const u = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s, 'latin1').toString('utf8'));
  return `${line}\n${unifiedDiff(a.path, u(a.before), u(a.after))}`;
}

/** Apply one action to the guest. */
export async function applyAction(fs: GuestFs, a: Action): Promise<void> {
  try {
    switch (a.kind) {
      case 'write':
        await fs.writeFile(a.path, a.after, { mode: a.mode, uid: a.uid, gid: a.gid });
        break;
      case 'mkdir':
        await fs.mkdir(a.path, a.mode, a.uid === undefined ? {} : { uid: a.uid, gid: a.gid ?? 0 });
        break;
      case 'chmod':
        await fs.chmodDir(a.path, a.mode);
        break;
      case 'mknod':
        await fs.mknod(a.path, a.type, a.major, a.minor, a.mode);
        break;
      case 'symlink':
        await fs.symlink(a.path, a.target);
        break;
      case 'remove':
        await fs.remove(a.path);
        break;
      case 'rename':
        await fs.rename(a.path, a.to);
        break;
      case 'copy-tree':
        await fs.copyTreeIn(a.from, a.path);
        break;
    }
  } catch (e) {
    if (e instanceof DomuError) throw e;
    throw new DomuError('BAD_INPUT', `${describeAction(a)}: ${oneLine(e)}`, { cause: e });
  }
}
