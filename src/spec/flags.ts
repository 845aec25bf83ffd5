// Every spec field as a command-line flag, for one-off builds. Where xen-create-image has a flag for
// the same thing, the flag has its name (--hostname --size --swap --memory --vcpus --fs --dist
// --mirror --arch --ip --netmask --gateway --dhcp --mac --bridge --pygrub --kernel --initrd --lvm
// --dir --role). A flag overrides the spec file's field; errors name the flag.

import { join, resolve } from 'node:path';
import { DomuError } from '../errors.js';
import type { SpecReader } from './check.js';

export interface SpecFlag {
  /** commander flag text */
  flags: string;
  description: string;
  /** Apply the parsed option value to the reader's data. */
  apply(r: SpecReader, value: unknown): void;
  repeatable?: boolean;
  /** commander's option key for the value */
  key: string;
  /** The spec field the flag sets, when it sets one field (errors about that field name the flag). */
  field?: string;
}

const TARGET_KINDS = ['image', 'lvm', 'dir', 'tar'];

const SOURCE_KINDS = ['clone', 'install', 'tarball'];

/**
 * A way to boot given by flag replaces the one the spec file or the site defaults give, as
 * xen-create-image --pygrub replaces xen-tools.conf's kernel=: drop those fields unless a flag set them.
 */
function replaceLowerBoot(r: SpecReader, fields: readonly string[]): void {
  const domain = r.get(['domain']);
  if (!domain || typeof domain !== 'object' || Array.isArray(domain)) return;
  for (const f of fields) if (!(r.flagOrigins.get(`domain.${f}`) ?? '').startsWith('--')) delete (domain as Record<string, unknown>)[f];
}

/** Setting one kind of target (or source) from a flag replaces whatever kind the file named. */
function setKind(r: SpecReader, section: 'target' | 'source', kinds: string[], kind: string, value: unknown, flag: string): void {
  const sec = r.get([section]);
  if (sec && typeof sec === 'object' && !Array.isArray(sec)) {
    for (const k of kinds) if (k !== kind) delete (sec as Record<string, unknown>)[k];
    // A source given by flag starts from a clean mapping unless the file already had that kind.
    if (section === 'source' && typeof (sec as Record<string, unknown>)[kind] !== 'object') delete (sec as Record<string, unknown>)[kind];
  }
  r.set([section, kind], value, flag);
}

function simple(flags: string, key: string, path: string[], description: string, map: (v: unknown) => unknown = (v) => v): SpecFlag {
  const flag = flags.split(/[ ,]/).find((f) => f.startsWith('--'))!;
  return { flags, key, description, field: path.join('.'), apply: (r, v) => r.set(path, map(v), flag) };
}

export const SPEC_FLAGS: readonly SpecFlag[] = [
  simple('--name <name>', 'name', ['name'], 'domain name (default: the hostname)'),
  {
    flags: '--hostname <host>',
    key: 'hostname',
    description: "guest hostname (also the domain name when --name and the spec give none)",
    apply: (r, v) => {
      r.set(['hostname'], v, '--hostname');
      if (r.get(['name']) === undefined) r.set(['name'], String(v).split('.')[0], '--hostname');
    },
  },
  { flags: '--image <file>', key: 'image', description: 'target: an image file', apply: (r, v) => setKind(r, 'target', TARGET_KINDS, 'image', v, '--image') },
  {
    flags: '--dir <dir>',
    key: 'dir',
    description: "target: an image file under DIR/domains/NAME/disk.img (xen-create-image's --dir)",
    apply: (r, v) => setKind(r, 'target', TARGET_KINDS, 'image', join(resolve(String(v)), 'domains', String(r.get(['name']) ?? 'guest'), 'disk.img'), '--dir'),
  },
  { flags: '--lvm <vg>', key: 'lvm', description: 'target: an LVM volume, VG (volume named after the guest) or VG/LV', apply: (r, v) => setKind(r, 'target', TARGET_KINDS, 'lvm', v, '--lvm') },
  { flags: '--root-dir <dir>', key: 'rootDir', description: 'target: a plain directory', apply: (r, v) => setKind(r, 'target', TARGET_KINDS, 'dir', v, '--root-dir') },
  { flags: '--tar <file>', key: 'tar', description: 'target: a rootfs tarball', apply: (r, v) => setKind(r, 'target', TARGET_KINDS, 'tar', v, '--tar') },
  simple('--format <fmt>', 'format', ['target', 'format'], 'image format: raw, qcow2, vmdk'),
  simple('--size <size>', 'size', ['target', 'size'], 'disk size (4G, 512M; a bare number is MiB)'),
  simple('--swap <size>', 'swap', ['target', 'swap'], 'also make a swap disk of this size (xvda2 in the config)'),
  simple('--fs <fs>', 'fs', ['target', 'fs'], 'filesystem: ext2, ext3, ext4, xfs'),
  simple('--label <label>', 'label', ['target', 'label'], 'filesystem label'),
  simple('--compress <how>', 'compress', ['target', 'compress'], 'tarball compression: none, gzip, xz, zstd'),
  simple('--force', 'force', ['target', 'force'], 'replace an existing image file, volume or tarball', () => true),
  {
    flags: '--clone <root>',
    key: 'clone',
    description: 'source: clone this root tree (default excludes /home /mnt /tmp /proc /sys /var)',
    apply: (r, v) => {
      const prev = r.get(['source', 'clone']);
      setKind(r, 'source', SOURCE_KINDS, 'clone', { ...(prev && typeof prev === 'object' ? prev : {}), root: v }, '--clone');
    },
  },
  {
    flags: '--exclude <pattern>',
    key: 'exclude',
    repeatable: true,
    description: 'with --clone: leave out entries matching PATTERN (repeatable)',
    apply: (r, v) => {
      const prev = r.get(['source', 'clone', 'exclude']);
      r.set(['source', 'clone', 'exclude'], [...(Array.isArray(prev) ? prev : []), ...(v as string[])], '--exclude');
    },
  },
  simple('--no-default-excludes', 'defaultExcludes', ['source', 'clone', 'defaultExcludes'], 'with --clone: do not add the default excludes'),
  simple('-x, --one-file-system', 'oneFileSystem', ['source', 'clone', 'oneFileSystem'], 'with --clone: stay on the root filesystem', () => true),
  {
    flags: '--install <distro>',
    key: 'install',
    description: 'source: install a distribution (debian, ubuntu, centos, rocky, alma, fedora)',
    apply: (r, v) => {
      const prev = r.get(['source', 'install']);
      setKind(r, 'source', SOURCE_KINDS, 'install', { ...(prev && typeof prev === 'object' ? prev : {}), distro: v }, '--install');
    },
  },
  simple('--dist <suite>', 'dist', ['source', 'install', 'dist'], 'with --install debian/ubuntu: the suite (bookworm, jammy)'),
  simple('--mirror <url>', 'mirror', ['source', 'install', 'mirror'], 'with --install: the package mirror'),
  simple('--arch <arch>', 'arch', ['source', 'install', 'arch'], 'with --install: the guest architecture'),
  simple('--include <pkgs>', 'include', ['source', 'install', 'include'], 'with --install debian/ubuntu: extra packages, comma-separated'),
  simple('--release-rpm <file|url>', 'releaseRpm', ['source', 'install', 'releaseRpm'], 'with --install centos/...: the release package'),
  simple('--variant <variant>', 'variant', ['source', 'install', 'variant'], 'with --install debian/ubuntu: minbase, buildd, important, standard'),
  simple('--tool <tool>', 'tool', ['source', 'install', 'tool'], 'with --install debian/ubuntu: debootstrap, mmdebstrap or auto'),
  {
    flags: '--repo <url>',
    key: 'repo',
    repeatable: true,
    description: 'with --install centos/...: an extra repository baseurl (repeatable)',
    apply: (r, v) => {
      const prev = r.get(['source', 'install', 'repos']);
      r.set(['source', 'install', 'repos'], [...(Array.isArray(prev) ? prev : []), ...(v as string[])], '--repo');
    },
  },
  simple('--group <group>', 'group', ['source', 'install', 'group'], 'with --install centos/...: the comps group (default Base)'),
  simple('--releasever <v>', 'releasever', ['source', 'install', 'releasever'], 'with --install centos/...: $releasever'),
  simple('--workers <n>', 'workers', ['source', 'clone', 'workers'], 'with --clone: copy workers'),
  {
    flags: '--tarball <file>',
    key: 'tarball',
    description: 'source: extract a rootfs tarball',
    apply: (r, v) => setKind(r, 'source', SOURCE_KINDS, 'tarball', { file: v }, '--tarball'),
  },
  simple('--trusted', 'trusted', ['source', 'tarball', 'trusted'], 'with --tarball: create the device files it holds', () => true),
  simple('--packages <pkgs>', 'packages', ['packages'], 'extra packages after the source stage, comma-separated'),
  simple('--type <type>', 'type', ['domain', 'type'], 'domain type: pv, pvh, hvm'),
  simple('--extra <args>', 'extra', ['domain', 'extra'], 'extra kernel command line'),
  simple('--console <dev>', 'console', ['fixups', 'options', 'console'], 'the guest console: hvc0, xvc0, ttyS0'),
  simple('--memory <size>', 'memory', ['domain', 'memory'], 'guest memory (512M; a bare number is MiB)'),
  simple('--vcpus <n>', 'vcpus', ['domain', 'vcpus'], 'virtual CPUs'),
  {
    flags: '--kernel <file>',
    key: 'kernel',
    field: 'domain.kernel',
    description: 'Dom0 path of the kernel the guest boots (or dom0: the running one)',
    apply: (r, v) => {
      if (typeof v !== 'string') return;
      replaceLowerBoot(r, ['pygrub', 'pvgrub']);
      r.set(['domain', 'kernel'], v, '--kernel');
    },
  },
  simple('--initrd <file>', 'initrd', ['domain', 'initrd'], 'Dom0 path of its initrd'),
  {
    flags: '--pygrub',
    key: 'pygrub',
    field: 'domain.pygrub',
    description: "boot the guest's own kernel with PyGRUB",
    apply: (r) => {
      replaceLowerBoot(r, ['kernel', 'initrd', 'pvgrub']);
      r.set(['domain', 'pygrub'], true, '--pygrub');
    },
  },
  {
    flags: '--bootloader <how>',
    key: 'bootloader',
    field: 'domain.pvgrub',
    description: "boot the guest's own kernel: pygrub (PyGRUB, as --pygrub) or pvgrub (GRUB for Xen PV: grub-xen-host, nothing of the guest parsed in Dom0)",
    apply: (r, v) => {
      if (v !== 'pygrub' && v !== 'pvgrub') {
        r.issue(['domain'], `--bootloader must be pygrub or pvgrub, not ${String(v)}`);
        return;
      }
      replaceLowerBoot(r, ['kernel', 'initrd']);
      r.set(['domain', v], true, '--bootloader');
      r.set(['domain', v === 'pvgrub' ? 'pygrub' : 'pvgrub'], false, '--bootloader');
    },
  },
  {
    // commander keeps --kernel FILE and --no-kernel in one option ("kernel"): a string is the domain's
    // kernel (the --kernel entry), false is this flag
    flags: '--no-kernel',
    key: 'kernel',
    field: 'source.install.kernel',
    description: "with --pygrub/--bootloader: do not install the distribution's kernel (bring your own)",
    apply: (r, v) => {
      if (v === false) r.set(['source', 'install', 'kernel'], false, '--no-kernel');
    },
  },
  simple('--password <pass>', 'password', ['access', 'password'], "root's password (hashed with the guest's own strongest scheme; prefer --password-file)"),
  simple('--password-file <file>', 'passwordFile', ['access', 'passwordFile'], "root's password: the first line of FILE"),
  simple('--genpass', 'genpass', ['access', 'genpass'], 'a random root password, printed once at the end and stored nowhere (the default for installs given no other access)', () => true),
  simple('--passwd-hash <hash>', 'passwdHash', ['access', 'passwdHash'], "root's password as a crypt hash ($y$ yescrypt, $6$ SHA-512; MD5 is refused)"),
  {
    flags: '--authorized-keys <file>',
    key: 'authorizedKeys',
    field: 'access.authorizedKeys',
    repeatable: true,
    description: "ssh public keys for root's authorized_keys (repeatable)",
    apply: (r, v) => {
      const prev = r.get(['access', 'authorizedKeys']);
      r.set(['access', 'authorizedKeys'], [...(Array.isArray(prev) ? prev : []), ...(v as string[])], '--authorized-keys');
    },
  },
  simple('--accounts', 'accounts', ['access', 'accounts'], "copy the Dom0's non-system accounts (uid >= 1000), as xen-tools does", () => true),
  simple('--no-ssh', 'ssh', ['access', 'ssh'], 'installs: no openssh-server'),
  {
    flags: '--ip <addr>',
    key: 'ip',
    description: 'static IPv4 address (replaces the spec\'s dhcp)',
    apply: (r, v) => {
      r.set(['domain', 'network', 'ip'], v, '--ip');
      if (r.get(['domain', 'network', 'dhcp']) !== undefined) r.set(['domain', 'network', 'dhcp'], false, '--ip');
    },
  },
  simple('--netmask <mask>', 'netmask', ['domain', 'network', 'netmask'], 'netmask (255.255.255.0 or 24)'),
  simple('--gateway <addr>', 'gateway', ['domain', 'network', 'gateway'], 'default gateway'),
  {
    flags: '--dhcp',
    key: 'dhcp',
    description: 'configure the network with DHCP (replaces the spec\'s ip)',
    apply: (r) => {
      r.set(['domain', 'network', 'dhcp'], true, '--dhcp');
      const net = r.get(['domain', 'network']);
      if (net && typeof net === 'object') delete (net as Record<string, unknown>).ip;
    },
  },
  simple('--mac <mac>', 'mac', ['domain', 'network', 'mac'], 'MAC address (default: derived from the name, 00:16:3e:...)'),
  simple('--bridge <br>', 'bridge', ['domain', 'network', 'bridge'], 'the Dom0 bridge for the vif'),
  simple('--config <file>', 'config', ['domain', 'config'], 'where to write the xl config (default /etc/xen/NAME.cfg)'),
  {
    flags: '--role <script>',
    key: 'role',
    repeatable: true,
    description: 'run a role script with the guest root as $1 after the fixups (repeatable)',
    apply: (r, v) => {
      const prev = r.get(['roles']);
      r.set(['roles'], [...(Array.isArray(prev) ? prev : []), ...(v as string[])], '--role');
    },
  },
  simple('--no-verify', 'verify', ['verify'], 'do not compare the clone with its source'),
  simple('--boot', 'boot', ['boot'], "after the build, start the guest with xl create (xen-create-image's --boot); exit 3 if Xen is not reachable, the image kept", () => true),
  simple('--boot-test [mode]', 'bootTest', ['bootTest'], 'boot the finished image: plain (qemu) or xen', (v) => ({ mode: v === true ? 'plain' : v })),
  {
    flags: '--boot-timeout <seconds>',
    key: 'bootTimeout',
    description: 'with --boot-test: seconds to wait for the guest (default 300)',
    apply: (r, v) => {
      const prev = r.get(['bootTest']);
      r.set(['bootTest'], { ...(prev && typeof prev === 'object' ? prev : { mode: 'plain' }), timeout: v }, '--boot-timeout');
    },
  },
];

/** Flags that choose alternatives of one section: two of a group given together are refused. */
export const CONFLICTING_FLAGS: ReadonlyArray<{ what: string; keys: readonly string[] }> = [
  { what: 'target', keys: ['image', 'dir', 'lvm', 'rootDir', 'tar'] },
  { what: 'source', keys: ['clone', 'install', 'tarball'] },
  { what: 'network', keys: ['ip', 'dhcp'] },
];

/** The flag text (--image) of an option key (image). */
export function flagName(key: string): string {
  const f = SPEC_FLAGS.find((x) => x.key === key);
  return f ? f.flags.split(/[ ,]/).find((t) => t.startsWith('--'))! : `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Refuse flags that contradict each other (exit 2, naming both), instead of letting the last one win. */
export function checkFlagConflicts(opts: Record<string, unknown>): void {
  for (const g of CONFLICTING_FLAGS) {
    const given = g.keys.filter((k) => opts[k] !== undefined && opts[k] !== false);
    if (given.length > 1) throw new DomuError('USAGE', `${flagName(given[0]!)} conflicts with ${flagName(given[1]!)}: give one ${g.what}`);
  }
}

/** Apply every flag the user gave. `opts` is commander's option object. */
export function applySpecFlags(r: SpecReader, opts: Record<string, unknown>): void {
  checkFlagConflicts(opts);
  for (const f of SPEC_FLAGS) if (f.field) r.flagNames.set(f.field, flagName(f.key));
  // --name first, so that --dir and --lvm VG can use it.
  const ordered = [...SPEC_FLAGS].sort((a, b) => Number(b.key === 'name' || b.key === 'hostname') - Number(a.key === 'name' || a.key === 'hostname'));
  for (const f of ordered) {
    const v = opts[f.key];
    if (v === undefined) continue;
    if (f.repeatable && Array.isArray(v) && v.length === 0) continue;
    // commander's --no-x options default to true; only a given --no-x (false) counts.
    if ((f.key === 'defaultExcludes' || f.key === 'verify' || f.key === 'ssh') && v !== false) continue;
    f.apply(r, v);
  }
}
