// Installer output condensed into counters, the install log, and running a tool with its output
// logged (a small shell script stands in for debootstrap: real process, real pipes).
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  defaultLogFile, hasToolIn, InstallLog, parseAptLine, parseDebootstrapLine, parseRpmLine, requireTool, runLogged, type InstallProgress, type LineParser,
} from '../../src/install/progress.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-progress-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fresh = (): InstallProgress => ({ phase: 'test', retrieved: 0, unpacked: 0, configured: 0, line: '' });

function feed(parse: LineParser, lines: string[]): { p: InstallProgress; said: boolean[] } {
  const p = fresh();
  return { p, said: lines.map((l) => parse(l, p)) };
}

describe('line parsers', () => {
  it('debootstrap: I: Retrieving / Unpacking / Configuring; other I:, W:, E: lines are worth showing', () => {
    const { p, said } = feed(parseDebootstrapLine, ['I: Retrieving libc6 2.36', 'I: Extracting libc6...', 'I: Unpacking base-files...', 'I: Configuring base-files...', 'I: Base system installed successfully.', 'W: Failure trying to run', 'random noise']);
    expect(p).toMatchObject({ retrieved: 1, unpacked: 1, configured: 1 });
    expect(said).toEqual([true, true, true, true, true, true, false]);
  });

  it('apt and dpkg: Get:, Unpacking, Setting up', () => {
    const { p, said } = feed(parseAptLine, ['Get:1 http://deb.debian.org/debian bookworm/main amd64 libc6 amd64 2.36 [2,757 kB]', 'Unpacking libc6:amd64 (2.36) ...', 'Setting up libc6:amd64 (2.36) ...', 'Preparing to unpack ...', 'E: broken']);
    expect(p).toMatchObject({ retrieved: 1, unpacked: 1, configured: 1 });
    expect(said).toEqual([true, true, true, false, true]);
  });

  it('dnf, yum and rpm -ivh', () => {
    const { p, said } = feed(parseRpmLine, ['(3/9): bash-5.1.8-6.el9.x86_64.rpm   1.7 MB/s', '  Installing       : bash-5.1.8-6.el9.x86_64   3/9', '  Verifying        : bash-5.1.8-6.el9.x86_64   3/9', '   1:setup-2.8.71-10.el7       ################ [ 50%]', 'Complete!', 'Last metadata expiration check']);
    expect(p).toMatchObject({ retrieved: 1, unpacked: 2, configured: 2 });
    expect(said).toEqual([true, true, true, true, true, false]);
  });
});

describe('tools', () => {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const script = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  script('fake-debootstrap', 'echo "I: Retrieving a"\necho "I: Retrieving b"\necho "I: Unpacking a..." >&2\nprintf "I: Configuring a...\\r"\necho\necho "noise"\nprintf "I: Configuring b..."\nexit 3');
  writeFileSync(join(bin, 'not-executable'), '#!/bin/sh\n');
  const env = { ...process.env, PATH: `${bin}:/usr/bin:/bin` };

  it('hasToolIn looks on the PATH it is given, for executable files only', () => {
    expect(hasToolIn('fake-debootstrap', env)).toBe(true);
    expect(hasToolIn('not-executable', { PATH: bin })).toBe(false);
    expect(hasToolIn('fake-debootstrap', { PATH: '/nonexistent-dir' })).toBe(false);
  });

  it('requireTool names the Debian package when it knows it', () => {
    expect(() => requireTool('debootstrap', { PATH: bin })).toThrow(expect.objectContaining({ code: 'MISSING_TOOL', message: 'debootstrap is not installed', hint: 'install it with: apt-get install debootstrap' }));
    expect(() => requireTool('no-such-tool-x', { PATH: bin })).toThrow(expect.objectContaining({ hint: 'install no-such-tool-x and make sure it is on PATH' }));
    expect(() => requireTool('fake-debootstrap', env)).not.toThrow();
  });

  it('runLogged logs every line, counts progress, keeps the tail, and returns the status', async () => {
    const log = new InstallLog(join(dir, 'logs', 'run.log'));
    const progress = fresh();
    const seen: number[] = [];
    const r = await runLogged('fake-debootstrap', ['--variant=minbase', 'a b'], { log, progress, parse: parseDebootstrapLine, env, onProgress: (p) => seen.push(p.retrieved + p.unpacked + p.configured) });
    await log.close();
    expect(r).toEqual({ status: 3, signal: null, interrupted: false, tail: expect.any(Array) });
    expect(progress).toMatchObject({ retrieved: 2, unpacked: 1, configured: 2 });
    expect(seen).toHaveLength(5);
    expect(Math.max(...seen)).toBe(5);
    expect([...r.tail].sort()).toEqual(['I: Configuring a...', 'I: Configuring b...', 'I: Retrieving a', 'I: Retrieving b', 'I: Unpacking a...', 'noise']);
    const text = readFileSync(log.file, 'utf8');
    expect(text).toMatch(/^\[domu-forge \d{4}-\d\d-\d\dT[\d:.]+Z\] run: fake-debootstrap --variant=minbase "a b"\n/);
    expect(text).toContain('I: Retrieving a\n');
    expect(text).toContain('noise\n');
    expect(text).toMatch(/fake-debootstrap exited with status 3\n$/);
  });

  it('an aborted signal before the start runs nothing and says interrupted', async () => {
    const log = new InstallLog(join(dir, 'logs', 'abort.log'));
    const ac = new AbortController();
    ac.abort();
    const r = await runLogged('fake-debootstrap', [], { log, progress: fresh(), parse: parseDebootstrapLine, env, signal: ac.signal });
    await log.close();
    expect(r).toEqual({ status: 130, signal: null, tail: [], interrupted: true });
  });

  it('an abort while running stops the whole process group', async () => {
    // the background child holds the output pipe too: runLogged returns (close) only once it is gone,
    // so this test ends in well under its 300 s sleeps only when the whole group was stopped
    script('fake-slow', 'echo "I: Retrieving x"\n(sleep 300; echo late) &\nsleep 300');
    const log = new InstallLog(join(dir, 'logs', 'slow.log'));
    const ac = new AbortController();
    const r = await runLogged('fake-slow', [], { log, progress: fresh(), parse: parseDebootstrapLine, env, signal: ac.signal, onProgress: () => ac.abort() });
    await log.close();
    expect(r.interrupted).toBe(true);
    expect(r.signal).toBe('SIGTERM');
    expect(readFileSync(log.file, 'utf8')).toMatch(/interrupted: stopping fake-slow \(process group \d+\)/);
  });

  it('the default log path is under /var/log/domu-forge with a safe name', () => {
    expect(defaultLogFile('debian bookworm/x')).toMatch(new RegExp(`^/var/log/domu-forge/install-debian_bookworm_x-\\d{8}-\\d{6}-${process.pid}\\.log$`));
  });
});
