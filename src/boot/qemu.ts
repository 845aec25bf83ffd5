// The qemu command lines of the boot test, and running qemu as a child that the cleanup stack
// kills. Software emulation (TCG): /dev/kvm exists on our CI machines but KVM guests hang there.
// Every disk is attached with snapshot=on, so writes go to a temporary file and images stay unmodified.

import { spawn, type ChildProcess } from 'node:child_process';
import { DomuError } from '../errors.js';
import { hasTool } from '../sys/exec.js';
import type { CleanupStack } from '../cleanup.js';

export const QEMU = 'qemu-system-x86_64';

/**
 * The CPU model: qemu64 plus the instructions Debian's Xen Dom0 and udev need under emulated Xen
 * (without them Dom0 crashes or udev hits an invalid opcode). Plain mode uses the same model.
 */
export const QEMU_CPU = 'qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt';

export interface QemuDisk {
  file: string;
  format?: 'raw' | 'qcow2';
  bus?: 'virtio' | 'ide';
}

/** qemu option values double their commas. */
export function qemuEscape(value: string): string {
  return value.replace(/,/g, ',,');
}

function driveArgs(disks: readonly QemuDisk[]): string[] {
  const args: string[] = [];
  for (const d of disks) {
    args.push('-drive', `file=${qemuEscape(d.file)},format=${d.format ?? 'raw'},if=${d.bus ?? 'virtio'},snapshot=on`);
  }
  return args;
}

const COMMON = ['-machine', 'pc', '-accel', 'tcg', '-cpu', QEMU_CPU, '-display', 'none', '-monitor', 'none', '-nic', 'none', '-no-reboot', '-nodefaults'];

export interface PlainQemuOptions {
  kernel: string;
  initrd?: string;
  append: string;
  disk: QemuDisk;
  memoryMiB: number;
  vcpus: number;
  consoleLog: string;
  /** The console's input: a Unix socket qemu serves (output is logged to consoleLog either way). */
  consoleSocket: string;
}

/**
 * A serial port both ways: qemu serves it on a Unix socket (no waiting for a client) and writes
 * everything the guest sends to `log`, connected or not.
 */
export function serialArgs(id: string, socket: string, log: string): string[] {
  return ['-chardev', `socket,id=${id},path=${qemuEscape(socket)},server=on,wait=off,logfile=${qemuEscape(log)}`, '-serial', `chardev:${id}`];
}

/** Plain mode: the guest's kernel boots directly, its console on the first serial port. */
export function plainQemuArgs(o: PlainQemuOptions): string[] {
  const args = [...COMMON, '-m', String(o.memoryMiB), '-smp', String(o.vcpus), ...serialArgs('guestcon', o.consoleSocket, o.consoleLog)];
  args.push(...driveArgs([o.disk]));
  args.push('-kernel', o.kernel, '-append', o.append);
  if (o.initrd) args.push('-initrd', o.initrd);
  return args;
}

export interface XenQemuOptions {
  /** The unzipped hypervisor (a multiboot ELF). */
  xen: string;
  xenArgs: string;
  dom0Kernel: string;
  dom0Args: string;
  dom0Initrd: string;
  /** vda = Dom0 root, vdb = job disk, then the guest's disks. */
  disks: readonly QemuDisk[];
  memoryMiB: number;
  vcpus: number;
  /** Xen's and the Dom0's console (com1). */
  dom0Log: string;
  /** The guest's console as the Dom0 forwards it (com2), both ways: the log and the input socket. */
  guestLog: string;
  guestSocket: string;
}

/**
 * Xen mode: Xen is the multiboot kernel; the Dom0 kernel (with its command line) and initrd are
 * its modules, passed as `-initrd "vmlinuz ARGS,initrd.img"`.
 */
export function xenQemuArgs(o: XenQemuOptions): string[] {
  for (const [what, p] of [['Dom0 kernel', o.dom0Kernel], ['Dom0 initrd', o.dom0Initrd]] as const) {
    if (/[ ,]/.test(p)) throw new DomuError('BAD_INPUT', `the ${what} path ${p} holds a space or comma, which qemu's multiboot module list cannot carry`);
  }
  if (o.dom0Args.includes(',')) throw new DomuError('BAD_INPUT', `the Dom0 command line cannot hold a comma: ${o.dom0Args}`);
  const args = [...COMMON, '-m', String(o.memoryMiB), '-smp', String(o.vcpus)];
  args.push('-serial', `file:${o.dom0Log}`, ...serialArgs('guestcon', o.guestSocket, o.guestLog));
  args.push(...driveArgs(o.disks));
  args.push('-kernel', o.xen, '-append', o.xenArgs, '-initrd', `${o.dom0Kernel} ${o.dom0Args},${o.dom0Initrd}`);
  return args;
}

export interface RunningQemu {
  child: ChildProcess;
  /** Resolves with the exit status (or signal name) when qemu ends. */
  exited: Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  /** Stop qemu (TERM, then KILL after 5 s) and wait for it. */
  stop: () => Promise<void>;
}

/** Start qemu; the cleanup stack kills it on error or signal. */
export function startQemu(args: readonly string[], cleanup: CleanupStack): RunningQemu {
  if (!hasTool(QEMU)) throw new DomuError('MISSING_TOOL', `${QEMU} is not installed`, { hint: 'install it with: apt-get install qemu-system-x86' });
  const child = spawn(QEMU, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => {
    if (stderr.length < 8192) stderr += b.toString();
  });
  const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.on('error', (e) => {
      stderr += String(e);
      resolve({ status: 127, signal: null, stderr });
    });
    child.on('close', (status, signal) => resolve({ status, signal, stderr }));
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const stop = async (): Promise<void> => {
    if (done) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  const drop = cleanup.push(`stop qemu (pid ${child.pid})`, stop);
  void exited.then(drop);
  return { child, exited, stop };
}
