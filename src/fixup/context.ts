// The context every fixup stage shares (the guest, its detected traits, the domain model, the
// options) and the planner a stage records its changes with.

import { DomuError } from '../errors.js';
import type { AccessOptions } from './access-options.js';
import type { XenConsole, XenDomain } from '../xen/domain.js';
import { domainConsole } from '../xen/domain.js';
import { domainFromOptions } from '../xen/options.js';
import { classifyHostKernel, detectGuest, kernelVersionOfImage, type GuestInfo, type InitSystem, type KernelFlavour } from './detect.js';
import { GuestFs, guestError } from '../guest/guest-fs.js';
import { applyAction, GuestView, type Action } from './plan.js';

export type NetworkSystem = 'ifupdown' | 'ifcfg' | 'netplan' | 'networkd';
export type SelinuxChoice = 'disable' | 'permissive' | 'relabel' | 'keep';

export interface FixupOptions {
  /** The domain the guest will run as: disks, console, network. Without one, the xen-create-image
   *  defaults for `hostname` (or "domu") are assumed: root on /dev/xvda1 (ext4), DHCP on one vif. */
  domain?: XenDomain;
  /** The guest's host name (may be a FQDN); default the domain's name when a domain is given. */
  hostname?: string;
  /** Override console detection (otherwise the domain's, or hvc0/xvc0 from the guest kernel). */
  console?: XenConsole;
  /** Override the block major for static /dev/xvd* nodes (202 mainline, 220 XenSource). */
  blockMajor?: 202 | 220;
  /** Override the kernel kind detection. */
  kernelFlavour?: KernelFlavour;
  /** Override init system detection. */
  init?: InitSystem;
  /** Which interface config to write; detected from the guest when absent. */
  networkSystem?: NetworkSystem;
  /** Also disable udev's persistent-net generator rule. */
  removeNetGenerator?: boolean;
  /** Root's password, authorized_keys files and the Dom0's accounts (fixup/access). */
  access?: AccessOptions;
  /**
   * Flush each file written to the disk before it replaces the old one (the default), so that a
   * crash leaves the old file or the new one. A build into an image file or a tarball turns it
   * off: its target is a partial file, flushed as a whole when it is closed and only then renamed
   * into place, so a crash leaves no image rather than a half-fixed one, and the flushes in between
   * (each a journal commit, through a loop device and a FUSE export for a fleet overlay) were most
   * of a fleet guest's fixups.
   */
  syncEachFile?: boolean;
  /** A crypt(3) hash for root (e.g. from `openssl passwd -6`). */
  rootPasswordHash?: string;
  /** Public keys to add to root's authorized_keys. */
  authorizedKeys?: string[];
  /** SELinux: disable, permissive, relabel at next boot, or keep. Default: relabel when enabled. */
  selinux?: SelinuxChoice;
  /** Copy kernel modules from this host directory (default /lib/modules) for a Dom0 kernel. */
  modulesSource?: string;
  /** The kernel version whose modules to copy (default: from the domain's kernel file name). */
  kernelVersion?: string;
  /** Guest directories the copy left out (e.g. /var, /home): services whose state lived there are reported. */
  excluded?: string[];
  /** Stage ids to run (default all), and stage ids to skip. "fstab" and "fixup/fstab" both work. */
  only?: string[];
  skip?: string[];
  /** Plan only: touch nothing. */
  dryRun?: boolean;
}

export interface KernelChoice {
  flavour: KernelFlavour;
  version?: string;
  evidence: string;
}

export interface FixupContext {
  root: string;
  fs: GuestFs;
  view: GuestView;
  options: FixupOptions;
  domain: XenDomain;
  /** Whether the domain came from the caller (false: assumed defaults). */
  domainGiven: boolean;
  dryRun: boolean;
  guest: GuestInfo;
  kernel: KernelChoice;
}

export interface StageResult {
  id: string;
  status: 'changed' | 'unchanged' | 'skipped';
  /** Why a stage did not apply. */
  reason?: string;
  actions: Action[];
  /** Findings for the user (left alone, worth a look). */
  notes: string[];
}

export interface FixupStage {
  id: string;
  description: string;
  run: (ctx: FixupContext) => Promise<StageResult>;
}

function splitRdev(rdev: bigint): { major: number; minor: number } {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}

/** Records a stage's changes; reads go through the view, which sees what the stage already planned. */
export class StagePlanner {
  readonly actions: Action[] = [];
  readonly notes: string[] = [];
  private readonly view: GuestView;

  constructor(view: GuestView) {
    this.view = view;
  }

  private push(a: Action): void {
    this.actions.push(a);
    this.view.record(a);
  }

  note(message: string): void {
    this.notes.push(message);
  }

  /** mkdir -p with this mode for the directories created (existing ones are left as they are). */
  async ensureDir(path: string, mode = 0o755, owner?: { uid: number; gid: number }): Promise<void> {
    // walk the canonical path: a dangling symlink on the way (/etc -> /elsewhere/etc) means
    // creating its target's directories inside the guest, as mkdir -p in a chroot would
    const canonical = (await this.view.canonical(path)).guestPath;
    const parts = canonical.split('/').filter((c) => c && c !== '.');
    for (let i = 1; i <= parts.length; i += 1) {
      const p = `/${parts.slice(0, i).join('/')}`;
      const kind = await this.view.kind(p);
      if (kind === 'dir') continue;
      if (kind !== undefined) throw guestError(`guest path ${p} is not a directory`);
      const r = await this.view.canonical(p);
      const last = i === parts.length;
      this.push({ kind: 'mkdir', path: r.guestPath, mode: last ? mode : 0o755, ...(last && owner ? owner : {}) });
    }
  }

  /** Give an existing directory this mode. */
  async chmodDir(path: string, mode: number): Promise<void> {
    const r = await this.view.canonical(path, false);
    if (!r.stat?.isDirectory()) return;
    const from = Number(r.stat.mode & 0o7777n);
    if (from !== mode) this.push({ kind: 'chmod', path: r.guestPath, mode, from });
  }

  /**
   * Make a file hold `content`. An existing file keeps its mode and owner unless given; a new one is
   * 0644 root:root unless given. Parent directories are created. Returns whether anything changes.
   */
  async writeFile(path: string, content: string, attrs: { mode?: number; uid?: number; gid?: number } = {}): Promise<boolean> {
    const r = await this.view.canonical(path);
    const kind = await this.view.kind(r.guestPath);
    if (kind !== undefined && kind !== 'file') throw guestError(`guest path ${r.guestPath} exists and is not a regular file`);
    const before = kind === 'file' ? await this.view.readText(r.guestPath) : undefined;
    const cur = kind === 'file' ? await this.fileAttrs(r.guestPath) : undefined;
    const mode = attrs.mode ?? cur?.mode ?? 0o644;
    const uid = attrs.uid ?? cur?.uid ?? 0;
    const gid = attrs.gid ?? cur?.gid ?? 0;
    if (before === content && cur && cur.mode === mode && cur.uid === uid && cur.gid === gid) return false;
    await this.ensureDir(r.guestPath.slice(0, r.guestPath.lastIndexOf('/')) || '/');
    const a: Action = { kind: 'write', path: r.guestPath, after: content, mode, uid, gid };
    if (before !== undefined) a.before = before;
    if (cur && cur.nlink > 1) a.hardLinks = cur.nlink;
    this.push(a);
    return true;
  }

  private async fileAttrs(canonical: string): Promise<{ mode: number; uid: number; gid: number; nlink: number }> {
    const planned = [...this.actions].reverse().find((a) => a.kind === 'write' && a.path === canonical);
    if (planned && planned.kind === 'write') return { mode: planned.mode, uid: planned.uid, gid: planned.gid, nlink: 1 };
    const st = (await this.view.canonical(canonical)).stat!;
    return { mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), nlink: Number(st.nlink) };
  }

  /** A device node; an existing entry is kept (noted when it is not the node asked for). */
  async mknod(path: string, type: 'b' | 'c', major: number, minor: number, mode: number): Promise<void> {
    const r = await this.view.canonical(path, false);
    const kind = await this.view.kind(r.guestPath, false);
    if (kind !== undefined) {
      const st = r.stat;
      const want = type === 'b' ? st?.isBlockDevice() : st?.isCharacterDevice();
      if (st && want) {
        const d = splitRdev(st.rdev);
        if (d.major === major && d.minor === minor) return;
        this.note(`${r.guestPath} is ${type} ${d.major} ${d.minor}, not ${major} ${minor}; left alone`);
      } else if (st) this.note(`${r.guestPath} exists and is not a device node; left alone`);
      return;
    }
    await this.ensureDir(r.guestPath.slice(0, r.guestPath.lastIndexOf('/')) || '/');
    this.push({ kind: 'mknod', path: r.guestPath, type, major, minor, mode });
  }

  /** A symlink; an existing one to another target is replaced when `replace`, anything else is noted. */
  async symlink(path: string, target: string, options: { replace?: boolean } = {}): Promise<void> {
    const r = await this.view.canonical(path, false);
    const kind = await this.view.kind(r.guestPath, false);
    if (kind === 'symlink') {
      const cur = await this.view.readlink(r.guestPath);
      if (cur === target) return;
      if (!options.replace) {
        this.note(`${r.guestPath} points to ${cur}, not ${target}; left alone`);
        return;
      }
      this.push({ kind: 'remove', path: r.guestPath, what: `symlink to ${cur}` });
    } else if (kind !== undefined) {
      this.note(`${r.guestPath} exists and is not a symlink; left alone`);
      return;
    }
    await this.ensureDir(r.guestPath.slice(0, r.guestPath.lastIndexOf('/')) || '/');
    this.push({ kind: 'symlink', path: r.guestPath, target });
  }

  /** Remove a file, symlink or node if present. */
  async remove(path: string, why: string): Promise<boolean> {
    const r = await this.view.canonical(path, false);
    const kind = await this.view.kind(r.guestPath, false);
    if (kind === undefined) return false;
    if (kind === 'dir') {
      this.note(`${r.guestPath} is a directory; not removed`);
      return false;
    }
    this.push({ kind: 'remove', path: r.guestPath, what: why });
    return true;
  }

  async rename(from: string, to: string): Promise<void> {
    const a = await this.view.canonical(from, false);
    const b = await this.view.canonical(to, false);
    if (await this.view.exists(b.guestPath, false)) {
      this.note(`${b.guestPath} already exists; ${a.guestPath} left alone`);
      return;
    }
    this.push({ kind: 'rename', path: a.guestPath, to: b.guestPath });
  }

  async copyTree(hostSource: string, path: string): Promise<void> {
    const r = await this.view.canonical(path, false);
    if (await this.view.exists(r.guestPath, false)) return;
    await this.ensureDir(r.guestPath.slice(0, r.guestPath.lastIndexOf('/')) || '/');
    this.push({ kind: 'copy-tree', path: r.guestPath, from: hostSource });
  }
}

/** Wrap a stage's planning function: apply its actions unless this is a dry run. */
export function defineStage(
  name: string,
  description: string,
  plan: (ctx: FixupContext, p: StagePlanner) => Promise<string | void>,
): FixupStage {
  const id = `fixup/${name}`;
  return {
    id,
    description,
    run: async (ctx) => {
      const p = new StagePlanner(ctx.view);
      let skipped: string | void;
      try {
        skipped = await plan(ctx, p);
      } catch (e) {
        ctx.view.clear();
        if (e instanceof DomuError) throw new DomuError(e.code, `${id}: ${e.message}`, e.hint === undefined ? { cause: e } : { cause: e, hint: e.hint });
        throw e;
      }
      if (typeof skipped === 'string') {
        const r: StageResult = { id, status: 'skipped', reason: skipped, actions: [], notes: p.notes };
        return r;
      }
      if (!ctx.dryRun) {
        ctx.view.clear();
        for (const a of p.actions) {
          try {
            await applyAction(ctx.fs, a);
          } catch (e) {
            if (e instanceof DomuError) throw new DomuError(e.code, `${id}: ${e.message}`, { cause: e });
            throw e;
          }
        }
      }
      return { id, status: p.actions.length > 0 ? 'changed' : 'unchanged', actions: p.actions, notes: p.notes };
    },
  };
}

/** Which kernel the domain boots and of what kind: option, the Dom0 kernel it names, or the guest's newest. */
function chooseKernel(domain: XenDomain, guest: GuestInfo, options: FixupOptions): KernelChoice {
  if (options.kernelFlavour) return { flavour: options.kernelFlavour, evidence: 'given by option' };
  if (domain.kernel && !domain.bootloader) {
    const version = options.kernelVersion ?? kernelVersionOfImage(domain.kernel);
    if (version) {
      const inGuest = guest.kernels.find((k) => k.version === version);
      if (inGuest) return { flavour: inGuest.flavour, version, evidence: inGuest.evidence };
      const host = classifyHostKernel(version, options.modulesSource ?? '/lib/modules');
      if (host) return { flavour: host.flavour, version, evidence: `Dom0 kernel: ${host.evidence}` };
      return { ...classifyFromName(version), version };
    }
  }
  const newest = guest.kernels[0];
  if (newest) return { flavour: newest.flavour, version: newest.version, evidence: newest.evidence };
  return { flavour: 'mainline', evidence: 'no kernel found in the guest: assuming a mainline kernel' };
}

function classifyFromName(version: string): KernelChoice {
  if (/el5xen$/.test(version)) return { flavour: 'redhat-xen', evidence: `${version} is named as a Red Hat XenLinux kernel` };
  if (/^2\.6\.(1[0-9])(\.\d+)*-xen[0U]?$/.test(version)) return { flavour: 'xensource', evidence: `${version} is named as a XenSource kernel` };
  return { flavour: 'mainline', evidence: `${version}: assuming a mainline kernel` };
}

/** Build the shared context: open the guest, detect what it is, settle the domain model. */
export async function createFixupContext(root: string, options: FixupOptions = {}): Promise<FixupContext> {
  const fs = new GuestFs(root, { syncEachFile: options.syncEachFile ?? true });
  const view = new GuestView(fs);
  const guest = await detectGuest(view);
  if (options.init) guest.init = options.init;
  const domainGiven = options.domain !== undefined;
  let domain: XenDomain = options.domain ?? domainFromOptions({ hostname: (options.hostname ?? 'domu').split('.')[0]! || 'domu' });
  if (options.console && domain.console !== options.console) domain = { ...domain, console: options.console };
  const kernel = chooseKernel(domain, guest, options);
  return { root: fs.root, fs, view, options, domain, domainGiven, dryRun: options.dryRun ?? false, guest, kernel };
}

/** The guest's Xen console, from the same model the config writer uses. */
export function consoleOf(ctx: FixupContext): XenConsole {
  return domainConsole(ctx.domain, ctx.kernel.flavour !== 'mainline');
}

