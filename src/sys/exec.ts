// Running the standard system tools that do what Node has no call for (mknod, setfattr, mkfs,
// losetup, debootstrap, ...). Every caller goes through here so that a missing tool gives one
// clear message naming the Debian package that provides it, a failure has one shape, and an
// argument may be raw bytes (a file name need not be UTF-8).

import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import type { Readable } from 'node:stream';
import { DomuError, oneLine } from '../errors.js';
import { spawnHelper, type SpawnReply, type SpawnRequest } from './spawner.js';

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

/** An argument: a string, or raw bytes (a file name that need not be UTF-8). */
export type ToolArg = string | Buffer;

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

/**
 * The one shape of a tool's failure: INTERNAL, "TOOL failed: its last words", or the signal or
 * status when it said nothing.
 */
export function toolFailed(tool: string, status: number, stderr: string, signal?: NodeJS.Signals | null): DomuError {
  const why = oneLine(stderr) || (signal ? `killed by ${signal}` : `exit status ${status}`);
  return new DomuError('INTERNAL', `${tool} failed: ${why}`);
}

/** The error for a tool that could not be started at all. */
function spawnFailed(tool: string, e: NodeJS.ErrnoException): DomuError {
  if (e.code === 'ENOENT') return missingTool(tool);
  if (e.name === 'AbortError') return new DomuError('INTERRUPTED', `${tool} was interrupted`);
  return new DomuError('INTERNAL', `${tool}: ${oneLine(e)}`);
}

/** Bytes that stand for themselves in a printf format; every other byte is written as \ooo. */
const PLAIN = /^[A-Za-z0-9_.,:=@+/]$/;

/** A byte string as a printf format that prints exactly those bytes (no %, no leading -). */
export function printfEscape(b: Buffer): string {
  let out = '';
  for (const byte of b) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && PLAIN.test(c) ? c : `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return out;
}

/**
 * Run by sh when an argument is not valid UTF-8: each positional parameter is a printf format
 * (printfEscape) turned back into its bytes, then the tool is exec'd, so its status, stdin and
 * stdout are its own. The trailing x keeps a final newline that $(...) would strip.
 */
const DECODE_AND_EXEC = 'n=$#; while [ "$n" -gt 0 ]; do v=$(printf "$1"; printf x); v=${v%x}; shift; set -- "$@" "$v"; n=$((n - 1)); done; exec "$@"';

/** An argument as the bytes exec gets (a string is UTF-8). */
function argBytes(a: ToolArg): Buffer {
  return typeof a === 'string' ? Buffer.from(a, 'utf8') : a;
}

/** Whether `b` survives Node's string-to-UTF-8 conversion of spawn's arguments. */
function isUtf8(b: Buffer): boolean {
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}

/**
 * The command line to spawn for `tool args`. Node encodes every argument string as UTF-8, so a
 * Buffer that is not valid UTF-8 (a latin1 file name, say) cannot be passed as is: then the whole
 * command goes through sh, which rebuilds the exact bytes (DECODE_AND_EXEC).
 */
export function commandLine(tool: string, args: readonly ToolArg[]): { file: string; argv: string[]; viaShell: boolean } {
  if (args.every((a) => typeof a === 'string' || isUtf8(a))) {
    return { file: tool, argv: args.map((a) => (typeof a === 'string' ? a : a.toString('utf8'))), viaShell: false };
  }
  return { file: 'sh', argv: ['-c', DECODE_AND_EXEC, 'sh', printfEscape(argBytes(tool)), ...args.map((a) => printfEscape(argBytes(a)))], viaShell: true };
}

/** A finished tool's result, or its failure (a non-zero status not allowed). */
function outcome(tool: string, result: ToolResult, signal: NodeJS.Signals | null, options: RunToolOptions): ToolResult {
  if (result.status === 0 || options.allowFailure) return result;
  throw toolFailed(tool, result.status, result.stderr, signal);
}

/** sh's "exec: TOOL: not found" is the missing-tool error that spawn gives as ENOENT. */
function shellMissing(viaShell: boolean, status: number, stderr: string): boolean {
  return viaShell && status === 127 && /not found/.test(stderr);
}

/**
 * Run a tool to completion, collecting its output. Throws DomuError on a missing tool or a failure.
 * It is started by the spawn helper (sys/spawner.ts) when that is up, else directly.
 */
export function runTool(tool: string, args: readonly ToolArg[], options: RunToolOptions = {}): Promise<ToolResult> {
  const helper = spawnHelper();
  if (helper) return runThroughHelper(helper, tool, args, options);
  return new Promise((resolve, reject) => {
    const spawnOptions: SpawnOptions = { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] };
    if (options.signal) spawnOptions.signal = options.signal;
    const cmd = commandLine(tool, args);
    const child = spawn(cmd.file, cmd.argv, spawnOptions);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => reject(spawnFailed(tool, e)));
    child.on('close', (code, sig) => {
      const result: ToolResult = { status: code ?? 128, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() };
      if (shellMissing(cmd.viaShell, result.status, result.stderr)) reject(missingTool(tool));
      else {
        try {
          resolve(outcome(tool, result, sig, options));
        } catch (e) {
          reject(e);
        }
      }
    });
    child.stdin!.on('error', () => undefined); // the tool may exit before reading all input
    child.stdin!.end(options.input ?? '');
  });
}

async function runThroughHelper(helper: { run(r: SpawnRequest): Promise<SpawnReply> }, tool: string, args: readonly ToolArg[], options: RunToolOptions): Promise<ToolResult> {
  if (options.signal?.aborted) throw new DomuError('INTERRUPTED', `${tool} was interrupted`);
  const input = options.input === undefined ? Buffer.alloc(0) : typeof options.input === 'string' ? Buffer.from(options.input) : options.input;
  const r = await helper.run({
    argv: [argBytes(tool), ...args.map(argBytes)], env: options.env ?? process.env, input, cwd: options.cwd ?? process.cwd(),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (!r.ok) {
    if (r.code === 'ABORTED') throw new DomuError('INTERRUPTED', `${tool} was interrupted`);
    if (r.code === 'ENOENT') throw missingTool(tool);
    throw new DomuError('INTERNAL', `${tool}: ${r.code}: ${r.message}`);
  }
  return outcome(tool, { status: r.status ?? 128, stdout: r.stdout, stderr: r.stderr.toString() }, r.signal, options);
}

export interface StreamingTool {
  /** The tool's standard output, to be read as it comes. */
  stdout: Readable;
  child: ChildProcess;
  /** Settles when the tool exits: its status and stderr (stdout is empty: it was streamed), or the error. */
  done: Promise<ToolResult>;
}

/**
 * Start a tool whose output the caller reads as a stream (a large listing, a progress log). The
 * standard input is closed unless `input` is given. Same errors as runTool.
 */
export function streamTool(tool: string, args: readonly ToolArg[], options: RunToolOptions = {}): StreamingTool {
  const spawnOptions: SpawnOptions = { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] };
  if (options.signal) spawnOptions.signal = options.signal;
  const cmd = commandLine(tool, args);
  const child = spawn(cmd.file, cmd.argv, spawnOptions);
  const err: Buffer[] = [];
  child.stderr!.on('data', (b: Buffer) => err.push(b));
  const done = new Promise<ToolResult>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) => reject(spawnFailed(tool, e)));
    child.on('close', (code, sig) => {
      const result: ToolResult = { status: code ?? 128, stdout: Buffer.alloc(0), stderr: Buffer.concat(err).toString() };
      if (shellMissing(cmd.viaShell, result.status, result.stderr)) reject(missingTool(tool));
      else {
        try {
          resolve(outcome(tool, result, sig, options));
        } catch (e) {
          reject(e);
        }
      }
    });
  });
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(options.input ?? '');
  return { stdout: child.stdout!, child, done };
}

/** Whether a tool is on PATH. */
export function hasTool(tool: string): boolean {
  const r = spawnSync('sh', ['-c', `command -v "$1" >/dev/null`, 'sh', tool]);
  return r.status === 0;
}

export { python3 } from './python.js';
