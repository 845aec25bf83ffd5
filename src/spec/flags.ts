// Every spec field as a command-line flag, declared once: `build` takes them all (SPEC_FLAGS),
// `clone`, `install` and `unpack` take the target flags (TARGET_FLAGS, through cli/target-options.ts)
// and `xen-config`/`fixup` the domain flags (DOMAIN_FLAGS), each from the same declaration, so that a
// flag has one name, one meaning and one help text everywhere. Choices and defaults come from the
// zod schema (schema.ts). Where xen-create-image has a flag for the same thing, the flag has its
// name (--hostname --size --swap --memory --vcpus --fs --dist --mirror --arch --ip --netmask
// --gateway --dhcp --mac --bridge --pygrub --kernel --initrd --lvm --dir --role). A flag overrides
// the spec file's field; errors name the flag.

import { join, resolve } from 'node:path';
import { DomuError } from '../errors.js';
import type { SpecReader } from './check.js';
import { domainSection, specCompression, specDiskFormat, specFs, imageTarget } from './schema.js';

/** One flag as every command declares it: commander's flag text, its help, its choices. */
export interface FlagDecl {
  /** commander flag text */
  flags: string;
  /** commander's option key for the value */
  key: string;
  description: string;
  /** The values commander accepts (from the schema's enum), when the flag takes one of a few. */
  choices?: readonly string[];
  repeatable?: boolean;
}

export interface SpecFlag extends FlagDecl {
  /** Apply the parsed option value to the reader's data. */
  apply(r: SpecReader, value: unknown): void;
  /** The spec field the flag sets, when it sets one field (errors about that field name the flag). */
  field?: string;
}

const withDefault = (text: string, schema: { meta(): Record<string, unknown> | undefined }) => {
  const d = schema.meta()?.default;
  return d === undefined ? text : `${text} (default ${String(d)})`;
};

/**
 * The target flags (the disk, volume, directory or tarball a guest is written to) and the domain
 * flags, declared once. The disk layout is xen-tools': with --swap, swap is xvda1 and root xvda2.
 */
export const FLAG = {
  defaults: { flags: '--defaults <file>', key: 'defaults', description: 'site defaults under the spec and the flags (default: $DOMU_FORGE_DEFAULTS, else /etc/domu-forge/defaults.yaml when it exists)' },
  guestName: { flags: '--name <name>', key: 'name', description: "the guest's name (with --lvm VG the volume is NAME-disk)" },
  image: { flags: '--image <file>', key: 'image', description: 'target: a disk image file (sparse raw, or qcow2/vmdk: see --format)' },
  dir: { flags: '--dir <dir>', key: 'dir', description: "target: the image DIR/domains/NAME/disk.img, swap beside it as swap.img (xen-create-image's --dir)" },
  lvm: { flags: '--lvm <vg[/lv]>', key: 'lvm', description: 'target: an LVM volume: VG (the volume is NAME-disk and swap NAME-swap, as xen-tools names them) or VG/LV (swap LV-swap)' },
  device: { flags: '--device <dev>', key: 'device', description: 'target: a new filesystem over a whole existing block device (needs --force)' },
  rootDir: { flags: '--root-dir <dir>', key: 'rootDir', description: 'target: a plain directory' },
  tar: { flags: '--tar <file>', key: 'tar', description: 'target: a rootfs tarball' },
  size: { flags: '--size <size>', key: 'size', description: "disk or volume size: 4G, 512M, 1.5G; a bare number is MiB (default: the tree's usage plus headroom, printed)" },
  swap: { flags: '--swap <size>', key: 'swap', description: 'also give the guest a swap disk of this size: swap on xvda1, root on xvda2 (as xen-tools)' },
  fs: { flags: '--fs <type>', key: 'fs', description: withDefault('filesystem of the root disk', specFs), choices: specFs.options },
  label: { flags: '--label <label>', key: 'label', description: 'filesystem label (ext: 16 bytes, xfs: 12)' },
  format: { flags: '--format <format>', key: 'format', description: 'image file format (default: from the --image suffix .qcow2/.vmdk, else raw)', choices: specDiskFormat.options },
  populate: {
    flags: '--populate <how>', key: 'populate', choices: imageTarget.shape.populate.options,
    description: 'how an image is filled: mount (loop-mount and write; exact) or mkfs-d (stage, then mke2fs -d; no mount, ext only, whole-second timestamps)',
  },
  compress: { flags: '--compress <type>', key: 'compress', description: 'tarball compression (default: from the --tar suffix .gz/.tgz, .xz/.txz, .zst/.tzst, else none)', choices: specCompression.options },
  mkfsOptions: { flags: '--mkfs-options <args>', key: 'mkfsOptions', description: 'extra mkfs arguments, split on spaces, e.g. "-O ^metadata_csum" for guests with an old e2fsck' },
  force: { flags: '--force', key: 'force', description: 'replace an existing image file, tarball or volume; required to write on --device' },
  type: { flags: '--type <type>', key: 'type', description: withDefault('domain type', domainSection.shape.type), choices: domainSection.shape.type.options },
  memory: { flags: '--memory <size>', key: 'memory', description: 'guest memory: 512M, 1.5G; a bare number is MiB (default 512M)' },
  vcpus: { flags: '--vcpus <n>', key: 'vcpus', description: 'virtual CPUs (default 1)' },
  kernel: { flags: '--kernel <file>', key: 'kernel', description: 'Dom0 path of the kernel the guest boots' },
  initrd: { flags: '--initrd <file>', key: 'initrd', description: 'Dom0 path of its initrd (ramdisk)' },
  pygrub: { flags: '--pygrub', key: 'pygrub', description: "boot the guest's own kernel (in its /boot) with PyGRUB" },
  extra: { flags: '--extra <args>', key: 'extra', description: 'extra kernel command line' },
  console: { flags: '--console <dev>', key: 'console', description: "the guest's Xen console (default hvc0; xvc0 for legacy kernels)", choices: ['hvc0', 'xvc0', 'ttyS0'] },
  ip: { flags: '--ip <addr>', key: 'ip', description: "static IPv4 address (also the vif's ip=)" },
  netmask: { flags: '--netmask <mask>', key: 'netmask', description: 'netmask, dotted or prefix length (255.255.255.0 or 24)' },
  gateway: { flags: '--gateway <addr>', key: 'gateway', description: 'default gateway' },
  dhcp: { flags: '--dhcp', key: 'dhcp', description: "configure the guest's network with DHCP (the default without --ip)" },
  mac: { flags: '--mac <mac>', key: 'mac', description: "MAC address of the vif (default: derived from the name, in Xen's 00:16:3e range)" },
  bridge: { flags: '--bridge <br>', key: 'bridge', description: 'the Dom0 bridge of the vif' },
} as const satisfies Record<string, FlagDecl>;

/** The target flags clone, install and unpack take (through cli/target-options.ts). */
export const TARGET_FLAGS: readonly FlagDecl[] = [FLAG.image, FLAG.lvm, FLAG.device, FLAG.tar, FLAG.size, FLAG.fs, FLAG.label, FLAG.format, FLAG.populate, FLAG.compress, FLAG.mkfsOptions, FLAG.force];

const TARGET_KINDS = ['image', 'lvm', 'device', 'dir', 'tar'];
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

/** A declared flag that sets one spec field. */
function field(decl: FlagDecl, path: string[], map: (v: unknown) => unknown = (v) => v): SpecFlag {
  return { ...simple(decl.flags, decl.key, path, decl.description, map), ...(decl.choices ? { choices: decl.choices } : {}) };
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
  { ...FLAG.image, apply: (r, v) => setKind(r, 'target', TARGET_KINDS, 'image', v, '--image') },
  {
    ...FLAG.dir,
    apply: (r, v) => setKind(r, 'target', TARGET_KINDS, 'image', join(resolve(String(v)), 'domains', String(r.get(['name']) ?? 'guest'), 'disk.img'), '--dir'),
  },
  { ...FLAG.lvm, apply: (r, v) => setKind(r, 'target', TARGET_KINDS, 'lvm', v, '--lvm') },
  { ...FLAG.device, apply: (r, v) => setKind(r, 'target', TARGET_KINDS, 'device', v, '--device') },
  { ...FLAG.rootDir, apply: (r, v) => setKind(r, 'target', TARGET_KINDS, 'dir', v, '--root-dir') },
  { ...FLAG.tar, apply: (r, v) => setKind(r, 'target', TARGET_KINDS, 'tar', v, '--tar') },
  field(FLAG.format, ['target', 'format']),
  field(FLAG.size, ['target', 'size']),
  field(FLAG.swap, ['target', 'swap']),
  field(FLAG.fs, ['target', 'fs']),
  field(FLAG.label, ['target', 'label']),
  field(FLAG.populate, ['target', 'populate']),
  field(FLAG.compress, ['target', 'compress']),
  field(FLAG.force, ['target', 'force'], () => true),
  field(FLAG.mkfsOptions, ['target', 'mkfsOptions'], (v) => String(v).split(/\s+/).filter(Boolean)),
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
  field(FLAG.type, ['domain', 'type']),
  field(FLAG.extra, ['domain', 'extra']),
  field(FLAG.console, ['fixups', 'options', 'console']),
  field(FLAG.memory, ['domain', 'memory']),
  field(FLAG.vcpus, ['domain', 'vcpus']),
  {
    ...FLAG.kernel,
    field: 'domain.kernel',
    description: `${FLAG.kernel.description} (or dom0: the running one)`,
    apply: (r, v) => {
      if (typeof v !== 'string') return;
      replaceLowerBoot(r, ['pygrub', 'pvgrub']);
      r.set(['domain', 'kernel'], v, '--kernel');
    },
  },
  field(FLAG.initrd, ['domain', 'initrd']),
  {
    ...FLAG.pygrub,
    field: 'domain.pygrub',
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
    ...FLAG.ip,
    apply: (r, v) => {
      r.set(['domain', 'network', 'ip'], v, '--ip');
      if (r.get(['domain', 'network', 'dhcp']) !== undefined) r.set(['domain', 'network', 'dhcp'], false, '--ip');
    },
  },
  field(FLAG.netmask, ['domain', 'network', 'netmask']),
  field(FLAG.gateway, ['domain', 'network', 'gateway']),
  {
    ...FLAG.dhcp,
    apply: (r) => {
      r.set(['domain', 'network', 'dhcp'], true, '--dhcp');
      const net = r.get(['domain', 'network']);
      if (net && typeof net === 'object') delete (net as Record<string, unknown>).ip;
    },
  },
  field(FLAG.mac, ['domain', 'network', 'mac']),
  field(FLAG.bridge, ['domain', 'network', 'bridge']),
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
  { what: 'target', keys: ['image', 'dir', 'lvm', 'device', 'rootDir', 'tar'] },
  { what: 'source', keys: ['clone', 'install', 'tarball'] },
  { what: 'network', keys: ['ip', 'dhcp'] },
  { what: 'way to boot', keys: ['kernel', 'pygrub', 'pvgrub'] },
];

/** The flag text (--image) of an option key (image). */
export function flagName(key: string): string {
  const f = SPEC_FLAGS.find((x) => x.key === key);
  return f ? f.flags.split(/[ ,]/).find((t) => t.startsWith('--'))! : `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Refuse flags that contradict each other (exit 2, naming both), instead of letting the last one win. */
export function checkFlagConflicts(opts: Record<string, unknown>): void {
  // --bootloader pvgrub is the pvgrub choice of the boot group (--bootloader pygrub is --pygrub again)
  const o: Record<string, unknown> = { ...opts, ...(opts.bootloader === 'pvgrub' ? { pvgrub: true } : opts.bootloader === 'pygrub' ? { pygrub: true } : {}) };
  // --no-kernel (false) is not --kernel FILE
  if (typeof o.kernel !== 'string') delete o.kernel;
  const name = (k: string) => (k === 'pvgrub' ? '--bootloader pvgrub' : k === 'pygrub' && opts.pygrub === undefined ? '--bootloader pygrub' : flagName(k));
  for (const g of CONFLICTING_FLAGS) {
    const given = g.keys.filter((k) => o[k] !== undefined && o[k] !== false);
    if (given.length > 1) throw new DomuError('USAGE', `${name(given[0]!)} conflicts with ${name(given[1]!)}: give one ${g.what}`);
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
