// Rendering a domain model as an xl config file, or as the legacy xm (Python) form.

import { DomuError } from '../errors.js';
import { domainConsole, kernelRoot, PVGRUB, PVGRUB_IMAGE, vifMac, type DomainDisk, type XenDomain } from './domain.js';
import { assertValidDomain, type ValidateOptions } from './validate.js';

export type ConfigFormat = 'xl' | 'xm';

const q = (s: string) => `"${s}"`;

function kernelExtra(domain: XenDomain, legacyKernel: boolean): string {
  const extra = domain.extra?.trim() ?? '';
  if (/(^|\s)console=/.test(extra)) return extra;
  const console = `console=${domainConsole(domain, legacyKernel)}`;
  return extra ? `${console} ${extra}` : console;
}

function diskSpec(disk: DomainDisk, format: ConfigFormat): string {
  const access = disk.access ?? 'rw';
  const fmt = disk.format ?? 'raw';
  if (format === 'xm') {
    const prefix = disk.backend === 'phy' ? 'phy:' : fmt === 'raw' ? 'file:' : `tap:${fmt}:`;
    return `${prefix}${disk.target},${disk.vdev},${access === 'rw' ? 'w' : 'r'}`;
  }
  const keyValue = disk.keyValue ?? disk.backend === 'file';
  if (!keyValue) {
    if (disk.backend === 'file' && fmt !== 'raw') return `format=${fmt}, vdev=${disk.vdev}, access=${access}, target=${disk.target}`;
    return `${disk.backend}:${disk.target},${disk.vdev},${access === 'rw' ? 'w' : 'r'}`;
  }
  // xl requires target= last: it may hold commas
  return `format=${fmt}, vdev=${disk.vdev}, access=${access}, target=${disk.target}`;
}

function vifSpec(domain: XenDomain, index: number): string {
  const vif = domain.vifs[index]!;
  const parts = [`mac=${vifMac(domain, index)}`];
  if (vif.bridge) parts.push(`bridge=${vif.bridge}`);
  if (vif.ip) parts.push(`ip=${vif.ip}`);
  return parts.join(', ');
}

function list(items: string[]): string {
  if (items.length === 0) return '[ ]';
  if (items.length === 1) return `[ '${items[0]}' ]`;
  return `[\n${items.map((i) => `    '${i}',`).join('\n')}\n]`;
}

export interface RenderOptions extends ValidateOptions {
  /** The guest boots a legacy XenLinux kernel (console xvc0 instead of hvc0). */
  legacyKernel?: boolean;
  /** A comment line for the header (e.g. what made the file). */
  comment?: string;
  /** The pvgrub image for bootloader "pvgrub" (default Debian grub-xen-host's PVGRUB_IMAGE). */
  pvgrubImage?: string;
}

function render(domain: XenDomain, format: ConfigFormat, options: RenderOptions): string {
  assertValidDomain(domain, options);
  const legacy = options.legacyKernel ?? false;
  const lines: string[] = [];
  const set = (key: string, value: string | number) => lines.push(`${key.padEnd(11)} = ${value}`);
  lines.push(`# Xen domain "${domain.name}" (${format} config), written by domu-forge.`);
  if (options.comment) lines.push(`# ${options.comment.replace(/\n/g, ' ')}`);
  lines.push('');
  set('name', q(domain.name));
  if (format === 'xl') set('type', q(domain.type));
  else if (domain.type === 'pvh') throw new DomuError('BAD_INPUT', 'type pvh has no xm form: write an xl config instead');
  else if (domain.type === 'hvm') set('builder', q('hvm'));
  set('memory', domain.memory);
  if (domain.maxmem !== undefined) set('maxmem', domain.maxmem);
  set('vcpus', domain.vcpus);
  if (domain.maxvcpus !== undefined) set('maxvcpus', domain.maxvcpus);
  lines.push('');
  if (domain.bootloader === PVGRUB) {
    // GRUB for Xen PV is the domain's kernel; it reads the guest's own /boot/grub/grub.cfg, so no
    // guest-controlled file is parsed in Dom0 (as PyGRUB does)
    set('kernel', q(options.pvgrubImage ?? PVGRUB_IMAGE));
  } else if (domain.bootloader !== undefined) {
    // xm wants a path; xl finds "pygrub" in its own directory
    const bl = format === 'xm' && domain.bootloader === 'pygrub' ? '/usr/bin/pygrub' : domain.bootloader;
    set('bootloader', q(bl));
    if (domain.extra) set('extra', q(domain.extra.trim()));
  } else if (domain.kernel !== undefined) {
    set('kernel', q(domain.kernel));
    if (domain.ramdisk !== undefined) set('ramdisk', q(domain.ramdisk));
    const root = kernelRoot(domain);
    if (root) set('root', q(`${root} ro`));
    set('extra', q(kernelExtra(domain, legacy)));
  } else if (format === 'xm' && domain.type === 'hvm') {
    set('kernel', q('/usr/lib/xen/boot/hvmloader'));
  }
  lines.push('');
  set('disk', list(domain.disks.map((d) => diskSpec(d, format))));
  set('vif', list(domain.vifs.map((_, i) => vifSpec(domain, i))));
  lines.push('');
  set('on_poweroff', q(domain.onPoweroff ?? 'destroy'));
  set('on_reboot', q(domain.onReboot ?? 'restart'));
  set('on_crash', q(domain.onCrash ?? 'restart'));
  return `${lines.join('\n')}\n`;
}

/** The domain as an xl config file (xl.cfg(5)). Validates first; throws BAD_INPUT listing every problem. */
export function renderXlConfig(domain: XenDomain, options: RenderOptions = {}): string {
  return render(domain, 'xl', options);
}

/** The domain in the legacy xm form (Python syntax; pvh has none). */
export function renderXmConfig(domain: XenDomain, options: RenderOptions = {}): string {
  return render(domain, 'xm', options);
}
