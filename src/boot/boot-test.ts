// bootTest(): prove a guest image boots, either with its own kernel straight under qemu (plain)
// or as a PV guest started by `xl create` under a real Xen hypervisor that itself runs under
// qemu (xen). The image is only ever attached through qemu snapshots and a read-only mount.

import { promises as fsp, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DomuError, errnoCode, oneLine } from '../errors.js';
import { runTool } from '../sys/exec.js';
import { CleanupStack } from '../cleanup.js';
import { ConsoleFollower, cleanConsoleText, judgeConsole, lastLines, type BootCriterion, type ConsoleVerdict } from './console.js';
import { ConsoleChannel } from './console-channel.js';
import { FAILED_UNITS_PROBE, judgeLogin, loginDialogue, parseFailedUnits, type InitKind, type LoginAnswers, type LoginCredentials, type LoginVerdict } from './login.js';
import { throwawayRootLogin } from './login-disk.js';
import { readGuestFiles, type GuestFiles } from './guest-files.js';
import { plainQemuArgs, startQemu, xenQemuArgs, type QemuDisk, type RunningQemu } from './qemu.js';
import { DOM0_MARKER, JOB_DISK_LABEL, ensureDom0, type Dom0 } from './dom0.js';
import { PVGRUB_IMAGE } from '../xen/domain.js';
import { parseXlConfig, parseXlDisk, renderXlDisk, renderXlSettings, type XlValue } from './xl-config.js';

export type BootMode = 'plain' | 'xen';

export interface BootTestOptions {
  /** The guest's disk: an image file or block device holding its root filesystem. */
  image: string;
  mode?: BootMode;
  /** The guest kernel and initrd; by default the newest in the image's /boot. */
  kernel?: string;
  initrd?: string;
  /** The hostname the login prompt must show; by default the image's /etc/hostname. */
  hostname?: string;
  /** Xen mode: the guest's xl domain config (disks are re-pointed, networks dropped). */
  config?: string;
  /** Plain mode: the root= device; by default the fstab's UUID=/LABEL=, else /dev/vda (/dev/sda on IDE). */
  root?: string;
  /** Extra guest kernel arguments. */
  append?: string;
  /** Guest memory in MiB (plain: 1024; xen: the config's, else 512). */
  memory?: number;
  vcpus?: number;
  /** Plain mode disk bus. */
  diskBus?: 'virtio' | 'ide';
  /** Seconds to wait for the guest, after qemu starts (the Dom0 build is not counted). */
  timeoutSeconds?: number;
  /** Where console logs go; by default /var/tmp/domu-forge-boot/<name>-<mode>-<time>/. */
  logDir?: string;
  /** Cache root for the Dom0 and .deb files. */
  cacheDir?: string;
  mirror?: string;
  securityMirror?: string;
  /**
   * The credentials to log in with on the console: the ones the build set. Without them boot-test
   * sets a random root password on a throwaway copy of the image (never on the image itself).
   * `uid` is what `id -u` must answer (default 0).
   */
  login?: { user: string; password: string; uid?: number };
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

export interface BootTestResult {
  passed: boolean;
  mode: BootMode;
  image: string;
  /** The hostname the prompt had to show. */
  hostname: string;
  /** What was required, in words. */
  criterion: string;
  /** Why it passed or failed. */
  reason: string;
  seconds: number;
  consoleLog: string;
  dom0Log?: string;
  /** Hostnames seen in login prompts and virtualization kinds reported, in order. */
  prompts: string[];
  virtualization: string[];
  /** Where the guest kernel came from: the image's /boot, --kernel or the config, or the config's bootloader (PyGRUB). */
  kernel: { source: 'image' | 'given' | 'bootloader'; version?: string; cmdline?: string };
  qemuArgs: string[];
  dom0?: { key: string; dir: string; built: boolean; buildSeconds: number; versions: Record<string, string> };
  /** Xen mode: the config the Dom0 ran, and the settings left out of it. */
  guestConfig?: string;
  dropped?: string[];
  /** What boot-test did differently from the config, and why. */
  notes?: string[];
  /** The last console lines, when it failed. */
  tail?: string[];
  /** Who logged in, with whose credentials, and what the guest answered (absent answers: the login did not get that far). */
  login: { user: string; credentials: 'given' | 'set'; answers?: LoginAnswers; failedUnits?: string[] };
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const DOM0_MEMORY_MIB = 512;
const JOB_MOUNT = '/run/domu-forge-job';

function isQcow2(head: Buffer): boolean {
  return head.length >= 4 && head.readUInt32BE(0) === 0x514649fb;
}

async function checkImage(image: string): Promise<{ path: string; format: 'raw' | 'qcow2' }> {
  let st;
  try {
    st = await fsp.stat(image);
  } catch (e) {
    throw new DomuError('BAD_INPUT', `image ${image} ${errnoCode(e) === 'ENOENT' ? 'does not exist' : `cannot be read: ${oneLine(e)}`}`);
  }
  if (!st.isFile() && !st.isBlockDevice()) throw new DomuError('BAD_INPUT', `image ${image} is neither a file nor a block device`);
  const fh = await fsp.open(image, 'r');
  try {
    const head = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0);
    return { path: realpathSync(image), format: isQcow2(head) ? 'qcow2' : 'raw' };
  } finally {
    await fh.close();
  }
}

async function isFile(file: string): Promise<boolean> {
  return fsp.stat(file).then((st) => st.isFile(), () => false);
}

async function checkFile(file: string, what: string): Promise<string> {
  try {
    const st = await fsp.stat(file);
    if (!st.isFile()) throw new DomuError('BAD_INPUT', `${what} ${file} is not a regular file`);
  } catch (e) {
    if (e instanceof DomuError) throw e;
    throw new DomuError('BAD_INPUT', `${what} ${file} does not exist`);
  }
  return path.resolve(file);
}

function validate(o: BootTestOptions): void {
  if (o.mode !== undefined && o.mode !== 'plain' && o.mode !== 'xen') throw new DomuError('USAGE', `mode must be plain or xen, not ${String(o.mode)}`);
  if (o.initrd && !o.kernel) throw new DomuError('USAGE', '--initrd needs --kernel');
  if (o.root && o.mode === 'xen') throw new DomuError('USAGE', '--root is for the plain mode; under Xen the root comes from the config');
  for (const [k, v, min, max] of [
    ['timeout', o.timeoutSeconds, 10, 86400],
    ['memory', o.memory, 64, 65536],
    ['vcpus', o.vcpus, 1, 8],
  ] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) throw new DomuError('USAGE', `--${k} must be an integer from ${min} to ${max}, not ${v}`);
  }
  if (o.hostname !== undefined && !/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(o.hostname)) throw new DomuError('USAGE', `--hostname ${o.hostname} is not a host name`);
  if (o.append?.includes('\n')) throw new DomuError('USAGE', '--append cannot hold a newline');
  if (o.login) {
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*\$?$/.test(o.login.user)) throw new DomuError('USAGE', `login user ${JSON.stringify(o.login.user)} is not a user name`);
    if (o.login.password === '' || /[\r\n\0]/.test(o.login.password)) throw new DomuError('USAGE', 'the login password must be non-empty, without a newline or NUL');
    if (o.login.user !== 'root' && o.login.uid === undefined) throw new DomuError('USAGE', `login as ${o.login.user}: give its uid, which id -u must answer`);
    if (o.login.uid !== undefined && (!Number.isInteger(o.login.uid) || o.login.uid < 0)) throw new DomuError('USAGE', `login uid must be a whole number, not ${o.login.uid}`);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
}

/** What the options and the config say, checked before anything is touched. */
interface Inputs {
  mode: BootMode;
  img: { path: string; format: 'raw' | 'qcow2' };
  givenKernel?: string;
  givenInitrd?: string;
  configFile?: string;
  xl?: ReturnType<typeof parseXlConfig>;
  usesBootloader: boolean;
  notes: string[];
}

async function readInputs(options: BootTestOptions): Promise<Inputs> {
  validate(options);
  const mode: BootMode = options.mode ?? 'plain';
  const img = await checkImage(options.image);
  let givenKernel = options.kernel ? await checkFile(options.kernel, 'kernel') : undefined;
  let givenInitrd = options.initrd ? await checkFile(options.initrd, 'initrd') : undefined;
  // plain mode boots the kernel straight, so a domain config has nothing to say there
  const configFile = mode === 'xen' ? options.config : undefined;
  const configText = configFile ? await fsp.readFile(configFile, 'utf8').catch((e: unknown) => {
    throw new DomuError('BAD_INPUT', `config ${configFile}: ${errnoCode(e) === 'ENOENT' ? 'does not exist' : oneLine(e)}`);
  }) : undefined;
  const xl = configText !== undefined ? parseXlConfig(configText, configFile) : undefined;
  if (xl) checkPv(xl, configFile!);
  // pvgrub: the config's kernel is GRUB for Xen PV, a Dom0 file (grub-xen-host) the emulated Dom0 has as well
  const usesBootloader = (xl?.some((s) => s.key === 'bootloader') ?? false) || xl?.find((s) => s.key === 'kernel')?.value === PVGRUB_IMAGE;
  // the config's kernel is a path in the real Dom0: boot it when this host has it, as xl would
  const notes: string[] = [];
  if (xl && !usesBootloader && !givenKernel) {
    const k = xl.find((s) => s.key === 'kernel')?.value;
    const r = xl.find((s) => s.key === 'ramdisk')?.value;
    if (typeof k === 'string' && (await isFile(k))) {
      givenKernel = path.resolve(k);
      if (typeof r === 'string' && (await isFile(r))) givenInitrd = path.resolve(r);
      else if (typeof r === 'string') notes.push(`ramdisk ${r} is not on this host: booting without one`);
    } else if (typeof k === 'string') {
      notes.push(`kernel ${k} is not on this host: booting the image's own kernel`);
    }
  }
  return { mode, img, givenKernel, givenInitrd, configFile, xl, usesBootloader, notes };
}

/** The disk the guest boots from, what was read off it, and the credentials it will be logged in with. */
interface PreparedDisk {
  guest: GuestFiles;
  hostname: string;
  /** A plain name for log folders and the default domain name. */
  name: string;
  /** What qemu attaches: the image itself, or the throwaway copy holding boot-test's own root password. */
  boot: { path: string; format: 'raw' | 'qcow2' };
  credentials: LoginCredentials;
  credentialSource: 'given' | 'set';
  uid: number;
}

/** Step 1: read the guest's kernel, hostname and fstab (read-only); make the login copy when no credentials are given. */
async function prepareDisk(inp: Inputs, options: BootTestOptions, work: string, cleanup: CleanupStack, progress: (m: string) => void): Promise<PreparedDisk> {
  const { img, givenKernel, givenInitrd } = inp;
  let guest: GuestFiles;
  const needKernel = !givenKernel && !inp.usesBootloader;
  if (img.format === 'qcow2') {
    if (needKernel || !options.hostname) throw new DomuError('BAD_INPUT', `${options.image} is a qcow2 image, which boot-test cannot read: give --kernel, --initrd and --hostname`);
    guest = { kernel: givenKernel ?? '', kernelVersion: '' };
  } else {
    progress('reading the guest image (read-only)');
    try {
      guest = await readGuestFiles(img.path, work, cleanup, { kernel: needKernel });
    } catch (e) {
      // a whole partitioned disk: fine when the kernel and hostname are given
      if (needKernel || !options.hostname || !(e instanceof DomuError) || !/holds a partition table/.test(e.message)) throw e;
      guest = { kernel: '', kernelVersion: '' };
    }
  }
  if (givenKernel) {
    guest.kernel = givenKernel;
    guest.kernelVersion = '';
    if (givenInitrd) guest.initrd = givenInitrd;
    else delete guest.initrd;
  }
  const hostname = options.hostname ?? guest.hostname;
  if (!hostname) throw new DomuError('BAD_INPUT', `${options.image} has no /etc/hostname: give --hostname with the name its login prompt must show`);
  const name = NAME_RE.test(hostname) ? hostname : 'domu-forge-guest';
  if (options.login) {
    return { guest, hostname, name, boot: img, credentials: { user: options.login.user, password: options.login.password }, credentialSource: 'given', uid: options.login.uid ?? 0 };
  }
  if (img.format !== 'raw') throw new DomuError('BAD_INPUT', `${options.image} is a qcow2 image: boot-test cannot set a root password on a copy of it; give the credentials the build set (login)`);
  progress('copying the image to set a throwaway root password on the copy');
  const copy = await throwawayRootLogin(img.path, work, cleanup);
  inp.notes.push(`logged in as root with a password boot-test set on a throwaway copy of the image, hashed with ${copy.scheme}`);
  return { guest, hostname, name, boot: { path: copy.file, format: 'raw' }, credentials: copy.credentials, credentialSource: 'set', uid: 0 };
}

/** What qemu runs and where its consoles go. */
interface Launch {
  qemuArgs: string[];
  consoleLog: string;
  consoleSocket: string;
  logDir: string;
  dom0Log?: string;
  dom0?: Dom0;
  guestConfig?: string;
  dropped?: string[];
  timeout: number;
  kernelInfo: BootTestResult['kernel'];
}

/** Step 2a: the qemu command line of the mode (the Xen mode also readies the Dom0 and the job disk). */
async function planQemu(inp: Inputs, disk: PreparedDisk, options: BootTestOptions, work: string, progress: (m: string) => void): Promise<Launch> {
  const { mode, img, guest } = { ...inp, guest: disk.guest };
  const logDir = path.resolve(options.logDir ?? path.join('/var/tmp/domu-forge-boot', `${disk.name}-${mode}-${stamp()}`));
  await fsp.mkdir(logDir, { recursive: true });
  const consoleLog = path.join(logDir, 'guest-console.log');
  await fsp.rm(consoleLog, { force: true });
  const consoleSocket = path.join(work, 'console.sock');
  const kernelInfo: BootTestResult['kernel'] = { source: inp.givenKernel ? 'given' : inp.usesBootloader && mode === 'xen' ? 'bootloader' : 'image' };
  if (guest.kernelVersion) kernelInfo.version = guest.kernelVersion;

  if (mode === 'plain') {
    const bus = options.diskBus ?? 'virtio';
    const root = options.root ?? (guest.fstabRoot && /^(UUID|LABEL|PARTUUID)=/.test(guest.fstabRoot) ? guest.fstabRoot : bus === 'ide' ? '/dev/sda' : '/dev/vda');
    const cmdline = `root=${root} ro console=ttyS0${options.append ? ` ${options.append}` : ''}`;
    kernelInfo.cmdline = cmdline;
    const qemuArgs = plainQemuArgs({
      kernel: guest.kernel,
      initrd: guest.initrd,
      append: cmdline,
      disk: { file: disk.boot.path, format: disk.boot.format, bus },
      memoryMiB: options.memory ?? 1024,
      vcpus: options.vcpus ?? 1,
      consoleLog,
      consoleSocket,
    });
    return { qemuArgs, consoleLog, consoleSocket, logDir, timeout: options.timeoutSeconds ?? 600, kernelInfo };
  }
  progress('preparing the Xen Dom0 (built once, then cached)');
  const dom0 = await ensureDom0({
    cacheDir: options.cacheDir,
    mirror: options.mirror,
    securityMirror: options.securityMirror,
    signal: options.signal,
    onProgress: progress,
  });
  if (options.signal?.aborted) throw new DomuError('INTERRUPTED', 'boot-test was interrupted');
  const job = await makeXenJob({ xl: inp.xl, configFile: inp.configFile, image: img, bootImage: disk.boot, guest, hostname: disk.name, options, work, usesBootloader: inp.usesBootloader });
  kernelInfo.cmdline = job.cmdline;
  const dom0Log = path.join(logDir, 'dom0-console.log');
  await fsp.rm(dom0Log, { force: true });
  const qemuArgs = xenQemuArgs({
    xen: dom0.xen,
    xenArgs: `console=com1 com1=115200,8n1 dom0_mem=${DOM0_MEMORY_MIB}M,max:${DOM0_MEMORY_MIB}M dom0_max_vcpus=1 smep=0 smap=0 noreboot`,
    dom0Kernel: dom0.kernel,
    dom0Args: 'root=/dev/vda ro console=hvc0',
    dom0Initrd: dom0.initrd,
    disks: [{ file: dom0.image }, { file: job.jobImage }, ...job.disks],
    memoryMiB: DOM0_MEMORY_MIB + job.memoryMiB + 256,
    vcpus: 2,
    dom0Log,
    guestLog: consoleLog,
    guestSocket: consoleSocket,
  });
  await fsp.writeFile(path.join(logDir, 'guest.cfg'), job.config);
  return { qemuArgs, consoleLog, consoleSocket, logDir, dom0Log, dom0, guestConfig: job.config, dropped: job.dropped, timeout: options.timeoutSeconds ?? 900, kernelInfo };
}

/** A running guest: qemu, its console (log and input) and the Dom0's console. */
interface Running {
  qemu: RunningQemu;
  exit: () => { status: number | null; signal: NodeJS.Signals | null; stderr: string } | undefined;
  follower: ConsoleFollower;
  dom0Follower?: ConsoleFollower;
  channel: ConsoleChannel;
  started: number;
  deadline: number;
  timeout: number;
}

/** Step 2b: start qemu and connect to the guest console's input. */
async function startGuest(launch: Launch, mode: BootMode, cleanup: CleanupStack, options: BootTestOptions, progress: (m: string) => void): Promise<Running> {
  progress(`starting qemu (${mode})`);
  const started = Date.now();
  const qemu = startQemu(launch.qemuArgs, cleanup);
  let exited: ReturnType<Running['exit']>;
  void qemu.exited.then((x) => {
    exited = x;
  });
  const channel = new ConsoleChannel(launch.consoleSocket);
  cleanup.push('close the guest console', () => channel.close());
  // qemu makes the socket before the guest runs; when qemu ends first, waitForPrompt says why
  await channel.connect(30_000, options.signal, () => exited !== undefined);
  return {
    qemu,
    exit: () => exited,
    follower: new ConsoleFollower(launch.consoleLog),
    dom0Follower: launch.dom0Log ? new ConsoleFollower(launch.dom0Log) : undefined,
    channel,
    started,
    deadline: started + launch.timeout * 1000,
    timeout: launch.timeout,
  };
}

/** Why the run cannot go on (interrupted, a Dom0/Xen failure, qemu gone, out of time), or undefined. */
async function stopReason(run: Running, options: BootTestOptions, still: string, before = 'the guest came up'): Promise<string | undefined> {
  if (options.signal?.aborted) throw new DomuError('INTERRUPTED', 'boot-test was interrupted');
  if (run.dom0Follower) {
    const why = judgeDom0(await run.dom0Follower.poll());
    if (why) return why;
  }
  const x = run.exit();
  if (x) {
    const why = x.stderr.trim() ? `: ${oneLine(x.stderr).slice(0, 300)}` : '';
    return `qemu exited (${x.signal ?? `status ${x.status}`}) before ${before}${why}`;
  }
  if (Date.now() > run.deadline) return `no pass within ${run.timeout}s: still ${still}`;
  return undefined;
}

/** Step 3: wait for the guest's own login prompt and its init's virtualization line. */
async function waitForPrompt(run: Running, criterion: BootCriterion, mode: BootMode, options: BootTestOptions, progress: (m: string) => void): Promise<ConsoleVerdict> {
  for (;;) {
    await sleep(500, options.signal);
    const verdict = judgeConsole(await run.follower.poll(), criterion);
    if (verdict.state !== 'pending') return verdict;
    const why = await stopReason(run, options, verdict.reason);
    if (why) return { ...verdict, state: 'fail', reason: why };
    progress(`${mode} boot ${((Date.now() - run.started) / 1000).toFixed(0)}s: ${verdict.reason}`);
  }
}

/** What the login answered, and the failed units when systemd said the system is not "running". */
interface LoginOutcome extends LoginVerdict {
  failedUnits?: string[];
}

/** Type on the guest console; a fail verdict when the console is gone (qemu ended). */
async function type(run: Running, text: string): Promise<LoginVerdict | undefined> {
  try {
    await run.channel.send(text);
    return undefined;
  } catch (e) {
    const x = run.exit();
    return { state: 'fail', reason: `logging in: the guest console closed${x ? ` (qemu exited, ${x.signal ?? `status ${x.status}`})` : ''}: ${oneLine(e)}` };
  }
}

/** Step 4: log in at the prompt and ask hostname, id -u and the system state (judged by judgeLogin). */
async function logIn(run: Running, disk: PreparedDisk, options: BootTestOptions, progress: (m: string) => void): Promise<LoginOutcome> {
  const init: InitKind = 'systemd'; // the boot criterion already required systemd's "Detected virtualization"
  const expected = { hostname: disk.hostname, uid: disk.uid, init, user: disk.credentials.user, credentials: disk.credentialSource === 'given' ? 'given (login)' : 'boot-test set on its copy' };
  const steps = loginDialogue(disk.hostname, disk.credentials, init);
  let from = 0;
  const since = async () => {
    const raw = await run.follower.poll();
    return { raw, text: cleanConsoleText(raw.slice(from)) };
  };
  for (const [i, step] of steps.entries()) {
    let nudged = Date.now();
    for (;;) {
      const { raw, text } = await since();
      if (i > 0 && /Login incorrect/.test(text)) return judgeLogin(text, expected);
      if (step.expect.test(text)) {
        from = raw.length;
        break;
      }
      const why = await stopReason(run, options, `waiting for the ${step.what}`, 'the login was done');
      if (why) return { state: 'fail', reason: `logging in: ${why}` };
      // kernel or init messages after the prompt: an empty line makes the getty show it again
      if (i === 0 && Date.now() - nudged > 8000) {
        const failed = await type(run, '\r');
        if (failed) return failed;
        nudged = Date.now();
      }
      progress(`logging in: waiting for the ${step.what}`);
      await sleep(500, options.signal);
    }
    const failed = await type(run, step.send);
    if (failed) return failed;
  }
  let verdict: LoginVerdict;
  for (;;) {
    await sleep(500, options.signal);
    verdict = judgeLogin((await since()).text, expected);
    if (verdict.state !== 'pending') break;
    const why = await stopReason(run, options, 'waiting for the answers of hostname, id -u and the system state', 'the login was done');
    if (why) return { state: 'fail', reason: `logging in: ${why}` };
    progress(`logged in: ${verdict.reason}`);
  }
  if (verdict.state === 'pass' || !verdict.answers || verdict.answers.state === 'running' || verdict.answers.hostname === '') return verdict;
  // systemd is up but not "running": name the units that failed
  from = (await since()).raw.length;
  if (await type(run, FAILED_UNITS_PROBE)) return verdict;
  for (let n = 0; n < 120; n += 1) {
    await sleep(500, options.signal);
    const units = parseFailedUnits((await since()).text);
    if (units) return { ...verdict, reason: `${verdict.reason}; failed units: ${units.length > 0 ? units.join(', ') : 'none listed'}`, failedUnits: units };
    if (await stopReason(run, options, 'waiting for systemctl --failed')) break;
  }
  return verdict;
}

/** The pass criterion in words, for the result and the CLI. */
function criterionOf(disk: PreparedDisk, mode: BootMode): { criterion: BootCriterion; text: string } {
  const criterion: BootCriterion = { hostname: disk.hostname, virtualization: mode === 'xen' ? ['xen'] : ['qemu', 'kvm'] };
  const short = disk.hostname.split('.')[0];
  const text =
    `the guest's login prompt shows "${short} login:" and its init reports "Detected virtualization ${criterion.virtualization.join('" or "')}"; ` +
    `then, logged in as ${disk.credentials.user} on the console, hostname answers ${short}, id -u ${disk.uid} and systemctl is-system-running --wait "running"`;
  return { criterion, text };
}

/** Step 5: the verdict: passed only when the prompt came AND the login answered as wanted. */
function judgeRun(a: { inp: Inputs; disk: PreparedDisk; launch: Launch; run: Running; criterionText: string; prompt: ConsoleVerdict; login?: LoginOutcome; seconds: number }): BootTestResult {
  const { inp, disk, launch, run, prompt, login } = a;
  const result: BootTestResult = {
    passed: prompt.state === 'pass' && login?.state === 'pass',
    mode: inp.mode,
    image: inp.img.path,
    hostname: disk.hostname,
    criterion: a.criterionText,
    reason: login ? `${prompt.reason}; ${login.reason}` : prompt.reason,
    seconds: Math.round(a.seconds * 10) / 10,
    consoleLog: launch.consoleLog,
    prompts: prompt.prompts,
    virtualization: prompt.virtualization,
    kernel: launch.kernelInfo,
    qemuArgs: launch.qemuArgs,
    login: { user: disk.credentials.user, credentials: disk.credentialSource },
  };
  if (login?.answers) result.login.answers = login.answers;
  if (login?.failedUnits) result.login.failedUnits = login.failedUnits;
  if (launch.dom0Log) result.dom0Log = launch.dom0Log;
  if (launch.dom0) result.dom0 = { key: launch.dom0.key, dir: launch.dom0.dir, built: launch.dom0.built, buildSeconds: launch.dom0.buildSeconds, versions: launch.dom0.versions };
  if (launch.guestConfig !== undefined) result.guestConfig = launch.guestConfig;
  if (launch.dropped) result.dropped = launch.dropped;
  if (inp.notes.length > 0) result.notes = inp.notes;
  if (!result.passed) {
    result.tail = lastLines(run.follower.text(), 15);
    if (run.dom0Follower && result.tail.length === 0) result.tail = lastLines(run.dom0Follower.text(), 15);
  }
  return result;
}

/**
 * Run the boot test: prepare the disk, start qemu, wait for the prompt, log in, judge, tear down.
 * Bad input throws a DomuError; a guest that does not boot or cannot be logged in to gives `passed: false`.
 */
export async function bootTest(options: BootTestOptions): Promise<BootTestResult> {
  const progress = options.onProgress ?? (() => undefined);
  const inp = await readInputs(options);
  if (process.getuid?.() !== 0) throw new DomuError('ENVIRONMENT', 'boot-test needs root (loop devices and mounts to read the image)');
  const cleanup = new CleanupStack();
  try {
    const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'domu-boot-'));
    cleanup.push(`remove ${work}`, () => fsp.rm(work, { recursive: true, force: true }));
    const disk = await prepareDisk(inp, options, work, cleanup, progress);
    const launch = await planQemu(inp, disk, options, work, progress);
    const { criterion, text: criterionText } = criterionOf(disk, inp.mode);
    const run = await startGuest(launch, inp.mode, cleanup, options, progress);
    const prompt = await waitForPrompt(run, criterion, inp.mode, options, progress);
    const login = prompt.state === 'pass' ? await logIn(run, disk, options, progress) : undefined;
    const seconds = (Date.now() - run.started) / 1000;
    // step 6, tear down: qemu and the console now, the rest with the cleanup stack below
    run.channel.close();
    await run.qemu.stop();
    return judgeRun({ inp, disk, launch, run, criterionText, prompt, login, seconds });
  } finally {
    // mounts, loop devices, the login copy and the work folder (and qemu, on an error)
    const failures = await cleanup.runAll();
    if (failures.length > 0) progress(`cleanup: ${failures.join('; ')}`);
  }
}

/** Throw BOOT_FAILED for a failed result (for pipelines that stop on failure). */
export function assertBooted(result: BootTestResult): void {
  if (!result.passed) {
    throw new DomuError('BOOT_FAILED', `boot test (${result.mode}) failed: ${result.reason}`, { hint: `console log: ${result.consoleLog}` });
  }
}

/** Fatal events on the Xen/Dom0 console: a Xen panic, a Dom0 panic, the runner's FAIL/GONE lines. */
export function judgeDom0(raw: string): string | undefined {
  const text = raw.replace(/\r/g, '');
  const panic = /Panic on CPU \d+:\n(?:\(XEN\) )?([^\n]*)/.exec(text);
  if (panic) return `Xen panicked: ${panic[1]!.replace(/^\(XEN\)\s*/, '').trim()}`;
  const kp = /Kernel panic - not syncing[^\n]*/.exec(text);
  if (kp) return `the Dom0 kernel panicked: ${kp[0]}`;
  const m = new RegExp(`${DOM0_MARKER} (FAIL|GONE) ([^\\n]*)`).exec(text);
  if (m) return m[1] === 'FAIL' ? `the Dom0 could not start the guest: ${m[2]!.trim()}` : `the guest domain ended before it came up: ${m[2]!.trim()}`;
  return undefined;
}

function checkPv(xl: ReturnType<typeof parseXlConfig>, file: string): void {
  const type = xl.find((s) => s.key === 'type')?.value ?? xl.find((s) => s.key === 'builder')?.value;
  if (type !== undefined && type !== 'pv' && type !== 'linux' && type !== 'generic') {
    throw new DomuError('ENVIRONMENT', `${file}: ${String(type).toUpperCase()} guests need hardware virtualization, which Xen under emulated qemu lacks; boot-test --xen runs PV guests only`);
  }
}

interface XenJob {
  jobImage: string;
  disks: QemuDisk[];
  config: string;
  cmdline: string;
  memoryMiB: number;
  dropped: string[];
}

/** Settings of the guest config carried over as they are; the rest is rewritten or dropped. */
const KEPT = new Set(['name', 'memory', 'maxmem', 'vcpus', 'maxvcpus', 'on_poweroff', 'on_reboot', 'on_crash', 'on_watchdog', 'type', 'bootloader_args', 'extra', 'root', 'cmdline']);

/**
 * The per-run job disk (ext2, label DFJOB) the Dom0 reads: job.env, guest.cfg and the guest
 * kernel. Disks of the config are re-pointed at the Dom0's virtio disks (vdc, vdd, ...).
 */
async function makeXenJob(a: {
  xl?: ReturnType<typeof parseXlConfig>;
  configFile?: string;
  image: { path: string; format: 'raw' | 'qcow2' };
  /** What is attached in the image's place (the image, or the login copy). */
  bootImage: { path: string; format: 'raw' | 'qcow2' };
  guest: GuestFiles;
  hostname: string;
  options: BootTestOptions;
  work: string;
  usesBootloader: boolean;
}): Promise<XenJob> {
  const jobDir = path.join(a.work, 'job');
  await fsp.mkdir(jobDir);
  const settings: { key: string; value: XlValue }[] = [];
  const dropped: string[] = [];
  const disks: QemuDisk[] = [];
  const dom0Dev = (i: number) => `/dev/vd${String.fromCharCode('c'.charCodeAt(0) + i)}`;
  let name = a.hostname;
  let memory = a.options.memory ?? 512;
  let cmdlineKey = 'extra';
  let cmdline: string;

  if (a.xl) {
    const get = (k: string) => a.xl!.find((s) => s.key === k)?.value;
    const n = get('name');
    if (typeof n !== 'string' || !NAME_RE.test(n)) throw new DomuError('BAD_INPUT', `${a.configFile}: name must be a plain domain name, not ${JSON.stringify(n)}`);
    name = n;
    const mem = get('memory');
    if (a.options.memory === undefined && typeof mem === 'number') memory = mem;
    for (const s of a.xl) {
      if (s.key === 'memory' || s.key === 'extra' || s.key === 'root' || s.key === 'cmdline' || s.key === 'vcpus' || s.key === 'name') continue;
      if (KEPT.has(s.key)) settings.push({ key: s.key, value: s.value });
      else if (s.key === 'bootloader' || (s.key === 'kernel' && a.usesBootloader)) settings.push({ key: s.key, value: s.value });
      else if (!['disk', 'kernel', 'ramdisk'].includes(s.key)) dropped.push(s.key);
    }
    const vcpus = a.options.vcpus ?? get('vcpus');
    if (vcpus !== undefined) settings.push({ key: 'vcpus', value: vcpus });
    const diskList = get('disk');
    if (!Array.isArray(diskList) || diskList.length === 0) throw new DomuError('BAD_INPUT', `${a.configFile}: no disk = [ ... ] list`);
    const rewritten: string[] = [];
    let found = false;
    for (const spec of diskList) {
      if (typeof spec !== 'string') throw new DomuError('BAD_INPUT', `${a.configFile}: disk entries must be strings`);
      const d = parseXlDisk(spec);
      if (!d.target) {
        dropped.push(`disk ${d.vdev} (no target)`);
        continue;
      }
      let real: string | undefined;
      try {
        real = realpathSync(d.target);
      } catch {
        real = undefined;
      }
      if (real === a.image.path) {
        found = true;
        disks.push({ file: a.bootImage.path, format: a.bootImage.format });
      } else if (real !== undefined) {
        // another disk of the guest (swap, data): attached too, through a snapshot as well
        const head = Buffer.alloc(4);
        const fh = await fsp.open(real, 'r');
        await fh.read(head, 0, 4, 0).finally(() => fh.close());
        disks.push({ file: real, format: isQcow2(head) ? 'qcow2' : 'raw' });
      } else {
        dropped.push(`disk ${d.vdev} (${d.target} does not exist here)`);
        continue;
      }
      rewritten.push(renderXlDisk({ target: dom0Dev(disks.length - 1), vdev: d.vdev, access: d.access }));
    }
    if (!found) throw new DomuError('BAD_INPUT', `${a.configFile}: no disk names the image ${a.image.path}`);
    settings.push({ key: 'disk', value: rewritten });
    const extra = get('extra') ?? get('cmdline');
    cmdlineKey = get('cmdline') !== undefined ? 'cmdline' : 'extra';
    const root = get('root');
    cmdline = [typeof root === 'string' ? `root=${root}` : '', typeof extra === 'string' ? extra : ''].filter(Boolean).join(' ');
    // with PyGRUB the menu.lst line is the command line and xl appends extra to it
    if (!a.usesBootloader && !/\bconsole=/.test(cmdline)) cmdline += ' console=hvc0';
  } else {
    const vdevMatch = /^\/dev\/(xvd[a-z]+[0-9]*)$/.exec(a.guest.fstabRoot ?? '');
    const vdev = vdevMatch ? vdevMatch[1]! : 'xvda';
    const root = a.guest.fstabRoot && /^(UUID|LABEL|PARTUUID)=/.test(a.guest.fstabRoot) ? a.guest.fstabRoot : `/dev/${vdev}`;
    settings.push({ key: 'vcpus', value: a.options.vcpus ?? 1 });
    disks.push({ file: a.bootImage.path, format: a.bootImage.format });
    settings.push({ key: 'disk', value: [renderXlDisk({ target: dom0Dev(0), vdev, access: 'rw' })] });
    cmdline = `root=${root} ro console=hvc0`;
  }
  // systemd's "Detected virtualization" line is info level: with `quiet` the console would not show it
  if (/(^|\s)quiet(\s|$)/.test(cmdline)) cmdline += ' loglevel=7';
  if (a.options.append) cmdline += ` ${a.options.append}`;
  cmdline = cmdline.trim();
  settings.unshift({ key: 'name', value: name }, { key: 'memory', value: memory });
  if (cmdline !== '') settings.push({ key: cmdlineKey, value: cmdline });
  if (!a.usesBootloader) {
    await fsp.copyFile(a.guest.kernel, path.join(jobDir, 'vmlinuz'));
    settings.push({ key: 'kernel', value: `${JOB_MOUNT}/vmlinuz` });
    if (a.guest.initrd) {
      await fsp.copyFile(a.guest.initrd, path.join(jobDir, 'initrd.img'));
      settings.push({ key: 'ramdisk', value: `${JOB_MOUNT}/initrd.img` });
    }
  }
  const config = `# written by domu-forge boot-test for the Dom0 under emulated Xen\n${renderXlSettings(settings)}`;
  await fsp.writeFile(path.join(jobDir, 'guest.cfg'), config);
  await fsp.writeFile(path.join(jobDir, 'job.env'), `GUEST_NAME='${name}'\n`);
  const jobImage = path.join(a.work, 'job.img');
  const bytes = (await fsp.readdir(jobDir)).length * 4096 + (await dirBytes(jobDir));
  await runTool('mke2fs', ['-q', '-F', '-t', 'ext2', '-L', JOB_DISK_LABEL, '-d', jobDir, jobImage, `${Math.ceil(bytes / (1 << 20)) + 16}M`]);
  return { jobImage, disks, config, cmdline, memoryMiB: memory, dropped };
}

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const f of await fsp.readdir(dir)) n += (await fsp.stat(path.join(dir, f))).size;
  return n;
}
