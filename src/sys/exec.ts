// Running the standard system tools that do what Node has no call for (mknod, setfattr, mkfs,
// losetup, debootstrap, ...). Every caller goes through here so that a missing tool gives one
// clear message naming the Debian package that provides it.

import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { DomuError, oneLine } from '../errors.js';

/** The Debian package that provides each tool we call. */
export const DEBIAN_PACKAGE: Readonly<Record<string, string>> = {
  getfattr: 'attr',
  setfattr: 'attr',
  getfacl: 'acl',
  setfacl: 'acl',
  mknod: 'coreutils',
  mkfifo: 'coreutils',
  touch: 'coreutils',
  rsync: 'rsync',
  tar: 'tar',
  mount: 'mount',
  umount: 'mount',
  losetup: 'mount',
  'mkfs.ext2': 'e2fsprogs',
  'mkfs.ext3': 'e2fsprogs',
  'mkfs.ext4': 'e2fsprogs',
  mke2fs: 'e2fsprogs',
  e2fsck: 'e2fsprogs',
  'mkfs.xfs': 'xfsprogs',
  xfs_repair: 'xfsprogs',
  lvcreate: 'lvm2',
  lvremove: 'lvm2',
  vgcreate: 'lvm2',
  'qemu-img': 'qemu-utils',
  'qemu-system-x86_64': 'qemu-system-x86',
  debootstrap: 'debootstrap',
  mmdebstrap: 'mmdebstrap',
  rpm: 'rpm',
  rpmbuild: 'rpm',
  dnf: 'dnf',
  createrepo_c: 'createrepo-c',
  xz: 'xz-utils',
  zstd: 'zstd',
  'mklost+found': 'e2fsprogs',
  debugfs: 'e2fsprogs',
  blkid: 'util-linux',
  partx: 'util-linux',
  sfdisk: 'fdisk',
  lvs: 'lvm2',
  vgs: 'lvm2',
  vgmknodes: 'lvm2',
  du: 'coreutils',
  sync: 'coreutils',
  cp: 'coreutils',
  xargs: 'findutils',
  python3: 'python3',
  setcap: 'libcap2-bin',
  getcap: 'libcap2-bin',
  pygrub: 'xen-utils-4.17',
  mkpasswd: 'whois',
};

export interface ToolResult {
  status: number;
  stdout: Buffer;
  stderr: string;
}

export interface RunToolOptions {
  input?: Buffer | string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Return a non-zero status instead of throwing. */
  allowFailure?: boolean;
  signal?: AbortSignal;
}

function missingTool(tool: string): DomuError {
  const pkg = DEBIAN_PACKAGE[tool];
  return new DomuError('MISSING_TOOL', `${tool} is not installed`, {
    hint: pkg ? `install it with: apt-get install ${pkg}` : undefined,
  });
}

/** Run a tool to completion, collecting its output. Throws DomuError on a missing tool or a failure. */
export function runTool(tool: string, args: readonly string[], options: RunToolOptions = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const spawnOptions: SpawnOptions = { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] };
    if (options.signal) spawnOptions.signal = options.signal;
    const child = spawn(tool, args, spawnOptions);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') reject(missingTool(tool));
      else if (e.name === 'AbortError') reject(new DomuError('INTERRUPTED', `${tool} was interrupted`));
      else reject(new DomuError('INTERNAL', `${tool}: ${oneLine(e)}`));
    });
    child.on('close', (code, sig) => {
      const result: ToolResult = { status: code ?? 128, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() };
      if (result.status === 0 || options.allowFailure) resolve(result);
      else {
        const why = oneLine(result.stderr) || (sig ? `killed by ${sig}` : `exit status ${result.status}`);
        reject(new DomuError('INTERNAL', `${tool} failed: ${why}`));
      }
    });
    child.stdin!.on('error', () => undefined); // the tool may exit before reading all input
    child.stdin!.end(options.input ?? '');
  });
}

/** Synchronous variant for worker threads and small one-off calls. */
export function runToolSync(tool: string, args: readonly string[], options: Omit<RunToolOptions, 'signal'> = {}): ToolResult {
  const r = spawnSync(tool, args, {
    cwd: options.cwd,
    env: options.env,
    input: options.input ?? '',
    maxBuffer: 1 << 30,
  });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') throw missingTool(tool);
    throw new DomuError('INTERNAL', `${tool}: ${oneLine(r.error)}`);
  }
  const result: ToolResult = { status: r.status ?? 128, stdout: r.stdout, stderr: r.stderr.toString() };
  if (result.status !== 0 && !options.allowFailure) {
    throw new DomuError('INTERNAL', `${tool} failed: ${oneLine(result.stderr) || `exit status ${result.status}`}`);
  }
  return result;
}

/** Whether a tool is on PATH. */
export function hasTool(tool: string): boolean {
  const r = spawnSync('sh', ['-c', `command -v "$1" >/dev/null`, 'sh', tool]);
  return r.status === 0;
}
