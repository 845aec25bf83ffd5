// `domu-forge fixup`: a thin CLI over runFixups(). Prints the plan (--dry-run: a unified diff per
// file, a line per node, directory or removal) or what was done, then a summary.

import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { DomuError, oneLine } from '../errors.js';
import { FIXUP_STAGES, runFixups, type FixupOptions, type FixupReport } from '../fixup/index.js';
import { describeAction, formatAction } from '../fixup/plan.js';
import { unifiedDiff } from '../fixup/diff.js';
import { addDomainFlags, domainFromFlags, type DomainFlags } from './xen-config.js';
import { printJson } from './output.js';

const list = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

function printReport(r: FixupReport): void {
  const out: string[] = [];
  const g = r.guest;
  out.push(`guest ${r.root}: ${g.distro.name}, init ${g.init}, kernel ${r.kernel.version ?? '?'} (${r.kernel.flavour}), console ${r.console}`);
  for (const s of r.stages) {
    if (s.status === 'skipped') out.push(`${s.id}: skipped: ${s.reason}`);
    else if (s.status === 'unchanged') out.push(`${s.id}: nothing to do`);
    else {
      out.push(`${s.id}: ${s.actions.length} ${r.dryRun ? 'planned' : 'done'}`);
      for (const a of s.actions) {
        const text = r.dryRun ? formatAction(a) : `${describeAction(a)}\n`;
        out.push(text.replace(/\n$/, '').split('\n').map((l) => `  ${l}`).join('\n'));
      }
    }
    for (const n of s.notes) out.push(`  note: ${n}`);
  }
  const stages = r.stages.filter((s) => s.actions.length > 0).length;
  out.push(r.dryRun ? `dry run: ${r.changes} changes planned in ${stages} stages; nothing was written` : `${r.changes} changes in ${stages} stages`);
  process.stdout.write(`${out.join('\n')}\n`);
}

function jsonReport(r: FixupReport): unknown {
  return {
    ok: true,
    ...r,
    stages: r.stages.map((s) => ({
      ...s,
      actions: s.actions.map((a) => {
        if (a.kind !== 'write') return { ...a, text: describeAction(a) };
        const { before, after, ...rest } = a;
        const u = (x: string | undefined) => (x === undefined ? undefined : Buffer.from(x, 'latin1').toString('utf8'));
        return { ...rest, text: describeAction(a), diff: unifiedDiff(a.path, u(before), u(after)) };
      }),
    })),
  };
}

type FixupFlags = DomainFlags & {
  only?: string[]; skip?: string[]; dryRun?: boolean; json?: boolean; list?: boolean;
  blockMajor?: string; kernelFlavour?: string; init?: string; networkSystem?: string; removeNetGenerator?: boolean;
  rootPasswordHash?: string; authorizedKeys?: string[]; selinux?: string; modulesSource?: string; kernelVersion?: string; excluded?: string[];
};

export function register(program: Command): void {
  const cmd = program
    .command('fixup')
    .description('fix up a guest tree so that it boots as a Xen DomU (fstab, console getty, devices, drivers, menu.lst, network, identity, ...)')
    .argument('[target-root]', 'the guest\'s root directory (e.g. a mounted image)');
  addDomainFlags(cmd)
    .option('--only <ids>', 'run only these stages (comma-separated or repeated; "fstab" or "fixup/fstab")', list)
    .option('--skip <ids>', 'skip these stages', list)
    .option('--dry-run', 'print the plan (a unified diff per file, a line per node, directory or removal); touch nothing')
    .addOption(new Option('--block-major <n>', 'major number for /dev/xvd* nodes (default: from the guest kernel)').choices(['202', '220']))
    .addOption(new Option('--kernel-flavour <kind>', 'the kind of kernel the domain boots (default: detected)').choices(['mainline', 'redhat-xen', 'xensource']))
    .addOption(new Option('--init <system>', 'the guest\'s init system (default: detected)').choices(['systemd', 'upstart', 'sysvinit']))
    .addOption(new Option('--network-system <kind>', 'interface config to write (default: detected)').choices(['ifupdown', 'ifcfg', 'netplan', 'networkd']))
    .option('--remove-net-generator', 'also disable udev\'s persistent-net generator rule')
    .option('--root-password-hash <hash>', 'set root\'s password to this crypt(3) hash (e.g. from `openssl passwd -6`)')
    .option('--authorized-keys <file>', 'add the public keys in this file to root\'s authorized_keys (repeatable)', (v: string, p: string[] = []) => [...p, v])
    .addOption(new Option('--selinux <choice>', 'what to do with an enabled SELinux (default relabel)').choices(['disable', 'permissive', 'relabel', 'keep']))
    .option('--modules-source <dir>', 'where the Dom0 kernel\'s modules are (default /lib/modules)')
    .option('--kernel-version <version>', 'the Dom0 kernel version whose modules to copy (default: from --kernel\'s file name)')
    .option('--excluded <dirs>', 'guest directories the copy left out (e.g. /var,/home): report enabled services whose state was there', list)
    .option('--list', 'list the stages and exit')
    .option('--json', 'print a machine-readable report on stdout')
    .addHelpText('after', `
Stages, in order (ids for --only/--skip):
${FIXUP_STAGES.map((s) => `  ${s.id.padEnd(22)} ${s.description}`).join('\n')}

The domain flags (--hostname, --lvm, --swap, --ip, --pygrub, --kernel, ...) are xen-config's: give the
same ones to both commands and fstab, console, menu.lst and network agree with the config. Without
them, the guest is assumed to have its root on /dev/xvda1 (ext4) and the interface config is kept.
Every path is resolved inside the target root as if chrooted; nothing outside it is written.
A second run changes nothing. Edited files keep their mode and owner.

Examples:
  domu-forge fixup /mnt --hostname banquo --pygrub --swap 512M --dhcp --dry-run
  domu-forge fixup /mnt --hostname duncan --kernel /boot/vmlinuz-$(uname -r) --ip 192.0.2.10 --gateway 192.0.2.1
  domu-forge fixup /mnt --only fstab,console --console xvc0`)
    .action(async (root: string | undefined, opts: FixupFlags) => {
      if (opts.list) {
        process.stdout.write(`${FIXUP_STAGES.map((s) => `${s.id}\t${s.description}`).join('\n')}\n`);
        return;
      }
      if (!root) throw new DomuError('USAGE', 'give the guest\'s root directory');
      const options: FixupOptions = {};
      const domain = await domainFromFlags(opts);
      if (domain) options.domain = domain;
      if (opts.hostname) options.hostname = opts.hostname;
      if (opts.console) options.console = opts.console;
      if (opts.only) options.only = opts.only;
      if (opts.skip) options.skip = opts.skip;
      if (opts.dryRun) options.dryRun = true;
      if (opts.blockMajor) options.blockMajor = Number(opts.blockMajor) as 202 | 220;
      if (opts.kernelFlavour) options.kernelFlavour = opts.kernelFlavour as FixupOptions['kernelFlavour'];
      if (opts.init) options.init = opts.init as FixupOptions['init'];
      if (opts.networkSystem) options.networkSystem = opts.networkSystem as FixupOptions['networkSystem'];
      if (opts.removeNetGenerator) options.removeNetGenerator = true;
      if (opts.rootPasswordHash) options.rootPasswordHash = opts.rootPasswordHash;
      if (opts.selinux) options.selinux = opts.selinux as FixupOptions['selinux'];
      if (opts.modulesSource) options.modulesSource = opts.modulesSource;
      if (opts.kernelVersion) options.kernelVersion = opts.kernelVersion;
      if (opts.excluded) options.excluded = opts.excluded;
      if (opts.authorizedKeys) {
        options.authorizedKeys = opts.authorizedKeys.flatMap((f) => {
          let t: string;
          try {
            t = readFileSync(f, 'utf8');
          } catch (e) {
            throw new DomuError('BAD_INPUT', `cannot read ${f}: ${oneLine(e)}`);
          }
          return t.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
        });
      }
      const report = await runFixups(root, options);
      if (opts.json) printJson(jsonReport(report));
      else printReport(report);
    });
}
