// `domu-forge xen-config`: a thin CLI over writeDomainConfig(). Also owns the xen-create-image style
// domain flags that `fixup` shares, so that both commands build the same model from the same flags.

import { Command, Option } from 'commander';
import { DomuError } from '../errors.js';
import type { XenDomain } from '../xen/domain.js';
import { domainFromOptions, readDomainFile, type DomainOptions } from '../xen/options.js';
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

/** The flags that describe a domain (xen-create-image's names where it has one). */
export function addDomainFlags(cmd: Command): Command {
  return cmd
    .option('--domain <file>', 'read the whole domain model from a YAML/JSON file instead of flags')
    .option('--hostname <name>', 'the guest\'s host name; its first label names the domain')
    .addOption(new Option('--type <type>', 'domain type').choices(['pv', 'pvh', 'hvm']))
    .option('--memory <size>', 'memory: MiB, or 512M, 1G (default 512M)')
    .option('--maxmem <size>', 'maximum memory for ballooning')
    .option('--vcpus <n>', 'virtual CPUs (default 1)', positiveInt('--vcpus'))
    .option('--pygrub', 'boot the kernel in the guest\'s /boot through PyGRUB (bootloader = "pygrub")')
    .option('--kernel <path>', 'a Dom0 kernel image to boot')
    .option('--initrd <path>', 'its initrd (ramdisk)')
    .option('--root <device>', 'the root= device (default: the disk mounted on /)')
    .option('--extra <args>', 'extra kernel command line')
    .addOption(new Option('--console <dev>', 'the guest\'s Xen console (default hvc0; xvc0 for legacy kernels)').choices(['hvc0', 'xvc0', 'ttyS0']))
    .option('--lvm <vg>', 'disks are the volumes VG/HOST-disk and VG/HOST-swap')
    .option('--dir <dir>', 'disks are the images DIR/domains/HOST/disk.img and swap.img (default /srv/xen)')
    .option('--image-dev <path>', 'the root disk is this device or image file')
    .option('--swap-dev <path>', 'the swap disk is this device or image file')
    .option('--size <size>', 'root disk size (used by targets; accepted here so one flag set serves all commands)')
    .option('--swap <size>', 'give the domain a swap disk (xvda2) of this size')
    .option('--fs <type>', 'root filesystem type (default ext4)')
    .option('--ip <address>', 'static IPv4 address (also the vif\'s ip=)')
    .option('--netmask <mask>', 'netmask, dotted or prefix length (default 255.255.255.0)')
    .option('--gateway <address>', 'default gateway')
    .option('--nameserver <address>', 'DNS server for a static config (repeatable, or comma-separated)', collect)
    .option('--dhcp', 'configure the guest\'s interface with DHCP (the default without --ip)')
    .option('--mac <mac>', 'MAC of the vif (default: derived from the name in Xen\'s 00:16:3e range)')
    .option('--bridge <bridge>', 'Dom0 bridge of the vif')
    .addOption(new Option('--on-poweroff <action>').choices(ACTIONS))
    .addOption(new Option('--on-reboot <action>').choices(ACTIONS))
    .addOption(new Option('--on-crash <action>').choices(ACTIONS));
}

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
  copy('lvm', f.lvm);
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
Disk layout (as xen-create-image): root on xvda1, swap (with --swap) on xvda2; phy: for LVM volumes and
devices, xl's "format=raw, vdev=..., target=..." form for image files.

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
