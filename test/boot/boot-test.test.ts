// The boot test end to end: a debootstrapped bookworm guest boots under plain qemu and as a PV
// guest under real Xen 4.17 (itself under qemu, with a cached debootstrapped Dom0), and the
// image is byte-for-byte the same afterwards. Each boot also logs in on the console (with the
// credentials given, or a root password boot-test sets on a throwaway copy) and checks the answers
// of hostname, id -u and systemctl is-system-running --wait. Cold cache: builds the guest and the Dom0 first.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBooted, bootTest } from '../../src/boot/boot-test.js';
import { cleanConsoleText } from '../../src/boot/console.js';
import { throwawayRootLogin } from '../../src/boot/login-disk.js';
import { CleanupStack } from '../../src/cleanup.js';
import { ensureDom0 } from '../../src/boot/dom0.js';
import { cliPath, runCli, scratchDir, sh } from '../helpers/run.js';
import { testGuestImage, type TestGuest } from './guest-fixture.js';

/** Pids of qemu processes whose command line mentions `text`. */
function qemuProcesses(text: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'latin1').split('\0');
      if (argv[0]?.endsWith('qemu-system-x86_64') && argv.some((a) => a.includes(text))) pids.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return pids;
}

function sha(file: string): string {
  return sh(`sha256sum '${file}'`).split(' ')[0]!;
}

describe('boot-test (root, network, qemu)', () => {
  const s = scratchDir('boot');
  let guest: TestGuest;
  let before: string;

  beforeAll(async () => {
    guest = await testGuestImage();
    before = sha(guest.image);
    process.stderr.write(`boot-test: guest image ${guest.image} (${guest.built ? `built in ${guest.seconds.toFixed(0)}s` : 'cached'})\n`);
  });

  afterAll(() => {
    s.cleanup();
  });

  it('plain: the guest kernel boots the image to its own login prompt; the image is unchanged', () => {
    const logDir = join(s.dir, 'plain');
    const r = runCli(['boot-test', guest.image, '--json', '--log-dir', logDir]);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({
      ok: true,
      passed: true,
      mode: 'plain',
      hostname: guest.hostname,
      prompts: [guest.hostname],
      virtualization: ['qemu'],
      consoleLog: join(logDir, 'guest-console.log'),
      kernel: { source: 'image', cmdline: 'root=/dev/vda ro console=ttyS0' },
      // no credentials given: boot-test set a root password on its throwaway copy and logged in with it
      login: { user: 'root', credentials: 'set', answers: { hostname: guest.hostname, uid: '0', state: 'running' } },
    });
    expect(r.status).toBe(0);
    const log = readFileSync(join(logDir, 'guest-console.log'), 'latin1');
    expect(log).toContain(`\n${guest.hostname} login:`);
    // the answers as the guest printed them, framed; the password never reaches the log
    expect(cleanConsoleText(log)).toContain(`\nDFLOGIN-B\n${guest.hostname}\n0\nrunning\nDFLOGIN-E\n`);
    expect(out.notes).toEqual([expect.stringMatching(/^logged in as root with a password boot-test set on a throwaway copy of the image, hashed with yescrypt/)]);
    expect(sha(guest.image)).toBe(before);
    expect(sh(`losetup -j '${guest.image}'`)).toBe('');
    process.stderr.write(`boot-test: plain boot took ${String(out.seconds)}s\n`);
  });

  it('plain: fails with status 6 when the prompt shows another hostname than required', () => {
    const logDir = join(s.dir, 'plain-wrong');
    const r = runCli(['boot-test', guest.image, '--hostname', 'banquo', '--log-dir', logDir]);
    expect(r.status).toBe(6);
    expect(r.stderr).toBe(
      `domu-forge: boot test (plain) failed: a login prompt came up for hostname ${guest.hostname}, not for banquo\nhint: console log: ${join(logDir, 'guest-console.log')}\n`,
    );
    expect(r.stdout).toMatch(/^FAIL boot-test plain /);
    expect(sha(guest.image)).toBe(before);
  });

  it('plain, credentials given: the right password logs in; a wrong one fails with "Login incorrect"', async () => {
    // a copy whose root password the test knows (the cached guest's root is locked)
    const cleanup = new CleanupStack();
    try {
      const known = await throwawayRootLogin(guest.image, s.dir, cleanup, 'right-horse-battery');
      const right = await bootTest({ image: known.file, logDir: join(s.dir, 'given-right'), login: { user: 'root', password: 'right-horse-battery' } });
      if (!right.passed) process.stderr.write(`boot-test given credentials failed: ${right.reason}\n${(right.tail ?? []).join('\n')}\n`);
      expect(right).toMatchObject({ passed: true, login: { user: 'root', credentials: 'given', answers: { hostname: guest.hostname, uid: '0', state: 'running' } } });
      expect(right.notes).toBeUndefined();
      const wrong = await bootTest({ image: known.file, logDir: join(s.dir, 'given-wrong'), login: { user: 'root', password: 'wrong-horse-battery' } });
      expect(wrong).toMatchObject({ passed: false, prompts: [guest.hostname], virtualization: ['qemu'], login: { user: 'root', credentials: 'given' } });
      expect(wrong.login.answers).toBeUndefined();
      expect(wrong.reason).toBe(`"${guest.hostname} login:" and "Detected virtualization qemu"; the console said "Login incorrect" for root: the credentials given (login) do not work`);
      expect(() => assertBooted(wrong)).toThrow(`boot test (plain) failed: ${wrong.reason}`);
      expect(readFileSync(wrong.consoleLog, 'latin1')).toContain('Login incorrect');
      for (const r of [right, wrong]) expect(readFileSync(r.consoleLog, 'latin1')).not.toContain('horse-battery');
    } finally {
      await cleanup.runAll();
    }
    expect(sha(guest.image)).toBe(before);
  });

  it('xen: xl create in a Dom0 under emulated Xen boots the guest from the config domu-forge wrote (PyGRUB)', async () => {
    const dom0 = await ensureDom0({});
    expect(dom0.versions['xen-hypervisor-4.17-amd64']).toBe(dom0.versions['xen-utils-4.17']);
    const logDir = join(s.dir, 'xen');
    const r = await bootTest({ image: guest.image, mode: 'xen', config: guest.config, logDir });
    if (!r.passed) process.stderr.write(`boot-test xen failed: ${r.reason}\n${(r.tail ?? []).join('\n')}\n`);
    expect(r).toMatchObject({
      passed: true,
      mode: 'xen',
      hostname: guest.hostname,
      prompts: [guest.hostname],
      virtualization: ['xen'],
      kernel: { source: 'bootloader' },
      dom0: { key: dom0.key, built: false },
      login: { user: 'root', credentials: 'set', answers: { hostname: guest.hostname, uid: '0', state: 'running' } },
    });
    // the config's disk (the image file in the real Dom0) now names the Dom0's virtio disk
    expect(r.guestConfig).toMatch(/^disk = \[ "format=raw, vdev=xvda\d*, access=rw, target=\/dev\/vdc" \]$/m);
    expect(r.guestConfig).toContain('bootloader = "pygrub"');
    // the guest's console came through its own channel; the Dom0's shows Xen and the runner's lines
    const dom0Log = readFileSync(r.dom0Log!, 'latin1');
    expect(dom0Log).toContain(`DOMU-FORGE-DOM0: STARTED ${guest.hostname}`);
    // the Dom0 types what comes in on com2 into the guest's console pty
    expect(dom0Log).toMatch(new RegExp(`DOMU-FORGE-DOM0: CONSOLE ${guest.hostname} /dev/pts/\\d+`));
    expect(dom0Log).toContain('(XEN) Xen version 4.17');
    expect(readFileSync(r.consoleLog, 'latin1')).toContain('Detected virtualization xen');
    expect(sha(guest.image)).toBe(before);
    process.stderr.write(`boot-test: xen boot took ${r.seconds}s\n`);
  });

  it('xen, no config (CLI): a minimal PV config with the image\'s own kernel and its fstab\'s root device', () => {
    const logDir = join(s.dir, 'xen-cli');
    const r = runCli(['boot-test', '--xen', guest.image, '--json', '--log-dir', logDir]);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    if (out.passed !== true) process.stderr.write(`boot-test --xen failed: ${String(out.reason)}\n`);
    expect(out).toMatchObject({
      ok: true,
      mode: 'xen',
      prompts: [guest.hostname],
      virtualization: ['xen'],
      kernel: { source: 'image', cmdline: 'root=/dev/xvda1 ro console=hvc0' },
      dom0: { built: false },
      consoleLog: join(logDir, 'guest-console.log'),
      dom0Log: join(logDir, 'dom0-console.log'),
      login: { user: 'root', credentials: 'set', answers: { hostname: guest.hostname, uid: '0', state: 'running' } },
    });
    expect(r.status).toBe(0);
    expect(out.guestConfig).toContain('kernel = "/run/domu-forge-job/vmlinuz"');
    expect(out.guestConfig).toContain('ramdisk = "/run/domu-forge-job/initrd.img"');
    expect(readFileSync(join(logDir, 'guest.cfg'), 'utf8')).toBe(out.guestConfig);
    expect(sha(guest.image)).toBe(before);
    process.stderr.write(`boot-test: xen boot (no config) took ${String(out.seconds)}s\n`);
  });

  it('SIGINT stops qemu, releases everything and exits 130', async () => {
    const logDir = join(s.dir, 'interrupted');
    const child = spawn(process.execPath, [cliPath, 'boot-test', guest.image, '--log-dir', logDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    // wait until qemu writes the console, then interrupt
    for (let i = 0; i < 600 && !existsSync(join(logDir, 'guest-console.log')); i += 1) await new Promise((r) => setTimeout(r, 200));
    const qemuPids = () => qemuProcesses(logDir);
    expect(qemuPids()).toHaveLength(1);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('domu-forge: boot-test was interrupted');
    expect(qemuPids()).toEqual([]);
    expect(sh(`losetup -j '${guest.image}'`)).toBe('');
    expect(sha(guest.image)).toBe(before);
  });

  it('bad input: a missing image, --config without --xen, an HVM config', () => {
    const missing = join(s.dir, 'nope.img');
    let r = runCli(['boot-test', missing]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`domu-forge: image ${missing} does not exist\n`);
    r = runCli(['boot-test', guest.image, '--config', '/dev/null']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('domu-forge: --config is for the Xen mode (--xen)\n');
    const hvm = join(s.dir, 'hvm.cfg');
    writeFileSync(hvm, `name = "h"\ntype = "hvm"\ndisk = [ "file:${guest.image},xvda,w" ]\n`);
    r = runCli(['boot-test', guest.image, '--xen', '--config', hvm, '--json']);
    expect(r.status).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'ENVIRONMENT', message: `${hvm}: HVM guests need hardware virtualization, which Xen under emulated qemu lacks; boot-test --xen runs PV guests only` } });
    expect(existsSync(guest.image)).toBe(true);
  });
});
