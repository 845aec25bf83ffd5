// The build spec: one guest, fully described (target, source, fixups, domain, checks). The YAML
// file, the command-line flags and the fleet file all come down to this one typed object.

export type SpecFs = 'ext2' | 'ext3' | 'ext4' | 'xfs';
export type SpecDiskFormat = 'raw' | 'qcow2' | 'vmdk';
export type SpecCompression = 'none' | 'gzip' | 'xz' | 'zstd';

export type TargetSection =
  | { kind: 'image'; path: string; format: SpecDiskFormat; size?: number; fs: SpecFs; label?: string; populate: 'mount' | 'mkfs-d'; force: boolean; swap?: number }
  | { kind: 'lvm'; vg: string; lv: string; size?: number; fs: SpecFs; label?: string; force: boolean; swap?: number }
  | { kind: 'dir'; path: string }
  | { kind: 'tar'; path: string; compression: SpecCompression; force: boolean };

export type SourceSection =
  | { kind: 'clone'; root: string; exclude: string[]; defaultExcludes: boolean; oneFileSystem: boolean; workers?: number }
  | {
      kind: 'install';
      distro: 'debian' | 'ubuntu';
      dist: string;
      mirror?: string;
      arch?: string;
      variant?: 'minbase' | 'buildd' | 'important' | 'standard';
      include: string[];
      tool?: 'debootstrap' | 'mmdebstrap' | 'auto';
    }
  | {
      kind: 'install';
      distro: 'centos' | 'rocky' | 'alma' | 'fedora' | 'rhel' | 'rpm';
      arch?: string;
      releaseRpm?: string;
      repos: string[];
      group?: string;
      packages: string[];
      releasever?: string;
    }
  | { kind: 'tarball'; file: string; trusted: boolean }
  /** A fleet guest: a copy of the fleet's cached base image (made by the fleet builder, never in a spec file). */
  | { kind: 'base'; image: string; key: string; method: 'copy' | 'overlay' };

export interface NetworkSection {
  ip?: string;
  netmask?: string;
  gateway?: string;
  dhcp: boolean;
  mac?: string;
  bridge?: string;
  nameservers: string[];
}

export interface DomainSection {
  type: 'pv' | 'pvh' | 'hvm';
  memory: number;
  vcpus: number;
  kernel?: string;
  initrd?: string;
  pygrub: boolean;
  extra?: string;
  /** Where the xl config goes. Default /etc/xen/<name>.cfg. */
  config: string;
  network: NetworkSection;
}

export interface BuildSpec {
  /** The domain's name; also its default hostname and the name in the inventory. */
  name: string;
  hostname: string;
  /** The file the spec came from (undefined: command-line flags only). */
  file?: string;
  target: TargetSection;
  source: SourceSection;
  /** Extra packages installed after the source stage (apt-get in a chroot, or dnf --installroot). */
  packages: string[];
  fixups: { skip: string[]; only: string[]; options: Record<string, unknown> };
  /** xen-tools-style role scripts, run with the guest root as $1 after the fixups. */
  roles: string[];
  domain: DomainSection;
  verify: boolean;
  bootTest: false | { mode: 'plain' | 'xen'; timeout: number };
}

/** One spec error: where it is and what is wrong. */
export interface SpecIssue {
  /** The spec file, or "command line". */
  file: string;
  /** 1-based line in the file; 0 when it came from a flag or is missing altogether. */
  line: number;
  /** Dotted field path: "target.size", "guests[2].ip". */
  field: string;
  message: string;
}

export function formatIssue(i: SpecIssue): string {
  return `${i.file}${i.line > 0 ? `:${i.line}` : ''}: ${i.field}: ${i.message}`;
}
