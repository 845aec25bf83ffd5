// The schema of the resolved build spec (zod): the types the stages receive (z.infer), each field's
// documentation, its default and the command-line flag that sets it (meta `flag`, the names
// SPEC_FLAGS declares). docs/spec.md is generated from it (npm run docs:spec), and readBuildSpec's
// result is checked against it, so that the reader, the types and the reference cannot drift apart.
//
// To add a field: add it here (with .describe(), and meta({ flag, default }) when it has them), read
// it in load.ts (the reader keeps the YAML line map for file:line:field errors), add its flag to
// flags.ts when it has one, then run `npm run docs:spec`.

import { z } from 'zod';

const flag = (f: string, extra: Record<string, unknown> = {}) => ({ flag: f, ...extra });

export const specFs = z.enum(['ext2', 'ext3', 'ext4', 'xfs']).describe('filesystem of the root disk').meta(flag('--fs', { default: 'ext4' }));
export const specDiskFormat = z.enum(['raw', 'qcow2', 'vmdk']).describe('image file format').meta(flag('--format', { default: 'raw' }));
export const specCompression = z.enum(['none', 'gzip', 'xz', 'zstd']).describe('tarball compression').meta(flag('--compress', { default: 'gzip' }));

const bytes = (what: string, f: string) => z.number().int().positive().describe(`${what} in bytes (in the file: 4G, 512M, 1.5G; a bare number is MiB)`).meta(flag(f));
const label = z.string().regex(/^[A-Za-z0-9_.-]{1,16}$/).describe('filesystem label').meta(flag('--label'));
const force = z.boolean().describe('replace an existing image file, volume or tarball (a device: required)').meta(flag('--force', { default: false }));
const mkfsOptions = z.array(z.string()).describe('extra mkfs arguments ("-O ^metadata_csum" for guests with an old e2fsck)').meta(flag('--mkfs-options')).optional();

export const imageTarget = z.object({
  kind: z.literal('image').describe('target.image: PATH, an image file (or --dir DIR: DIR/domains/NAME/disk.img)').meta(flag('--image')),
  path: z.string().describe('the image file (relative to the spec file)'),
  format: specDiskFormat,
  size: bytes('disk size', '--size').optional(),
  fs: specFs,
  label: label.optional(),
  populate: z.enum(['mount', 'mkfs-d']).describe('how the image is filled: mount (exact) or mkfs-d').meta(flag('--populate', { default: 'mount' })),
  force,
  mkfsOptions,
  swap: bytes('swap disk size (swap.img beside disk.img, else NAME-swap.img; 0: none); swap is xvda1, root xvda2', '--swap').optional(),
});
export const lvmTarget = z.object({
  kind: z.literal('lvm').describe('target.lvm: VG or VG/LV, an LVM volume (VG alone: the volume NAME-disk, as xen-tools names it)').meta(flag('--lvm')),
  vg: z.string().describe('volume group'),
  lv: z.string().describe('logical volume'),
  size: bytes('volume size (required)', '--size').optional(),
  fs: specFs,
  label: label.optional(),
  force,
  mkfsOptions,
  swap: bytes('swap volume size (NAME-swap beside NAME-disk, else LV-swap; 0: none); swap is xvda1, root xvda2', '--swap').optional(),
});
export const deviceTarget = z.object({
  kind: z.literal('device').describe('target.device: DEV, a new filesystem over a whole existing block device (needs force)').meta(flag('--device')),
  path: z.string().describe('the block device'),
  fs: specFs,
  label: label.optional(),
  force,
  mkfsOptions,
});
export const dirTarget = z.object({
  kind: z.literal('dir').describe('target.dir: PATH, a plain directory').meta(flag('--root-dir')),
  path: z.string().describe('the directory'),
});
export const tarTarget = z.object({
  kind: z.literal('tar').describe('target.tar: PATH, a rootfs tarball').meta(flag('--tar')),
  path: z.string().describe('the tarball'),
  compression: specCompression,
  force,
});
export const targetSection = z.discriminatedUnion('kind', [imageTarget, lvmTarget, deviceTarget, dirTarget, tarTarget]).describe('where the guest is written: exactly one of image, lvm, device, dir, tar');

export const cloneSource = z.object({
  kind: z.literal('clone').describe('source.clone: ROOT or a mapping; copy a root tree exactly').meta(flag('--clone')),
  root: z.string().describe('the tree to clone').meta({ default: '/' }),
  exclude: z.array(z.string()).describe('patterns left out').meta(flag('--exclude', { default: [] })),
  defaultExcludes: z.boolean().describe('add the default excludes (/home /mnt /tmp /proc /sys /var ...)').meta(flag('--no-default-excludes', { default: true })),
  oneFileSystem: z.boolean().describe('stay on the root filesystem').meta(flag('--one-file-system', { default: false })),
  workers: z.number().int().min(1).max(256).describe('copy workers').meta(flag('--workers')).optional(),
  host: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/).describe("fleets through the queue only: the host (in hosts:) whose root is cloned; its worker packs it and the other hosts fetch that tarball").optional(),
});
export const debianInstall = z.object({
  kind: z.literal('install').describe('source.install: install a distribution').meta(flag('--install')),
  distro: z.enum(['debian', 'ubuntu']).describe('the distribution').meta(flag('--install')),
  dist: z.string().regex(/^[a-z0-9.-]+$/).describe('the suite (bookworm, jammy)').meta(flag('--dist')),
  mirror: z.string().regex(/^(https?|file):\/\/\S+$/).describe('the package mirror').meta(flag('--mirror')).optional(),
  arch: z.string().regex(/^[a-z0-9_]+$/).describe('the guest architecture').meta(flag('--arch')).optional(),
  variant: z.enum(['minbase', 'buildd', 'important', 'standard']).describe('debootstrap variant').meta(flag('--variant')).optional(),
  include: z.array(z.string()).describe('extra packages in the bootstrap').meta(flag('--include', { default: [] })),
  tool: z.enum(['debootstrap', 'mmdebstrap', 'auto']).describe('the bootstrap tool').meta(flag('--tool')).optional(),
  kernel: z.boolean().describe("with pygrub or pvgrub: install the distribution's kernel and initramfs").meta(flag('--no-kernel', { default: true })),
});
export const rpmInstall = z.object({
  kind: z.literal('install').describe('source.install: install a distribution').meta(flag('--install')),
  distro: z.enum(['centos', 'rocky', 'alma', 'fedora', 'rhel', 'rpm']).describe('the distribution').meta(flag('--install')),
  arch: z.string().regex(/^[a-z0-9_]+$/).describe('the guest architecture').meta(flag('--arch')).optional(),
  releaseRpm: z.string().describe('the release package (file or URL); this or repos').meta(flag('--release-rpm')).optional(),
  repos: z.array(z.string()).describe('repository baseurls').meta(flag('--repo', { default: [] })),
  group: z.string().describe('the comps group').meta(flag('--group')).optional(),
  packages: z.array(z.string()).describe('packages besides the group').meta({ default: [] }),
  releasever: z.string().describe('$releasever').meta(flag('--releasever')).optional(),
  kernel: z.boolean().describe("with pygrub or pvgrub: install the distribution's kernel").meta(flag('--no-kernel', { default: true })),
});
export const tarballSource = z.object({
  kind: z.literal('tarball').describe('source.tarball: FILE or a mapping; extract a rootfs tarball').meta(flag('--tarball')),
  file: z.string().describe('the tarball'),
  trusted: z.boolean().describe('create the device files it holds').meta(flag('--trusted', { default: false })),
});
/** A fleet guest: a copy of the fleet's cached base image (made by the fleet builder, never in a spec file). */
export const baseSource = z.object({
  kind: z.literal('base').describe('(fleet guests only) a copy or overlay of the fleet base'),
  image: z.string(),
  key: z.string(),
  method: z.enum(['copy', 'overlay']),
});
export const sourceSection = z.union([cloneSource, debianInstall, rpmInstall, tarballSource, baseSource]).describe('what fills the guest: exactly one of clone, install, tarball');

const ipv4 = z.string().regex(/^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/);
export const networkSection = z.object({
  ip: z.string().describe('static IPv4 address (fleets: or auto, from the pool)').meta(flag('--ip')).optional(),
  netmask: z.string().describe('netmask (255.255.255.0 or 24)').meta(flag('--netmask')).optional(),
  gateway: ipv4.describe('default gateway').meta(flag('--gateway')).optional(),
  dhcp: z.boolean().describe('configure the network with DHCP').meta(flag('--dhcp', { default: 'true without ip' })),
  mac: z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/).describe('MAC address (default derived from the name, 00:16:3e:...)').meta(flag('--mac')).optional(),
  bridge: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/).describe('the Dom0 bridge of the vif').meta(flag('--bridge')).optional(),
  nameservers: z.array(ipv4).describe('DNS servers for a static config').meta({ default: [] }),
});
export const domainSection = z.object({
  type: z.enum(['pv', 'pvh', 'hvm']).describe('domain type').meta(flag('--type', { default: 'pv' })),
  memory: z.number().int().min(32).describe('memory in MiB (in the file: 512M, 1.5G; a bare number is MiB)').meta(flag('--memory', { default: '512M' })),
  vcpus: z.number().int().min(1).max(512).describe('virtual CPUs').meta(flag('--vcpus', { default: 1 })),
  kernel: z.string().describe('Dom0 path of the kernel, or dom0 (the running kernel)').meta(flag('--kernel')).optional(),
  initrd: z.string().describe('Dom0 path of its initrd').meta(flag('--initrd')).optional(),
  pygrub: z.boolean().describe("boot the guest's own kernel with PyGRUB").meta(flag('--pygrub', { default: false })),
  pvgrub: z.boolean().describe("boot the guest's own kernel with pvgrub2 (GRUB for Xen PV, grub-xen-host): nothing of the guest is parsed in Dom0").meta(flag('--bootloader', { default: false })),
  extra: z.string().describe('extra kernel command line').meta(flag('--extra')).optional(),
  config: z.string().describe('where the xl config goes').meta(flag('--config', { default: '/etc/xen/NAME.cfg' })),
  network: networkSection,
});

/** The fixups' options a spec may set (src/fixup's FixupOptions, less what the spec itself gives). */
export const fixupOptions = z.object({
  console: z.enum(['hvc0', 'xvc0', 'ttyS0']).describe('the guest console').meta(flag('--console')).optional(),
  blockMajor: z.union([z.literal(202), z.literal(220)]).describe('block device major: 202 (mainline) or 220 (XenSource)').optional(),
  kernelFlavour: z.string().describe('override kernel flavour detection').optional(),
  init: z.enum(['systemd', 'upstart', 'sysvinit']).describe('override init system detection').optional(),
  networkSystem: z.enum(['ifupdown', 'ifcfg', 'netplan', 'networkd']).describe('override network system detection').optional(),
  removeNetGenerator: z.boolean().describe('remove the persistent-net generator').optional(),
  rootPasswordHash: z.string().describe("root's password hash").optional(),
  authorizedKeys: z.array(z.string()).describe("root's authorized_keys lines (a list, or a comma-separated string)").optional(),
  selinux: z.enum(['disable', 'permissive', 'relabel', 'keep']).describe('what to do with SELinux').optional(),
  modulesSource: z.string().describe('where kernel modules are copied from').optional(),
  kernelVersion: z.string().describe('the kernel version the guest boots').optional(),
});

/** Who can log in to the guest. An install given none of password, passwordFile, passwdHash or
 *  authorizedKeys gets a generated password (as xen-tools' genpass=1); a clone keeps the Dom0's accounts. */
export const accessSection = z.object({
  password: z.string().min(1).describe("root's password (hashed with the guest's strongest scheme)").meta(flag('--password')).optional(),
  passwordFile: z.string().describe("a file whose first line is root's password").meta(flag('--password-file')).optional(),
  genpass: z.boolean().describe('a random root password, printed once at the end and stored nowhere').meta(flag('--genpass', { default: 'true for installs given no other access' })),
  passwdHash: z.string().regex(/^\$(y|6|5|2[aby]|7|gy)\$/).describe("root's password as a crypt hash (yescrypt, SHA-512, SHA-256 or bcrypt; never MD5)").meta(flag('--passwd-hash')).optional(),
  authorizedKeys: z.array(z.string()).describe("files of ssh public keys for root's authorized_keys").meta(flag('--authorized-keys', { default: [] })),
  accounts: z.boolean().describe("copy the Dom0's non-system accounts (uid >= 1000) and make their homes").meta(flag('--accounts', { default: false })),
  ssh: z.boolean().describe('installs include openssh-server').meta(flag('--no-ssh', { default: true })),
});

export const buildSpecSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/).describe("the domain's name; also its default hostname and the name in the inventory").meta(flag('--name', { default: 'the hostname\'s first label' })),
  hostname: z.string().describe('guest hostname').meta(flag('--hostname', { default: 'the name' })),
  file: z.string().describe('(set by domu-forge) the spec file the spec came from').optional(),
  target: targetSection,
  source: sourceSection,
  packages: z.array(z.string()).describe('extra packages installed after the source stage').meta(flag('--packages', { default: [] })),
  fixups: z.object({
    skip: z.array(z.string()).describe('fixup ids not to run (fixup/NAME)').meta({ default: [] }),
    only: z.array(z.string()).describe('run only these fixups').meta({ default: [] }),
    options: fixupOptions,
  }),
  access: accessSection,
  roles: z.array(z.string()).describe('role scripts run with the guest root as $1 after the fixups').meta(flag('--role', { default: [] })),
  domain: domainSection,
  verify: z.boolean().describe('compare a clone with its source').meta(flag('--no-verify', { default: 'true for clones' })),
  boot: z.boolean().describe("after the build, start the guest with xl create (xen-create-image's boot = 1)").meta(flag('--boot', { default: false })).optional(),
  bootTest: z.union([z.literal(false), z.object({
    mode: z.enum(['plain', 'xen']).describe('plain (qemu) or xen').meta(flag('--boot-test', { default: 'plain' })),
    timeout: z.number().int().min(10).max(7200).describe('seconds to wait for the guest').meta(flag('--boot-timeout', { default: 300 })),
  })]).describe('boot the finished image (true: plain, 300 s)').meta(flag('--boot-test', { default: false })),
});

export type BuildSpec = z.infer<typeof buildSpecSchema>;
export type TargetSection = z.infer<typeof targetSection>;
export type SourceSection = z.infer<typeof sourceSection>;
export type NetworkSection = z.infer<typeof networkSection>;
export type DomainSection = z.infer<typeof domainSection>;
export type SpecFixupOptions = z.infer<typeof fixupOptions>;
export type AccessSection = z.infer<typeof accessSection>;
export type SpecFs = z.infer<typeof specFs>;
export type SpecDiskFormat = z.infer<typeof specDiskFormat>;
export type SpecCompression = z.infer<typeof specCompression>;
