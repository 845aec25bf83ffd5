// `domu-forge xen-config`: a thin CLI over writeDomainConfig(). Also owns the xen-create-image style
// domain flags that `fixup` shares, so that both commands build the same model from the same flags.

import { Command, Option } from 'commander';
import { DomuError } from '../errors.js';
import type { XenDomain } from '../xen/domain.js';
import { DEFAULT_IMAGE_DIR, domainFromOptions, readDomainFile, type DomainOptions } from '../xen/options.js';
import { FLAG } from '../spec/flags.js';
import { addFlag, lvmVolume } from './target-options.js';
import { guestVolumeNames, swapVolumeOf } from '../targets/lvm.js';
import { sizeBytes } from '../sys/size.js';
import { DEFAULT_CONFIG_DIR, writeDomainConfig } from '../xen/write.js';
import { printJson } from './output.js';
import { consoleOf, createFixupContext } from '../fixup/context.js';

const ACTIONS = ['destroy', 'restart', 'rename-restart', 'preserve', 'coredump-destroy', 'coredump-restart', 'soft-reset'];

function positiveInt(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new DomuError('USAGE', `${name} must be a positive integer, not "${v}"`);
    return Number(v);
  };
}

const collect = (v: string, prev: string[] = []) => [...prev, ...v.split(',').filter(Boolean)];
const flagText = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The flags that describe a domain (xen-create-image's names where it has one), declared once in src/spec/flags.ts where build has the same flag. */
export function addDomainFlags(cmd: Command): Command {
  cmd
    .option('--domain <file>', 'read the whole domain model from a YAML/JSON file instead of flags')
    .option('--hostname <name>', 'the guest\'s host name; its first label names the domain');
  addFlag(cmd, FLAG.type);
  addFlag(cmd, FLAG.memory);
  cmd.option('--maxmem <size>', 'maximum memory for ballooning');
  addFlag(cmd, FLAG.vcpus, positiveInt('--vcpus'));
  addFlag(cmd, FLAG.pygrub);
  addFlag(cmd, FLAG.kernel);
  addFlag(cmd, FLAG.initrd);
  cmd.option('--root <device>', 'the root= device (default: the disk mounted on /)');
  addFlag(cmd, FLAG.extra);
  addFlag(cmd, FLAG.console);
  addFlag(cmd, { ...FLAG.lvm, description: 'disks are LVM volumes: VG (VG/HOST-disk and VG/HOST-swap, as xen-tools names them) or VG/LV (swap VG/LV-swap)' });
  addFlag(cmd, { ...FLAG.dir, description: `disks are the images DIR/domains/HOST/disk.img and swap.img (xen-create-image's --dir; default ${DEFAULT_IMAGE_DIR})` });
  cmd
    .option('--image-dev <path>', 'the root disk is this device or image file')
    .option('--swap-dev <path>', 'the swap disk is this device or image file');
  addFlag(cmd, { ...FLAG.size, description: 'root disk size (used by targets; accepted here so one flag set serves all commands)' });
  addFlag(cmd, FLAG.swap);
  addFlag(cmd, FLAG.fs);
  addFlag(cmd, FLAG.ip);
  addFlag(cmd, FLAG.netmask);
  addFlag(cmd, FLAG.gateway);
  cmd.option('--nameserver <address>', 'DNS server for a static config (repeatable, or comma-separated)', collect);
  addFlag(cmd, FLAG.dhcp);
  addFlag(cmd, FLAG.mac);
  addFlag(cmd, FLAG.bridge);
  return cmd
    .addOption(new Option('--on-poweroff <action>').choices(ACTIONS))
    .addOption(new Option('--on-reboot <action>').choices(ACTIONS))
    .addOption(new Option('--on-crash <action>').choices(ACTIONS));
}

/** The disks' flags that exclude each other: two given together are refused, naming both. */
const DISK_FLAGS = ['lvm', 'dir', 'imageDev'] as const;

export interface DomainFlags {
  domain?: string;
  hostname?: string;
  type?: 'pv' | 'pvh' | 'hvm';
  memory?: string;
  maxmem?: string;
  vcpus?: number;
  pygrub?: boolean;
  kernel?: string;
  initrd?: string;
  root?: string;
  extra?: string;
  console?: 'hvc0' | 'xvc0' | 'ttyS0';
  lvm?: string;
  dir?: string;
  imageDev?: string;
  swapDev?: string;
  size?: string;
  swap?: string;
  fs?: string;
  ip?: string;
  netmask?: string;
  gateway?: string;
  nameserver?: string[];
  dhcp?: boolean;
  mac?: string;
  bridge?: string;
  onPoweroff?: string;
  onReboot?: string;
  onCrash?: string;
}

const MODEL_FLAGS: Array<keyof DomainFlags> = ['type', 'memory', 'maxmem', 'vcpus', 'pygrub', 'kernel', 'initrd', 'root', 'extra', 'lvm', 'dir', 'imageDev', 'swapDev', 'swap', 'fs', 'ip', 'netmask', 'gateway', 'nameserver', 'dhcp', 'mac', 'bridge', 'onPoweroff', 'onReboot', 'onCrash'];

/** The domain the flags describe, or undefined when they describe none (no --domain, --hostname or model flag). */
export async function domainFromFlags(f: DomainFlags): Promise<XenDomain | undefined> {
  if (f.domain) {
    const used = MODEL_FLAGS.filter((k) => f[k] !== undefined);
    if (used.length > 0) throw new DomuError('USAGE', `--domain gives the whole model; drop ${used.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}`);
    const d = await readDomainFile(f.domain);
    return f.console ? { ...d, console: f.console } : d;
  }
  if (!f.hostname) {
    const used = MODEL_FLAGS.filter((k) => f[k] !== undefined);
    if (used.length > 0) throw new DomuError('USAGE', '--hostname is required with domain flags');
    return undefined;
  }
  const disks = DISK_FLAGS.filter((k) => f[k] !== undefined);
  if (disks.length > 1) throw new DomuError('USAGE', `${flagText(disks[0]!)} conflicts with ${flagText(disks[1]!)}: give one place for the disks`);
  const o: DomainOptions = { hostname: f.hostname };
  const copy = <K extends keyof DomainOptions>(k: K, v: DomainOptions[K] | undefined) => {
    if (v !== undefined) o[k] = v;
  };
  copy('type', f.type);
  copy('memory', f.memory);
  copy('maxmem', f.maxmem);
  copy('vcpus', f.vcpus);
  copy('pygrub', f.pygrub);
  copy('kernel', f.kernel);
  copy('initrd', f.initrd);
  copy('root', f.root);
  copy('extra', f.extra);
  copy('console', f.console);
  if (f.lvm !== undefined) {
    // VG: xen-tools' HOST-disk and HOST-swap (domainFromOptions); VG/LV: that volume, its swap LV-swap
    const { vg, lv } = lvmVolume(f.lvm, f.hostname.split('.')[0]);
    if (lv === guestVolumeNames(f.hostname.split('.')[0]!).disk) copy('lvm', vg);
    else {
      copy('imageDev', `/dev/${vg}/${lv}`);
      if (f.swap !== undefined && f.swapDev === undefined && sizeBytes(f.swap) !== undefined) copy('swapDev', `/dev/${vg}/${swapVolumeOf(lv)}`);
    }
  }
  copy('dir', f.dir);
  copy('imageDev', f.imageDev);
  copy('swapDev', f.swapDev);
  copy('size', f.size);
  copy('swap', f.swap);
  copy('fs', f.fs);
  copy('ip', f.ip);
  copy('netmask', f.netmask);
  copy('gateway', f.gateway);
  copy('nameservers', f.nameserver);
  copy('dhcp', f.dhcp);
  copy('mac', f.mac);
  copy('bridge', f.bridge);
  copy('onPoweroff', f.onPoweroff as DomainOptions['onPoweroff']);
  copy('onReboot', f.onReboot as DomainOptions['onReboot']);
  copy('onCrash', f.onCrash as DomainOptions['onCrash']);
  return domainFromOptions(o);
}

export function register(program: Command): void {
  const cmd = program
    .command('xen-config')
    .description('write the Xen domain config (xl, or the legacy xm form) from a typed model, after checking it');
  addDomainFlags(cmd)
    .option('--output <file>', 'write here instead of DIR/NAME.cfg')
    .option('--output-dir <dir>', `directory for NAME.cfg (default ${DEFAULT_CONFIG_DIR})`)
    .option('--xm', 'write the legacy xm (Python) form instead of xl')
    .option('--legacy-kernel', 'the guest kernel is a legacy XenLinux one (console xvc0)')
    .option('--guest <root>', 'read the guest tree to pick the console its kernel uses (hvc0 or xvc0), as fixup does')
    .option('--no-check', 'do not check that the kernel, initrd and disks exist in this Dom0')
    .option('--force', 'replace an existing config file with other content')
    .option('--dry-run', 'check and print the config; write nothing')
    .option('--json', 'print a machine-readable result on stdout')
    .addHelpText('after', `
Checks before writing (exit 2, nothing written): pygrub with an explicit kernel, a kernel or initrd
that does not exist, a disk that does not exist, duplicate or overlapping vdevs, bad MACs and addresses.
Disk layout (as xen-create-image): swap (with --swap) on xvda1 and root on xvda2; root alone is xvda1.
Volumes are named as xen-tools names them: --lvm VG gives VG/HOST-disk and VG/HOST-swap. phy: for
LVM volumes and devices, xl's "format=raw, vdev=..., target=..." form for image files.

Examples:
  domu-forge xen-config --hostname banquo --pygrub --lvm scotland --swap 512M --bridge xenbr0 --dhcp
  domu-forge xen-config --hostname duncan --kernel /boot/vmlinuz-6.1.0-18-amd64 \\
      --initrd /boot/initrd.img-6.1.0-18-amd64 --dir /srv/xen --ip 192.0.2.10 --gateway 192.0.2.1 --memory 1G
  domu-forge xen-config --domain malcom.yaml --xm --output /etc/xen/malcom`)
    .action(async (opts: DomainFlags & { output?: string; outputDir?: string; xm?: boolean; legacyKernel?: boolean; guest?: string; check: boolean; force?: boolean; dryRun?: boolean; json?: boolean }) => {
      let domain = await domainFromFlags(opts);
      if (!domain) throw new DomuError('USAGE', 'give --hostname (with flags) or --domain FILE');
      if (opts.guest && !domain.console) {
        // the same detection the fixups make, so that config and guest agree
        const ctx = await createFixupContext(opts.guest, { domain, dryRun: true });
        domain = { ...domain, console: consoleOf(ctx) };
      }
      const w: Parameters<typeof writeDomainConfig>[1] = { format: opts.xm ? 'xm' : 'xl', checkPaths: opts.check };
      if (opts.output) w.output = opts.output;
      if (opts.outputDir) w.outputDir = opts.outputDir;
      if (opts.force) w.force = true;
      if (opts.dryRun) w.dryRun = true;
      if (opts.legacyKernel) w.legacyKernel = true;
      const r = await writeDomainConfig(domain, w);
      if (opts.json) {
        printJson({ ok: true, path: r.path, format: r.format, status: r.status, domain, config: r.text });
        return;
      }
      if (opts.dryRun) process.stdout.write(r.text);
      const said = { created: 'wrote', replaced: 'replaced', unchanged: 'unchanged:', planned: 'would write' }[r.status];
      process.stderr.write(`${said} ${r.path} (${r.format})\n`);
    });
}
