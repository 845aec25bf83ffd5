// Site defaults from an existing xen-tools set-up: reads /etc/xen-tools/xen-tools.conf (key = value,
// '#' comments, backquoted commands) and says, key by key, which spec field each becomes, or why it
// cannot be carried over. `domu-forge defaults --from-xen-tools` writes the result as defaults.yaml.

/** One key = value line of xen-tools.conf. */
export interface XenToolsSetting {
  key: string;
  value: string;
  line: number;
}

/** What became of one setting. */
export interface CarriedSetting extends XenToolsSetting {
  /** The dotted spec field it set ("target.size"); absent when it was not carried over. */
  field?: string;
  /** Why it was not carried over, or how it was read. */
  note?: string;
}

export interface XenToolsConversion {
  /** The defaults, shaped as a (partial) build spec. */
  defaults: Record<string, unknown>;
  carried: CarriedSetting[];
  notCarried: CarriedSetting[];
}

/** Parse xen-tools.conf: `key = value`, whitespace around '=', a trailing '# comment' dropped. */
export function parseXenToolsConf(text: string): XenToolsSetting[] {
  const out: XenToolsSetting[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    const m = /^([A-Za-z0-9_-]+)\s*=\s*(.*)$/.exec(line);
    if (!m) return;
    out.push({ key: m[1]!.toLowerCase(), value: m[2]!.trim(), line: i + 1 });
  });
  return out;
}

const YES = /^(1|yes|true|on)$/i;
const SIZE = /^\d+(\.\d+)?\s*[kKmMgGtT]?[bB]?$/;

/** Where each value goes: [spec field, how to read the value], or a reason it does not carry over. */
type Rule = { field: string; read: (v: string) => unknown; note?: string } | { why: string };

const size = (v: string): string => v.replace(/\s+/g, '').replace(/b$/i, '');
const flag = (v: string): boolean => YES.test(v);
/** A xen-tools size in MiB (its suffixes: k, M, G, T; a bare number is MiB, as xen-tools takes it). */
const sizeMiB = (v: string): number => {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)/.exec(v.trim());
  const f: Record<string, number> = { k: 1 / 1024, m: 1, g: 1024, t: 1 << 20, '': 1 };
  return m ? Number(m[1]) * f[m[2]!.toLowerCase()]! : NaN;
};

const RULES: Readonly<Record<string, Rule | ((v: string) => Rule)>> = {
  size: (v) => (SIZE.test(v) ? { field: 'target.size', read: size } : { why: `"${v}" is not a size` }),
  swap: (v) => (SIZE.test(v) ? { field: 'target.swap', read: size } : { why: `"${v}" is not a size` }),
  noswap: (v) => (flag(v) ? { field: 'target.swap', read: () => 0, note: 'no swap disk' } : { why: 'noswap = 0 is the default' }),
  memory: (v) => (SIZE.test(v) ? { field: 'domain.memory', read: size, ...(sizeMiB(v) < 512 ? { note: 'below 512M a stock Debian initrd may not unpack' } : {}) } : { why: `"${v}" is not a size` }),
  vcpus: { field: 'domain.vcpus', read: (v) => Number(v) },
  fs: (v) => (['ext2', 'ext3', 'ext4', 'xfs'].includes(v) ? { field: 'target.fs', read: (x) => x } : { why: `domu-forge makes ext2, ext3, ext4 and xfs filesystems, not ${v}` }),
  dist: (v) =>
    v.includes('`')
      ? { why: "a command (xt-guess-suite-and-mirror): domu-forge's own default is the Dom0's suite, found the same way" }
      : { field: 'source.install.dist', read: (x) => x },
  mirror: { field: 'source.install.mirror', read: (v) => v },
  arch: { field: 'source.install.arch', read: (v) => v },
  'install-method': (v) =>
    v === 'debootstrap' || v === 'cdebootstrap'
      ? { field: 'source.install.tool', read: () => 'debootstrap', note: v === 'cdebootstrap' ? 'cdebootstrap becomes debootstrap' : undefined }
      : v === 'copy' || v === 'tar'
        ? { why: `install-method = ${v} takes its tree from install-source: give --clone DIR or --tarball FILE per build` }
        : { why: `install-method = ${v}: domu-forge installs the Red Hat family with dnf --installroot (--install centos, rocky, alma, fedora)` },
  'debootstrap-cmd': (v) =>
    /mmdebstrap|debootstrap/.test(v) ? { field: 'source.install.tool', read: (x) => (x.includes('mmdebstrap') ? 'mmdebstrap' : 'debootstrap') } : { why: `unknown bootstrap command ${v}` },
  kernel: (v) => (v.includes('`uname -r`') ? { field: 'domain.kernel', read: () => 'dom0', note: "the running Dom0's kernel" } : { field: 'domain.kernel', read: (x) => x }),
  initrd: (v) => (v.includes('`uname -r`') ? { field: 'domain.initrd', read: () => 'dom0', note: "the running Dom0's initrd" } : { field: 'domain.initrd', read: (x) => x }),
  pygrub: (v) => (flag(v) ? { field: 'domain.pygrub', read: () => true } : { why: 'pygrub = 0 is the default' }),
  gateway: { field: 'domain.network.gateway', read: (v) => v },
  netmask: { field: 'domain.network.netmask', read: (v) => v },
  bridge: { field: 'domain.network.bridge', read: (v) => v },
  dhcp: (v) => (flag(v) ? { field: 'domain.network.dhcp', read: () => true } : { why: 'dhcp = 0 is the default' }),
  nameserver: { field: 'domain.network.nameservers', read: (v) => v.split(/[\s,]+/).filter(Boolean) },
  broadcast: { why: 'worked out from the address and netmask' },
  dir: { field: 'target.imageDir', read: (v) => v, note: 'images go in DIR/domains/NAME/disk.img, as with --dir' },
  lvm: { field: 'target.lvm', read: (v) => v, note: 'volumes NAME-disk and NAME-swap in this volume group' },
  image: (v) => (v === 'sparse' ? { why: 'image files are always sparse' } : { why: `image = ${v}: domu-forge writes sparse image files only` }),
  genpass: (v) => (flag(v) ? { field: 'access.genpass', read: () => true } : { why: 'genpass = 0: give --password-file, --passwd-hash or --authorized-keys per build' }),
  genpass_len: { why: 'generated passwords have a fixed length (24 characters)' },
  hash_method: { why: "passwords are hashed with the guest's own strongest scheme (yescrypt on Debian 12), never MD5" },
  passwd: { why: 'no interactive prompt: give --password-file FILE' },
  accounts: (v) => (flag(v) ? { field: 'access.accounts', read: () => true } : { why: 'accounts = 0 is the default' }),
  boot: (v) => (flag(v) ? { field: 'boot', read: () => true } : { why: 'boot = 0 is the default' }),
  serial_device: { field: 'fixups.options.console', read: (v) => v.replace(/^\/dev\//, '') },
  disk_device: { why: 'the guest disks are always xvda (swap xvda1, root xvda2, as xen-tools lays them out)' },
  output: (v) => (v === '/etc/xen' ? { why: '/etc/xen is the default' } : { why: `configs go in /etc/xen/NAME.cfg; give --config ${v}/NAME.cfg per build` }),
  extension: (v) => (v === '.cfg' ? { why: '.cfg is the default' } : { why: 'configs are always NAME.cfg' }),
  apt_proxy: { why: 'domu-forge keeps its own package cache (/var/cache/domu-forge/packages); the proxy is not used' },
  cache: { why: 'the package cache is always on' },
  cachedir: { why: 'the package cache is /var/cache/domu-forge/packages' },
  copyhosts: { why: "domu-forge never copies or edits the Dom0's /etc/hosts" },
  nohosts: { why: "domu-forge never edits the Dom0's /etc/hosts" },
  maxmem: { why: 'the domain config sets memory only' },
  zpool: { why: 'ZFS volumes are not a target' },
  role: { why: 'xen-tools role names are scripts in /etc/xen-tools/role.d: give --role /etc/xen-tools/role.d/NAME per build' },
  'install-source': { why: 'the source tree or tarball is given per build (--clone DIR, --tarball FILE)' },
};

function setPath(obj: Record<string, unknown>, field: string, value: unknown): void {
  const parts = field.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    if (typeof cur[p] !== 'object' || cur[p] === null) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts.at(-1)!] = value;
}

/** Convert parsed settings into defaults; the last of a repeated key wins, as in xen-tools. */
export function convertXenTools(settings: readonly XenToolsSetting[]): XenToolsConversion {
  const defaults: Record<string, unknown> = {};
  const carried: CarriedSetting[] = [];
  const notCarried: CarriedSetting[] = [];
  for (const s of settings) {
    const rule = RULES[s.key] ?? (/^[a-z0-9]+_options$/.test(s.key)
      ? { why: 'fstab gets errors=remount-ro for an ext root, defaults otherwise' }
      : /^mirror_/.test(s.key)
        ? { why: 'one mirror for all suites: give --mirror per build for another' }
        : { why: 'not a setting domu-forge has' });
    const r = typeof rule === 'function' ? rule(s.value) : rule;
    if ('why' in r) {
      notCarried.push({ ...s, note: r.why });
      continue;
    }
    setPath(defaults, r.field, r.read(s.value));
    carried.push({ ...s, field: r.field, ...(r.note ? { note: r.note } : {}) });
  }
  // an install method alone implies a Debian install; the distro is what xen-tools installs
  const src = defaults.source as { install?: Record<string, unknown> } | undefined;
  if (src?.install && src.install.distro === undefined) src.install = { distro: 'debian', ...src.install };
  return { defaults, carried, notCarried };
}

/** The defaults file: the YAML, headed by comments naming the source and what was not carried over. */
export function renderDefaultsFile(conv: XenToolsConversion, from: string, yaml: (v: unknown) => string): string {
  const head = [`# domu-forge site defaults, converted from ${from} by domu-forge defaults --from-xen-tools.`, '# A spec file and the flags override every value here.'];
  if (conv.notCarried.length > 0) {
    head.push('# Not carried over:');
    for (const n of conv.notCarried) head.push(`#   ${n.key} = ${n.value} (line ${n.line}): ${n.note}`);
  }
  const body = Object.keys(conv.defaults).length > 0 ? yaml(conv.defaults) : '{}\n';
  return `${head.join('\n')}\n${body}`;
}
