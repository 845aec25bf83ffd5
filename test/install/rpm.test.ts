// The Red Hat family path with real rpm and dnf against a real local repository that the test
// builds (scripts/make-rpm-repo.sh: rpmbuild + createrepo_c, comps group "Base"): rpm --initdb,
// the release package, dnf --installroot install dnf, groupinstall Base, extra packages; into a
// directory and into an image file. And the errors: no dnf, unknown release, unreachable repo,
// unknown group.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GUEST_RPM_DBPATH, hostSelinuxEnforcing, installDistribution, selinuxConfig } from '../../src/install/index.js';
import { mountsUnder } from '../../src/install/guest-files.js';
import { INCOMPLETE_MARKER } from '../../src/install/target-root.js';
import { repoRoot, runCli } from '../helpers/run.js';

let work = '';
let repo = '';
let releaseRpm = '';
let cacheDir = '';
let server: ChildProcess | undefined;
let serverUrl = '';
const mounted: string[] = [];

function rpmQa(root: string): string[] {
  const r = spawnSync('rpm', ['--root', root, '--dbpath', GUEST_RPM_DBPATH, '-qa', '--queryformat', '%{NAME}\n'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).sort();
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

beforeAll(async () => {
  work = mkdtempSync(join(process.env.DOMU_FORGE_TEST_TMP || tmpdir(), 'domu-install-rpm-'));
  const built = spawnSync('bash', [join(repoRoot, 'scripts/make-rpm-repo.sh'), join(work, 'forge')], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`make-rpm-repo.sh failed: ${built.stderr}`);
  repo = built.stdout.trim();
  releaseRpm = join(work, 'forge', 'forge-release.rpm');
  cacheDir = join(work, 'cache');
  // the repository over real HTTP too, for --release-rpm URLs: in another process, because the
  // CLI runs synchronously from this one
  const port = await closedPort();
  server = spawn('python3', ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', join(work, 'forge'), String(port)], { stdio: 'ignore' });
  serverUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`${serverUrl}/forge-release.rpm`, { method: 'HEAD' }).then((r) => r.ok, () => false);
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  for (const m of mounted.reverse()) spawnSync('umount', ['-d', m]);
  server?.kill();
  if ((await mountsUnder(work)).length === 0) rmSync(work, { recursive: true, force: true });
});

describe('RPM install (root)', () => {
  it('rpm --initdb, the release package, dnf --installroot install dnf, groupinstall Base, --packages: into a directory', async () => {
    const root = join(work, 'dir-root');
    const r = await installDistribution({
      distro: 'rpm',
      releaseRpm,
      group: 'Base',
      packages: ['forge-extra'],
      gpgCheck: false,
      selinux: 'disabled',
      pygrub: true,
      noKernel: true, // the test repository has no kernel package
      noSsh: true, // nor openssh-server
      root,
      cacheDir,
      logFile: join(work, 'dir.log'),
    });
    expect(r.tool).toBe('dnf');
    expect(r.release).toBe('9');
    expect(rpmQa(root)).toEqual(['dnf', 'forge-base-files', 'forge-extra', 'forge-release', 'forge-tools']);
    expect(r.packages).toBe(5);
    expect(readFileSync(join(root, 'usr/share/forge/base.txt'), 'utf8')).toBe('forge base payload\n');
    expect(readFileSync(join(root, 'usr/bin/forge-hello'), 'utf8')).toContain('hello from forge');
    expect(readFileSync(join(root, 'usr/share/forge/dnf-placeholder.txt'), 'utf8')).toBe('dnf placeholder\n');
    expect(readFileSync(join(root, 'etc/yum.repos.d/forge.repo'), 'utf8')).toContain(`baseurl=file://${repo}`);
    expect(readFileSync(join(root, 'etc/selinux/config'), 'utf8')).toMatch(/^SELINUX=disabled$/m);
    expect(readFileSync(join(root, 'etc/modprobe.d/xen.conf'), 'utf8')).toBe('alias scsi_hostadapter xenblk\nalias eth0 xennet\n');
    expect(readFileSync(join(root, 'etc/dracut.conf.d/xen.conf'), 'utf8')).toContain('xen-blkfront');
    expect(existsSync(join(root, 'root/.rpmdb'))).toBe(false); // not Debian's rpm default
    expect(existsSync(join(root, INCOMPLETE_MARKER))).toBe(false);
    const log = readFileSync(r.logFile, 'utf8');
    expect(log).toMatch(/Installing\s+: forge-tools-2\.0-1\.noarch/);
  });

  it('installs into an image file through the CLI, the release package given as an http URL', () => {
    const img = join(work, 'rpm.img');
    const r = runCli(['install', 'rpm', '--release-rpm', `${serverUrl}/forge-release.rpm`, '--no-gpgcheck', '--no-ssh', '--selinux', 'enforcing',
      '--cache-dir', cacheDir, '--image', img, '--size', '64M', '--log', join(work, 'img.log'), '--json']);
    expect(r.stderr).toBe(`log: ${join(work, 'img.log')}\n`);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { install: { packages: number; written: string[] }; target: { kind: string } };
    expect(out.install.packages).toBe(4);
    expect(out.install.written).toContain('/.autorelabel');
    const mnt = join(work, 'rpm-mnt');
    mkdirSync(mnt);
    expect(spawnSync('mount', ['-o', 'loop,ro', img, mnt]).status).toBe(0);
    mounted.push(mnt);
    expect(rpmQa(mnt)).toEqual(['dnf', 'forge-base-files', 'forge-release', 'forge-tools']);
    expect(readFileSync(join(mnt, 'etc/forge/base.conf'), 'utf8')).toBe('base=1\n');
    expect(readFileSync(join(mnt, 'etc/selinux/config'), 'utf8')).toMatch(/^SELINUX=enforcing$/m);
    expect(existsSync(join(mnt, '.autorelabel'))).toBe(true);
    spawnSync('umount', ['-d', mnt]);
    mounted.pop();
  });

  it('writes the guest SELinux config for the mode, keeping its other settings; reads the host enforce flag', () => {
    expect(selinuxConfig('permissive', 'SELINUX=enforcing\nSELINUXTYPE=mls\n')).toBe('SELINUX=permissive\nSELINUXTYPE=mls\n');
    expect(selinuxConfig('disabled', undefined)).toMatch(/^SELINUX=disabled$/m);
    const f = join(work, 'enforce');
    writeFileSync(f, '1\n');
    expect(hostSelinuxEnforcing(f)).toBe(true);
    writeFileSync(f, '0\n');
    expect(hostSelinuxEnforcing(f)).toBe(false);
    expect(hostSelinuxEnforcing(join(work, 'no-selinux'))).toBe(false);
  });
});

describe('RPM install errors (root)', () => {
  it('names the Debian package when dnf is missing, and writes nothing', () => {
    const bin = join(work, 'bin-no-dnf');
    mkdirSync(bin);
    for (const t of ['rpm', 'sh', 'mount', 'umount']) symlinkSync(`/usr/bin/${t}`, join(bin, t));
    const dir = join(work, 'nodnf');
    const r = runCli(['install', 'rpm', '--release-rpm', releaseRpm, '--cache-dir', cacheDir, dir], { PATH: bin });
    expect(r.stderr).toContain('domu-forge: dnf is not installed (nor yum)');
    expect(r.stderr).toContain('hint: install it with: apt-get install dnf');
    expect(r.status).toBe(3);
    expect(spawnSync('ls', ['-A', dir], { encoding: 'utf8' }).stdout).toBe('');
  });

  it('says the release package is unknown (HTTP 404)', () => {
    const r = runCli(['install', 'rocky', '--release-rpm', `${serverUrl}/rocky-release-99.rpm`, '--cache-dir', cacheDir, join(work, 'norelease')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`domu-forge: release package ${serverUrl}/rocky-release-99.rpm was not found (HTTP 404)`);
    expect(r.stderr).toMatch(/^hint: check the URL/m);
  });

  it('says a repository is unreachable (127.0.0.1, closed port)', async () => {
    const port = await closedPort();
    const r = runCli(['install', 'rpm', '--repo', `http://127.0.0.1:${port}/el9/BaseOS`, '--releasever', '9', '--cache-dir', cacheDir, join(work, 'norepo')]);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain(`domu-forge: http://127.0.0.1:${port}/el9/BaseOS is unreachable: connection refused`);
  });

  it('says the group is unknown', () => {
    const r = runCli(['install', 'rpm', '--release-rpm', releaseRpm, '--no-gpgcheck', '--group', 'Nope', '--cache-dir', cacheDir, join(work, 'nogroup')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('domu-forge: group Nope is not in the repositories');
  });
});
