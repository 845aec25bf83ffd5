// The boot test's pass criterion, on a real console log captured from a plain qemu boot of a
// debootstrapped bookworm guest (fixtures/plain-console.log, hostname dfguest), and variants of it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConsoleFollower, cleanConsoleText, judgeConsole, lastLines, promptHostname } from '../../src/boot/console.js';
import { judgeDom0 } from '../../src/boot/boot-test.js';
import { scratchDir } from '../helpers/run.js';

const real = readFileSync(join(import.meta.dirname, 'fixtures', 'plain-console.log'), 'latin1');
const plain = { hostname: 'dfguest', virtualization: ['qemu', 'kvm'] };

describe('judgeConsole', () => {
  it('passes the real boot log: own hostname in the prompt and systemd reporting qemu', () => {
    const v = judgeConsole(real, plain);
    expect(v.state).toBe('pass');
    expect(v.prompts).toEqual(['dfguest']);
    expect(v.virtualization).toEqual(['qemu']);
  });

  it('fails a prompt from another hostname (a clone that kept the Dom0 name)', () => {
    const v = judgeConsole(real, { ...plain, hostname: 'banquo' });
    expect(v.state).toBe('fail');
    expect(v.reason).toBe('a login prompt came up for hostname dfguest, not for banquo');
  });

  it('fails when init reported another virtualization than required (plain log judged as Xen)', () => {
    const v = judgeConsole(real, { hostname: 'dfguest', virtualization: ['xen'] });
    expect(v.state).toBe('fail');
    expect(v.reason).toContain('did not report "Detected virtualization xen" (it reported qemu)');
  });

  it('is pending until the prompt is there, and a bare "login:" never passes', () => {
    const cut = real.slice(0, real.lastIndexOf('dfguest login:'));
    expect(judgeConsole(cut, plain).state).toBe('pending');
    expect(judgeConsole(`${cut}login: `, plain).state).toBe('pending');
    const noVirt = real.replace(/Detected virtualization qemu/g, 'Detected architecture x86-64');
    expect(judgeConsole(noVirt, plain)).toMatchObject({ state: 'fail', virtualization: [] });
  });

  it('compares the short hostname, as agetty prints it', () => {
    expect(promptHostname('dfguest.example.org')).toBe('dfguest');
    expect(judgeConsole(real, { ...plain, hostname: 'dfguest.example.org' }).state).toBe('pass');
  });

  it('fails at once on a kernel panic or emergency mode', () => {
    const panic = `${real.slice(0, 5000)}\r\n[    3.1] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\r\n`;
    expect(judgeConsole(panic, plain).reason).toBe('the guest kernel panicked: Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)');
    const emergency = `${real.slice(0, 5000)}\nYou are in emergency mode. After logging in, type "journalctl -xb"\n`;
    expect(judgeConsole(emergency, plain)).toMatchObject({ state: 'fail', reason: expect.stringContaining('emergency mode') });
  });

  it('strips terminal escapes and carriage returns', () => {
    expect(cleanConsoleText('\x1b[0;32m  OK  \x1b[0m] Started\r\n')).toBe('  OK  ] Started\n');
    expect(lastLines(real, 1)).toEqual(['dfguest login:']);
  });
});

describe('judgeDom0', () => {
  it('reports a Xen panic, a Dom0 panic and the runner\'s FAIL and GONE lines', () => {
    expect(judgeDom0('(XEN) ****************************************\n(XEN) Panic on CPU 0:\n(XEN) Could not set up DOM0 guest OS (rc = -12)\n')).toBe(
      'Xen panicked: Could not set up DOM0 guest OS (rc = -12)',
    );
    expect(judgeDom0('[ 1.0] Kernel panic - not syncing: Attempted to kill init!\n')).toBe('the Dom0 kernel panicked: Kernel panic - not syncing: Attempted to kill init!');
    expect(judgeDom0('DOMU-FORGE-DOM0: FAIL xl create exited with status 1: oops\r\n')).toBe('the Dom0 could not start the guest: xl create exited with status 1: oops');
    expect(judgeDom0('DOMU-FORGE-DOM0: GONE g1: x\n')).toBe('the guest domain ended before it came up: g1: x');
    expect(judgeDom0('DOMU-FORGE-DOM0: STARTED g1\n')).toBeUndefined();
  });
});

describe('ConsoleFollower', () => {
  it('reads a growing file in pieces and keeps every byte', async () => {
    const s = scratchDir('follow');
    try {
      const f = join(s.dir, 'c.log');
      const follower = new ConsoleFollower(f);
      expect(await follower.poll()).toBe('');
      writeFileSync(f, Buffer.from([0x61, 0xff, 0x0a]));
      expect(await follower.poll()).toBe('a\xff\n');
      writeFileSync(f, Buffer.from([0x61, 0xff, 0x0a, 0x62]));
      expect(await follower.poll()).toBe('a\xff\nb');
    } finally {
      s.cleanup();
    }
  });
});
