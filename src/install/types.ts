// The install stage's options and result: one typed object in, one plain object out.

import type { CleanupStack } from '../cleanup.js';
import type { InstallProgress } from './progress.js';

export type DebianDistro = 'debian' | 'ubuntu';
export type RpmDistro = 'centos' | 'rocky' | 'alma' | 'fedora' | 'rhel' | 'rpm';
export type Distro = DebianDistro | RpmDistro;

export const DEBIAN_DISTROS: readonly DebianDistro[] = ['debian', 'ubuntu'];
export const RPM_DISTROS: readonly RpmDistro[] = ['centos', 'rocky', 'alma', 'fedora', 'rhel', 'rpm'];

/** minbase: Essential + apt. buildd: + build-essential. important: what debootstrap installs by default
 *  (required + important priorities). standard: + standard priority (mmdebstrap only). */
export type DebianVariant = 'minbase' | 'buildd' | 'important' | 'standard';
export const DEBIAN_VARIANTS: readonly DebianVariant[] = ['minbase', 'buildd', 'important', 'standard'];

export type DebianTool = 'debootstrap' | 'mmdebstrap';
export type SelinuxMode = 'disabled' | 'permissive' | 'enforcing';

interface CommonInstallOptions {
  /** The guest's root: an empty directory (an empty lost+found is allowed), e.g. a mounted target. */
  root: string;
  /** Guest architecture in the distribution's spelling (amd64, i386 / x86_64). Default: the host's. */
  arch?: string;
  /** Where downloads (packages/) and finished installs (roots/) are cached across runs. Default /var/cache/domu-forge. */
  cacheDir?: string;
  /** Use the cache. Default true; false downloads everything into a throw-away directory. */
  cache?: boolean;
  /** Seconds a cached index file (InRelease, repomd.xml) is trusted without asking the mirror. Default 3600; 0 always asks. */
  indexMaxAge?: number;
  /** The log file for the tools' full output. Default /var/log/domu-forge/install-<...>.log. */
  logFile?: string;
  /** Called after each line of tool output that moved the counters. */
  onProgress?: (p: InstallProgress) => void;
  /** Abort to stop the install: the tool's process group is stopped and mounts are released. */
  signal?: AbortSignal;
  /** Undo steps are pushed here (and dropped again when released normally); default: a private stack. */
  cleanup?: CleanupStack;
  /** Prepare for PyGRUB: /etc/modules lists xennet and xenblk, written before the packages go in. */
  pygrub?: boolean;
  /** The guest boots through pvgrub (GRUB for Xen PV), which also reads the guest's own kernel. */
  pvgrub?: boolean;
  /** With pygrub or pvgrub, install no kernel (--no-kernel): the caller brings one. */
  noKernel?: boolean;
  /** No openssh-server (--no-ssh). */
  noSsh?: boolean;
  /** Write the security apt source of suites that have one (Debian, Ubuntu). Default true. */
  securitySource?: boolean;
  /** Timezone and locale for the guest. Default: the Dom0's (readHostSettings); {} leaves the guest's. */
  hostSettings?: import('./boot-ready.js').HostSettings;
  /** Environment for the tools (PATH, proxies). Default: process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface DebianInstallOptions extends CommonInstallOptions {
  distro: DebianDistro;
  /** Suite or code name: bookworm, stable, jammy ... (xen-create-image's --dist). */
  suite: string;
  /** Default: http://deb.debian.org/debian or http://archive.ubuntu.com/ubuntu. */
  mirror?: string;
  /** Default: important (what debootstrap installs without --variant). */
  variant?: DebianVariant;
  /** Extra packages (debootstrap --include). */
  include?: string[];
  /** Archive components. Default: main. */
  components?: string[];
  /** debootstrap, mmdebstrap, or auto (the faster one that is installed: mmdebstrap). */
  tool?: DebianTool | 'auto';
  /** A keyring to check the archive's signature with. Default: the distribution's archive keyring. */
  keyring?: string;
  /**
   * Reuse a finished install of identical inputs (same suite state, variant, packages, tool, ...)
   * from the cache: unpacked from a tarball instead of installed again. Default true.
   */
  rootCache?: boolean;
}

export interface RpmInstallOptions extends CommonInstallOptions {
  distro: RpmDistro;
  /** The release package (a file or an http(s) URL) that defines the repositories. */
  releaseRpm?: string;
  /** Extra repositories (baseurl URLs), used in addition to those of the release package. */
  repos?: string[];
  /** The guest's package manager, installed first. Default: dnf. */
  packageManager?: string;
  /** comps group to install. Default: Base. Empty string: no group. */
  group?: string;
  /** Extra packages to install after the group. */
  packages?: string[];
  /** $releasever. Default: what the release package provides. */
  releasever?: string;
  /** SELinux mode written to the guest's /etc/selinux/config. Default: permissive. */
  selinux?: SelinuxMode;
  /** Check package signatures (the release package's keys). Default true. */
  gpgCheck?: boolean;
}

export type InstallOptions = DebianInstallOptions | RpmInstallOptions;

export interface InstallResult {
  distro: Distro;
  /** Suite (Debian) or release version (Red Hat family). */
  release: string;
  arch: string;
  root: string;
  /** The tool that did the install: debootstrap, mmdebstrap, dnf, yum, or "root cache". */
  tool: string;
  /** Packages installed in the guest (dpkg or rpm database). */
  packages: number;
  /** Seconds, wall clock. */
  seconds: number;
  /** Bytes fetched from mirrors in this run, and bytes served from the cache. */
  downloadedBytes: number;
  cachedBytes: number;
  /** True when the tree came from the root cache. */
  fromRootCache: boolean;
  logFile: string;
  /** Guest files removed (persistent-net rules) or written (/etc/modules, /etc/selinux/config). */
  removed: string[];
  written: string[];
  warnings: string[];
}

export function isDebianOptions(o: InstallOptions): o is DebianInstallOptions {
  return (DEBIAN_DISTROS as readonly string[]).includes(o.distro);
}
