// `domu-forge boot-test IMAGE`: a thin CLI over bootTest().
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { DomuError, EXIT_STATUS, errnoCode, oneLine } from '../errors.js';
import { abortOnSignals } from './signals.js';
import { assertBooted, bootTest, type BootTestOptions } from '../boot/boot-test.js';
import { ProgressLine, formatDuration, printJson } from './output.js';

function int(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new DomuError('USAGE', `--${name} takes a whole number, not ${v}`);
    return Number(v);
  };
}

/** The first line of a password file, without its line ending. */
function readPasswordLine(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new DomuError('BAD_INPUT', `--password-file ${file}: ${errnoCode(e) === 'ENOENT' ? 'does not exist' : oneLine(e)}`);
  }
  const line = text.split(/\r?\n/)[0] ?? '';
  if (line === '') throw new DomuError('BAD_INPUT', `--password-file ${file}: the first line is empty`);
  return line;
}

export function register(program: Command): void {
  program
    .command('boot-test')
    .description('prove that a guest image boots: its own kernel under qemu (plain), or as a PV guest under real Xen (--xen)')
    .argument('<image>', 'the guest disk: an image file or block device holding its root filesystem')
    .option('--xen', 'boot under a real Xen hypervisor (itself under qemu) with `xl create`, not straight under qemu')
    .option('--config <file>', 'Xen mode: the guest\'s xl config (disks re-pointed, vif dropped); default: a minimal PV config')
    .option('--kernel <file>', 'guest kernel (default: the newest /boot/vmlinuz-* in the image)')
    .option('--initrd <file>', 'guest initrd (default: the initrd.img of that kernel)')
    .option('--hostname <name>', 'the hostname the login prompt must show (default: the image\'s /etc/hostname)')
    .option('--root <device>', 'plain mode: the root= device (default: fstab\'s UUID=/LABEL=, else /dev/vda)')
    .option('--append <args>', 'extra guest kernel arguments')
    .option('--memory <MiB>', 'guest memory (plain: 1024; Xen: the config\'s, else 512)', int('memory'))
    .option('--vcpus <n>', 'guest vCPUs (default 1)', int('vcpus'))
    .addOption(new Option('--disk-bus <bus>', 'plain mode: how the image is attached').choices(['virtio', 'ide']).default('virtio'))
    .option('--timeout <seconds>', 'give up after this long once qemu runs (plain: 600, Xen: 900)', int('timeout'))
    .option('--log-dir <dir>', 'where the console logs go (default: /var/tmp/domu-forge-boot/NAME-MODE-TIME)')
    .option('--cache-dir <dir>', 'cache for the Xen Dom0 and .deb files (default $DOMU_FORGE_CACHE_DIR, else /var/cache/domu-forge)')
    .option('--mirror <url>', 'Debian mirror for the Dom0', 'http://deb.debian.org/debian')
    .option('--password-file <file>', "log in as root with the password on FILE's first line (the one the build set or printed), not one boot-test sets on a copy")
    .option('--json', 'print the result as JSON on stdout')
    .addHelpText(
      'after',
      `
Passes only when the guest's login prompt shows its own hostname ("NAME login:") AND its init
reports "Detected virtualization xen" (--xen) or "... qemu" (plain) AND, logged in as root on that
console, hostname answers NAME, id -u 0 and systemctl is-system-running --wait "running". The
root password is the one in --password-file, else one boot-test sets on a throwaway copy of the image. The image is never written:
qemu attaches every disk with snapshot=on, and the kernel is read through a read-only mount.
The first --xen run builds a Dom0 (debootstrap + Xen 4.17 from bookworm-security) and caches it.
Exit status 0 when it passed, 6 when it did not; the console log path is printed either way.

Examples:
  domu-forge boot-test out/banquo.img
  domu-forge boot-test --xen --config /etc/xen/banquo.cfg out/banquo.img --json`,
    )
    .action(async (image: string, o: Record<string, unknown>) => {
      if (o.config && !o.xen) throw new DomuError('USAGE', '--config is for the Xen mode (--xen)');
      const progress = new ProgressLine();
      const controller = new AbortController();
      const release = abortOnSignals(controller);
      const options: BootTestOptions = {
        image,
        mode: o.xen ? 'xen' : 'plain',
        signal: controller.signal,
        onProgress: (m) => progress.update(m),
      };
      const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
      const num = (k: string) => (typeof o[k] === 'number' ? (o[k] as number) : undefined);
      if (str('config')) options.config = str('config');
      if (str('kernel')) options.kernel = str('kernel');
      if (str('initrd')) options.initrd = str('initrd');
      if (str('hostname')) options.hostname = str('hostname');
      if (str('root')) options.root = str('root');
      if (str('append')) options.append = str('append');
      if (num('memory') !== undefined) options.memory = num('memory');
      if (num('vcpus') !== undefined) options.vcpus = num('vcpus');
      if (num('timeout') !== undefined) options.timeoutSeconds = num('timeout');
      if (str('logDir')) options.logDir = str('logDir');
      if (str('cacheDir')) options.cacheDir = str('cacheDir');
      if (str('mirror')) options.mirror = str('mirror');
      options.diskBus = o.diskBus === 'ide' ? 'ide' : 'virtio';
      if (str('passwordFile')) options.login = { user: 'root', password: readPasswordLine(str('passwordFile')!) };
      let result;
      try {
        result = await bootTest(options);
      } finally {
        release();
        progress.clear();
      }
      if (o.json) {
        printJson({ ok: result.passed, ...result });
      } else {
        const w = process.stdout;
        w.write(`${result.passed ? 'PASS' : 'FAIL'} boot-test ${result.mode} ${result.image} in ${formatDuration(result.seconds)}\n`);
        w.write(`  ${result.reason}\n`);
        w.write(`  criterion: ${result.criterion}\n`);
        const who = `${result.login.user} (${result.login.credentials === 'given' ? 'the credentials given' : 'a password boot-test set on a throwaway copy'})`;
        const a = result.login.answers;
        w.write(`  login: ${who}: ${a ? `hostname "${a.hostname}", id -u "${a.uid}", system state "${a.state}"` : 'no answers'}\n`);
        if (result.login.failedUnits?.length) w.write(`  failed units: ${result.login.failedUnits.join(', ')}\n`);
        if (result.kernel.cmdline) w.write(`  guest kernel: ${result.kernel.version ?? '(given)'} ${result.kernel.cmdline}\n`);
        if (result.dom0) w.write(`  Dom0: ${result.dom0.dir} (${result.dom0.built ? `built in ${formatDuration(result.dom0.buildSeconds)}` : 'cached'}; xen ${result.dom0.versions['xen-utils-4.17'] ?? '?'})\n`);
        for (const n of result.notes ?? []) w.write(`  note: ${n}\n`);
        if (result.dropped?.length) w.write(`  left out of the guest config: ${result.dropped.join(', ')}\n`);
        w.write(`  console log: ${result.consoleLog}\n`);
        if (result.dom0Log) w.write(`  Dom0 console log: ${result.dom0Log}\n`);
        if (!result.passed && result.tail?.length) w.write(`  last console lines:\n${result.tail.map((l) => `    ${l}\n`).join('')}`);
      }
      if (!result.passed) {
        // with --json the result above is the whole answer; without it, the usual one-line error
        if (o.json) process.exitCode = EXIT_STATUS.BOOT_FAILED;
        else assertBooted(result);
      }
    });
}
