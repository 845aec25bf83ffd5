// Loading a build spec: YAML file and/or command-line flags -> one validated BuildSpec, with every
// problem reported at once (file, line, field). Defaults live here and nowhere else.

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { DomuError } from '../errors.js';
import { SpecReader, type Path } from './check.js';
import { formatIssue, type BuildSpec, type DomainSection, type SourceSection, type SpecFixupOptions, type SpecIssue, type TargetSection } from './types.js';
import { buildSpecSchema, type AccessSection } from './schema.js';
import { guestVolumeNames } from '../targets/lvm.js';

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
export const IPV4_RE = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
export const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
const LVM_RE = /^(\/dev\/)?[A-Za-z0-9+_.-]+(\/[A-Za-z0-9+_.-]+)?$/;

const TARGET_KINDS = ['image', 'lvm', 'device', 'dir', 'tar'] as const;
const SOURCE_KINDS = ['clone', 'install', 'tarball'] as const;
const DEBIAN_FAMILY = ['debian', 'ubuntu'] as const;
const RPM_FAMILY = ['centos', 'rocky', 'alma', 'fedora', 'rhel', 'rpm'] as const;

/** Thrown when a spec has errors: all of them, each with file, line and field. */
export class SpecError extends DomuError {
  readonly issues: SpecIssue[];
  constructor(unsorted: SpecIssue[]) {
    const issues = sortIssues(unsorted);
    super('BAD_INPUT', issues.length === 1 ? formatIssue(issues[0]!) : `${issues.length} errors in the spec: ${issues.map(formatIssue).join('; ')}`);
    this.issues = issues;
  }
}

/** Issues in reading order: by file, then line (stable, so one line's issues keep the order they were found in). */
export function sortIssues(issues: readonly SpecIssue[]): SpecIssue[] {
  return [...issues].sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
}

/** Resolve a path in the spec relative to the spec file's folder (flags: to the working directory). */
function specPath(r: SpecReader, path: Path, value: string): string {
  if (isAbsolute(value)) return value;
  const fromFlag = r.flagOrigins.has(path.join('.'));
  return resolve(fromFlag || r.file === 'command line' ? process.cwd() : dirname(resolve(r.file)), value);
}

function exactlyOne(r: SpecReader, path: Path, sec: Record<string, unknown> | undefined, kinds: readonly string[]): string | undefined {
  if (!sec) return undefined;
  const present = kinds.filter((k) => sec[k] !== undefined && sec[k] !== null);
  if (present.length === 1) return present[0];
  if (present.length === 0) r.issue(path, `names none of ${kinds.join(', ')}; give exactly one`);
  else r.issue([...path, present[1]!], `give only one of ${present.join(', ')}`);
  return undefined;
}

function readTarget(r: SpecReader, name: string): TargetSection | undefined {
  const P = ['target'];
  const sec = r.section(P, [...TARGET_KINDS, 'format', 'size', 'fs', 'label', 'populate', 'force', 'swap', 'compress', 'mkfsOptions'], true);
  const kind = exactlyOne(r, P, sec, TARGET_KINDS);
  const size = r.size([...P, 'size']);
  // swap: 0 (or --swap 0, xen-tools' noswap) is no swap disk, and keeps the install default's away
  const noSwap = [0, '0', 'none', false].includes(r.get([...P, 'swap']) as never);
  const swap = noSwap ? undefined : r.size([...P, 'swap']);
  const fs = r.oneOf([...P, 'fs'], ['ext2', 'ext3', 'ext4', 'xfs'] as const, 'ext4')!;
  const label = r.str([...P, 'label'], { pattern: /^[A-Za-z0-9_.-]{1,16}$/, patternText: 'is not a filesystem label (up to 16 letters, digits, _ . -)' });
  const force = r.bool([...P, 'force'], false);
  const format = r.oneOf([...P, 'format'], ['raw', 'qcow2', 'vmdk'] as const, 'raw')!;
  const populate = r.oneOf([...P, 'populate'], ['mount', 'mkfs-d'] as const, 'mount')!;
  const compression = r.oneOf([...P, 'compress'], ['none', 'gzip', 'xz', 'zstd'] as const, 'gzip')!;
  const mkfsList = r.get([...P, 'mkfsOptions']) === undefined ? [] : r.strList([...P, 'mkfsOptions']);
  const mkfs = mkfsList.length > 0 ? { mkfsOptions: mkfsList } : {};
  if (!sec || !kind) return undefined;
  const misplaced = (field: string, kinds: string) => {
    if (sec[field] !== undefined) r.issue([...P, field], `applies only to ${kinds} targets`);
  };
  switch (kind) {
    case 'image': {
      const path = r.str([...P, 'image'], { required: true });
      misplaced('compress', 'tar');
      return path === undefined ? undefined : { kind, path: specPath(r, [...P, 'image'], path), format, fs, populate, force, ...(size ? { size } : {}), ...(label ? { label } : {}), ...(swap ? { swap } : {}), ...mkfs };
    }
    case 'lvm': {
      const v = r.str([...P, 'lvm'], { pattern: LVM_RE, patternText: 'is not VG or VG/LV' });
      misplaced('compress', 'tar');
      misplaced('format', 'image');
      if (v === undefined) return undefined;
      // VG alone: the volume NAME-disk (and its swap NAME-swap), as xen-tools names them
      const vgLv = v.replace(/^\/dev\//, '');
      const [vg, lv] = vgLv.includes('/') ? vgLv.split('/') : [vgLv, guestVolumeNames(name).disk];
      if (size === undefined) r.issue([...P, 'size'], 'is required for an LVM volume');
      return { kind, vg: vg!, lv: lv!, fs, force, ...(size ? { size } : {}), ...(label ? { label } : {}), ...(swap ? { swap } : {}), ...mkfs };
    }
    case 'device': {
      const path = r.str([...P, 'device'], { required: true, pattern: /^\//, patternText: 'is not a device path (/dev/...)' });
      for (const f of ['size', 'swap', 'format', 'populate']) misplaced(f, f === 'size' || f === 'swap' ? 'image and LVM (a device is used whole)' : 'image');
      misplaced('compress', 'tar');
      return path === undefined ? undefined : { kind, path, fs, force, ...(label ? { label } : {}), ...mkfs };
    }
    case 'dir': {
      const path = r.str([...P, 'dir'], { required: true });
      for (const f of ['size', 'swap', 'format', 'compress', 'label', 'mkfsOptions']) misplaced(f, f === 'compress' ? 'tar' : 'image and LVM');
      return path === undefined ? undefined : { kind, path: specPath(r, [...P, 'dir'], path) };
    }
    case 'tar': {
      const path = r.str([...P, 'tar'], { required: true });
      for (const f of ['size', 'swap', 'format', 'label', 'mkfsOptions']) misplaced(f, 'image and LVM');
      return path === undefined ? undefined : { kind, path: specPath(r, [...P, 'tar'], path), compression, force };
    }
  }
  return undefined;
}

function readSource(r: SpecReader, allowCloneHost: boolean): SourceSection | undefined {
  const P = ['source'];
  const sec = r.section(P, [...SOURCE_KINDS], true);
  const kind = exactlyOne(r, P, sec, SOURCE_KINDS);
  if (!sec || !kind) return undefined;
  if (kind === 'clone') {
    const C = [...P, 'clone'];
    if (typeof sec.clone === 'string') return { kind, root: specPath(r, C, sec.clone), exclude: [], defaultExcludes: true, oneFileSystem: false };
    r.section(C, ['root', 'exclude', 'defaultExcludes', 'oneFileSystem', 'workers', 'host']);
    const root = r.str([...C, 'root']) ?? '/';
    const workers = r.int([...C, 'workers'], { min: 1, max: 256 });
    const host = r.str([...C, 'host'], { pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, patternText: 'is not a host name (letters, digits, _ . -)' });
    if (host !== undefined && !allowCloneHost) r.issue([...C, 'host'], "applies only to a fleet's base (the host in hosts: whose root is cloned)");
    return {
      kind,
      root: specPath(r, [...C, 'root'], root),
      exclude: r.strList([...C, 'exclude']),
      defaultExcludes: r.bool([...C, 'defaultExcludes'], true),
      oneFileSystem: r.bool([...C, 'oneFileSystem'], false),
      ...(workers ? { workers } : {}),
      ...(host !== undefined && allowCloneHost ? { host } : {}),
    };
  }
  if (kind === 'tarball') {
    const T = [...P, 'tarball'];
    if (typeof sec.tarball === 'string') return { kind, file: specPath(r, T, sec.tarball), trusted: false };
    r.section(T, ['file', 'trusted']);
    const file = r.str([...T, 'file'], { required: true });
    return file === undefined ? undefined : { kind, file: specPath(r, [...T, 'file'], file), trusted: r.bool([...T, 'trusted'], false) };
  }
  const I = [...P, 'install'];
  const isec = r.section(I, ['distro', 'dist', 'mirror', 'arch', 'variant', 'include', 'tool', 'releaseRpm', 'repos', 'group', 'packages', 'releasever', 'kernel']);
  const distro = r.oneOf([...I, 'distro'], [...DEBIAN_FAMILY, ...RPM_FAMILY]);
  if (isec && isec.distro === undefined) r.issue([...I, 'distro'], `is required (${[...DEBIAN_FAMILY, ...RPM_FAMILY].join(', ')})`);
  const arch = r.str([...I, 'arch'], { pattern: /^[a-z0-9_]+$/, patternText: 'is not an architecture name' });
  if (!isec || !distro) return undefined;
  if ((DEBIAN_FAMILY as readonly string[]).includes(distro)) {
    for (const f of ['releaseRpm', 'repos', 'group', 'packages', 'releasever']) if (isec[f] !== undefined) r.issue([...I, f], `applies only to Red Hat family installs, not ${distro}`);
    const dist = r.str([...I, 'dist'], { required: true, pattern: /^[a-z0-9.-]+$/, patternText: 'is not a suite name' });
    const mirror = r.str([...I, 'mirror'], { pattern: /^(https?|file):\/\/\S+$/, patternText: 'is not an http(s):// or file:// URL' });
    const variant = r.oneOf([...I, 'variant'], ['minbase', 'buildd', 'important', 'standard'] as const);
    const tool = r.oneOf([...I, 'tool'], ['debootstrap', 'mmdebstrap', 'auto'] as const);
    if (dist === undefined) return undefined;
    return {
      kind: 'install',
      distro: distro as 'debian' | 'ubuntu',
      dist,
      include: r.strList([...I, 'include']),
      kernel: r.bool([...I, 'kernel'], true),
      ...(mirror ? { mirror } : {}),
      ...(arch ? { arch } : {}),
      ...(variant ? { variant } : {}),
      ...(tool ? { tool } : {}),
    };
  }
  for (const f of ['dist', 'mirror', 'variant', 'include', 'tool']) if (isec[f] !== undefined) r.issue([...I, f], `applies only to Debian and Ubuntu installs, not ${distro}`);
  const releaseRpm = r.str([...I, 'releaseRpm']);
  const repos = r.strList([...I, 'repos']);
  if (!releaseRpm && repos.length === 0) r.issue([...I, 'releaseRpm'], 'a Red Hat family install needs releaseRpm or repos');
  const group = r.str([...I, 'group']);
  const releasever = r.str([...I, 'releasever']);
  return {
    kind: 'install',
    distro: distro as (typeof RPM_FAMILY)[number],
    repos,
    packages: r.strList([...I, 'packages']),
    kernel: r.bool([...I, 'kernel'], true),
    ...(releaseRpm ? { releaseRpm: /^https?:/.test(releaseRpm) ? releaseRpm : specPath(r, [...I, 'releaseRpm'], releaseRpm) } : {}),
    ...(group !== undefined ? { group } : {}),
    ...(releasever ? { releasever } : {}),
    ...(arch ? { arch } : {}),
  };
}

function readDomain(r: SpecReader, name: string, allowAutoIp: boolean): DomainSection {
  const P = ['domain'];
  r.section(P, ['type', 'memory', 'vcpus', 'kernel', 'initrd', 'pygrub', 'pvgrub', 'extra', 'config', 'network']);
  const N = [...P, 'network'];
  r.section(N, ['ip', 'netmask', 'gateway', 'dhcp', 'mac', 'bridge', 'nameservers']);
  const memV = r.get([...P, 'memory']);
  let memory = 512;
  if (memV !== undefined && memV !== null) {
    const bytes = r.size([...P, 'memory']);
    if (bytes !== undefined) {
      if (bytes < 32 << 20) r.issue([...P, 'memory'], 'must be at least 32M');
      else memory = Math.round(bytes / (1 << 20));
    }
  }
  const kernel = r.str([...P, 'kernel'], { pattern: /^(\/|dom0$)/, patternText: 'must be an absolute path in the Dom0, or dom0 (the running kernel)' });
  const initrd = r.str([...P, 'initrd'], { pattern: /^(\/|dom0$)/, patternText: 'must be an absolute path in the Dom0, or dom0 (the running kernel\'s)' });
  const pygrub = r.bool([...P, 'pygrub'], false);
  if (pygrub && kernel) r.issue([...P, 'kernel'], 'give either kernel or pygrub, not both');
  const pvgrub = r.bool([...P, 'pvgrub'], false);
  if (pvgrub && (kernel || pygrub)) r.issue([...P, 'pvgrub'], `give one way to boot: pvgrub, ${pygrub ? 'pygrub' : 'kernel'}`);
  if (initrd && !kernel) r.issue([...P, 'initrd'], 'needs domain.kernel');
  const ip = r.str([...N, 'ip'], { pattern: allowAutoIp ? new RegExp(`${IPV4_RE.source}|^auto$`) : IPV4_RE, patternText: allowAutoIp ? 'is not an IPv4 address or auto' : 'is not an IPv4 address' });
  const netmask = r.str([...N, 'netmask'], { pattern: new RegExp(`${IPV4_RE.source}|^([0-9]|[12][0-9]|3[0-2])$`), patternText: 'is not a netmask (255.255.255.0 or 24)' });
  const gateway = r.str([...N, 'gateway'], { pattern: IPV4_RE, patternText: 'is not an IPv4 address' });
  const dhcp = r.bool([...N, 'dhcp'], ip === undefined);
  if (dhcp && ip !== undefined) r.issue([...N, 'dhcp'], 'give either dhcp or a static ip, not both');
  for (const f of ['netmask', 'gateway'] as const) {
    if (r.get([...N, f]) !== undefined && ip === undefined && !allowAutoIp && r.get([...N, 'ip']) === undefined) r.issue([...N, f], 'needs a static ip');
  }
  const mac = r.str([...N, 'mac'], { pattern: MAC_RE, patternText: 'is not a MAC address (00:16:3e:xx:xx:xx)' });
  const bridge = r.str([...N, 'bridge'], { pattern: /^[A-Za-z0-9_.-]{1,15}$/, patternText: 'is not an interface name' });
  const nameservers = r.strList([...N, 'nameservers']);
  nameservers.forEach((ns, i) => {
    if (!IPV4_RE.test(ns)) r.issue([...N, 'nameservers', i], `"${ns}" is not an IPv4 address`);
  });
  const config = r.str([...P, 'config']);
  const extra = r.str([...P, 'extra']);
  return {
    type: r.oneOf([...P, 'type'], ['pv', 'pvh', 'hvm'] as const, 'pv')!,
    memory,
    vcpus: r.int([...P, 'vcpus'], { min: 1, max: 512, fallback: 1 })!,
    pygrub,
    pvgrub,
    config: config ? specPath(r, [...P, 'config'], config) : join('/etc/xen', `${name}.cfg`),
    network: {
      dhcp: dhcp && ip === undefined,
      nameservers,
      ...(ip ? { ip } : {}),
      ...(netmask ? { netmask } : {}),
      ...(gateway ? { gateway } : {}),
      ...(mac ? { mac: mac.toLowerCase() } : {}),
      ...(bridge ? { bridge } : {}),
    },
    ...(kernel ? { kernel } : {}),
    ...(initrd ? { initrd } : {}),
    ...(extra ? { extra } : {}),
  };
}

export const SPEC_FIELDS = ['name', 'hostname', 'target', 'source', 'packages', 'fixups', 'access', 'roles', 'domain', 'verify', 'bootTest', 'boot'] as const;

/** Who can log in; an install given no access of its own gets a generated password (xen-tools' genpass=1). */
function readAccess(r: SpecReader, isInstall: boolean): AccessSection {
  const P = ['access'];
  r.section(P, ['password', 'passwordFile', 'genpass', 'passwdHash', 'authorizedKeys', 'accounts', 'ssh']);
  const password = r.str([...P, 'password']);
  const passwordFile = r.str([...P, 'passwordFile']);
  const passwdHash = r.str([...P, 'passwdHash'], { pattern: /^\$(y|6|5|2[aby]|7|gy)\$/, patternText: 'is not a yescrypt, SHA-512, SHA-256 or bcrypt crypt hash (MD5 is refused)' });
  const authorizedKeys = r.strList([...P, 'authorizedKeys']).map((f, i) => specPath(r, [...P, 'authorizedKeys', i], f));
  const given = [password !== undefined && 'password', passwordFile !== undefined && 'passwordFile', passwdHash !== undefined && 'passwdHash'].filter(Boolean) as string[];
  const genpassV = r.get([...P, 'genpass']);
  const genpass = r.bool([...P, 'genpass'], isInstall && given.length === 0 && authorizedKeys.length === 0);
  if (genpassV === true && given.length > 0) given.push('genpass');
  if (given.length > 1) r.issue([...P, given[1]!], `give one root password: ${given.join(' or ')}`);
  return {
    genpass: genpass && given.length === 0,
    authorizedKeys,
    accounts: r.bool([...P, 'accounts'], false),
    ssh: r.bool([...P, 'ssh'], true),
    ...(password !== undefined ? { password } : {}),
    ...(passwordFile !== undefined ? { passwordFile: specPath(r, [...P, 'passwordFile'], passwordFile) } : {}),
    ...(passwdHash !== undefined ? { passwdHash } : {}),
  };
}

/** Read a whole BuildSpec out of a reader; issues collect in the reader. */
export interface ReadSpecOptions {
  allowAutoIp?: boolean;
  /** A fleet's base: source.clone.host may name the host whose root is cloned. */
  allowCloneHost?: boolean;
  known?: readonly string[];
  /** The name when the spec gives none (the clone, install and unpack commands). */
  defaultName?: string;
  /** The spec is for a command that writes no domain (clone, install, unpack): it need not say how the guest boots. */
  domainless?: boolean;
}

export function readBuildSpec(r: SpecReader, options: ReadSpecOptions = {}): BuildSpec | undefined {
  const before = r.issues.length;
  for (const k of Object.keys(r.data)) {
    if (!(options.known ?? SPEC_FIELDS).includes(k)) r.issue([k], `unknown field (known: ${(options.known ?? SPEC_FIELDS).join(', ')})`);
  }
  const name = r.str(['name'], { required: options.defaultName === undefined, pattern: NAME_RE, patternText: 'is not a domain name (letters, digits, _ . -; up to 64)' });
  const hostname = r.str(['hostname'], { pattern: HOSTNAME_RE, patternText: 'is not a valid hostname' });
  const target = readTarget(r, name ?? options.defaultName ?? 'guest');
  const packages = r.strList(['packages']);
  packages.forEach((p, i) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9+_.:~-]*$/.test(p)) r.issue(['packages', i], `"${p}" is not a package name`);
  });
  const source = readSource(r, options.allowCloneHost ?? false);
  r.section(['fixups'], ['skip', 'only', 'options']);
  const skip = r.strList(['fixups', 'skip']);
  const only = r.strList(['fixups', 'only']);
  for (const [field, list] of [['skip', skip], ['only', only]] as const) {
    list.forEach((id, i) => {
      if (!/^(fixup\/)?[a-z0-9-]+$/.test(id)) r.issue(['fixups', field, i], `"${id}" is not a fixup id (fixup/NAME)`);
    });
  }
  // src/fixup's FixupOptions that a spec may set (the domain, hostname and excludes come from the spec itself)
  r.section(['fixups', 'options'], ['console', 'blockMajor', 'kernelFlavour', 'init', 'networkSystem', 'removeNetGenerator', 'rootPasswordHash', 'authorizedKeys', 'selinux', 'modulesSource', 'kernelVersion']);
  const O = ['fixups', 'options'];
  const blockMajor = r.get([...O, 'blockMajor']);
  if (blockMajor !== undefined && blockMajor !== 202 && blockMajor !== 220) r.issue([...O, 'blockMajor'], 'must be 202 (mainline) or 220 (XenSource)');
  // typed values, not the raw mapping: authorizedKeys "a,b" becomes a list
  const optionValues: Record<string, unknown> = {
    console: r.oneOf([...O, 'console'], ['hvc0', 'xvc0', 'ttyS0'] as const),
    networkSystem: r.oneOf([...O, 'networkSystem'], ['ifupdown', 'ifcfg', 'netplan', 'networkd'] as const),
    selinux: r.oneOf([...O, 'selinux'], ['disable', 'permissive', 'relabel', 'keep'] as const),
    init: r.oneOf([...O, 'init'], ['systemd', 'upstart', 'sysvinit'] as const),
    removeNetGenerator: r.get([...O, 'removeNetGenerator']) === undefined ? undefined : r.bool([...O, 'removeNetGenerator'], false),
    blockMajor: blockMajor === 202 || blockMajor === 220 ? blockMajor : undefined,
    authorizedKeys: r.get([...O, 'authorizedKeys']) === undefined ? undefined : r.strList([...O, 'authorizedKeys']),
    kernelFlavour: r.str([...O, 'kernelFlavour']),
    rootPasswordHash: r.str([...O, 'rootPasswordHash']),
    modulesSource: r.str([...O, 'modulesSource']),
    kernelVersion: r.str([...O, 'kernelVersion']),
  };
  const fixOpts = Object.fromEntries(Object.entries(optionValues).filter(([, v]) => v !== undefined)) as SpecFixupOptions;
  const access = readAccess(r, source?.kind === 'install');
  const roles = r.strList(['roles']).map((s, i) => specPath(r, ['roles', i], s));
  const domain = readDomain(r, name ?? options.defaultName ?? 'guest', options.allowAutoIp ?? false);
  const verify = r.bool(['verify'], source?.kind === 'clone');
  if (verify && source && source.kind !== 'clone') r.issue(['verify'], 'applies to clone sources only (an install or tarball has no tree to compare with)');
  let bootTest: BuildSpec['bootTest'] = false;
  const bt = r.get(['bootTest']);
  if (bt === true) bootTest = { mode: 'plain', timeout: 300 };
  else if (bt !== undefined && bt !== false && bt !== null) {
    if (typeof bt !== 'object') r.issue(['bootTest'], 'must be true, false, or a mapping with mode and timeout');
    else {
      r.section(['bootTest'], ['mode', 'timeout']);
      bootTest = { mode: r.oneOf(['bootTest', 'mode'], ['plain', 'xen'] as const, 'plain')!, timeout: r.int(['bootTest', 'timeout'], { min: 10, max: 7200, fallback: 300 })! };
    }
  }
  if (bootTest && target && target.kind !== 'image' && target.kind !== 'lvm') r.issue(['bootTest'], 'needs an image or LVM target (a disk to boot)');
  if (!options.domainless && target && (target.kind === 'image' || target.kind === 'lvm') && domain.type !== 'hvm' && !domain.kernel && !domain.pygrub && !domain.pvgrub) {
    r.issue(['domain'], `a ${domain.type} domain needs kernel (a Dom0 path, or dom0 for the running Dom0's) or pygrub: true`);
  }
  const theName = name ?? options.defaultName;
  if (r.issues.length > before || !theName || !target || !source) return undefined;
  const spec: BuildSpec = {
    name: theName,
    hostname: hostname ?? theName,
    ...(r.file !== 'command line' ? { file: resolve(r.file) } : {}),
    target,
    source,
    packages,
    fixups: { skip, only, options: fixOpts },
    access,
    roles,
    domain,
    verify,
    bootTest,
    ...(r.bool(['boot'], false) ? { boot: true } : {}),
  };
  // The reader and the schema must agree; a difference is a bug here, not the user's.
  const checked = buildSpecSchema.safeParse(spec);
  if (!checked.success) throw new DomuError('INTERNAL', `the spec reader and the schema disagree: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return spec;
}

/** Parse spec text. Throws SpecError with every issue. */
export function parseBuildSpec(text: string, file: string, apply?: (r: SpecReader) => void, options: ReadSpecOptions = {}): BuildSpec {
  const r = new SpecReader(file);
  r.parse(text);
  if (r.issues.length > 0) throw new SpecError(r.issues);
  apply?.(r);
  const spec = readBuildSpec(r, options);
  if (!spec || r.issues.length > 0) throw new SpecError(r.issues);
  return spec;
}

/** Load a spec file (or none: flags only), letting `apply` set fields from flags first. */
export function loadBuildSpec(file: string | undefined, apply?: (r: SpecReader) => void, options: ReadSpecOptions = {}): BuildSpec {
  if (file === undefined) return parseBuildSpec('{}', 'command line', apply, options);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new DomuError('BAD_INPUT', `cannot read the spec ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return parseBuildSpec(text, file, apply, options);
}
