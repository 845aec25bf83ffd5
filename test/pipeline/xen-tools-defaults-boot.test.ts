// Issue 12's "done when": on a machine whose site defaults were made by `domu-forge defaults
// --from-xen-tools` from the xen-tools.conf Debian's xen-tools package ships, a Debian guest built
// with one `domu-forge build` line and no spec file boots under real Xen (boot-test --xen: xl create
// in a Dom0 under emulated Xen 4.17) and accepts a root login with the password the build generated
// and printed once; the same for a pvgrub guest (GRUB for Xen PV, grub-xen-host's
// grub-x86_64-xen.bin as the domain's kernel, reading the guest's own grub.cfg). Also `build --boot`
// where `xl info` does not answer: exit 3, saying the build itself succeeded, the guest kept.
//
// The defaults reach the child processes through DOMU_FORGE_DEFAULTS, not /etc/domu-forge/defaults.yaml,
// so the other test files (run in parallel) keep building without site defaults.
//
// Debian's xen-tools.conf names the Dom0's running kernel (kernel = /boot/vmlinuz-`uname -r`). A CI
// machine runs a kernel that is not in its /boot (a VM or container kernel), so these guests boot their
// own: the first with --pygrub, the second with --bootloader pvgrub; either flag replaces the defaults'
// kernel, as xen-create-image --pygrub replaces xen-tools.conf's kernel=. The shipped file's
// memory = 256M is too little for a stock bookworm kernel to unpack its initrd (the guest panics out of
// memory; --from-xen-tools warns about it), so the build line says --memory 512M. Installs come from the root
// cache the other install tests fill; the Dom0 is the cached one of test/boot (src/boot/dom0.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, scratchDir, sh } from '../helpers/run.js';

const XEN_TOOLS_CONF = '/etc/xen-tools/xen-tools.conf';
const PVGRUB_IMAGE = '/usr/lib/grub-xen/grub-x86_64-xen.bin';

interface Built {
  name: string;
  image: string;
  swap: string;
  config: string;
  password: string;
  seconds: number;
}

function sha(file: string): string {
  return sh(`sha256sum '${file}'`).split(' ')[0]!;
}

describe('xen-tools defaults: one build line, booted under real Xen, root login with the generated password (root, network, qemu)', () => {
  const s = scratchDir('xenboot-xt');
  const defaults = join(s.dir, 'defaults.yaml');
  const env = { DOMU_FORGE_DEFAULTS: defaults, DOMU_FORGE_STATE_DIR: join(s.dir, 'state') };
  const dir = join(s.dir, 'xen');

  beforeAll(() => {
    expect(existsSync(XEN_TOOLS_CONF), `${XEN_TOOLS_CONF} (Debian's xen-tools; scripts/setup-host.sh --tests installs it)`).toBe(true);
    const r = runCli(['defaults', '--from-xen-tools', XEN_TOOLS_CONF, '--defaults', defaults]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('memory = 256M  ->  domain.memory (below 512M a stock Debian initrd may not unpack)');
  });

  afterAll(() => {
    s.cleanup();
  });

  /** `domu-forge build --hostname NAME --dir DIR [flags]`: the one line, with the test's own config path. */
  function build(name: string, flags: string[]): Built {
    const config = join(dir, `${name}.cfg`);
    const r = runCli(['build', '--hostname', name, '--dir', dir, ...flags, '--memory', '512M', '--config', config, '--json'], env);
    const out = JSON.parse(r.stdout) as { ok: boolean; error?: unknown; seconds: number; access?: { user: string; generatedPassword: string }; stages: { id: string; status: string }[] };
    expect(out.error, r.stderr).toBeUndefined();
    expect(r.status).toBe(0);
    expect(out.ok).toBe(true);
    // no access given: an install gets a generated root password (xen-tools' genpass=1), printed once
    expect(out.access?.user).toBe('root');
    expect(out.access?.generatedPassword).toMatch(/^[A-Za-z0-9]{20}$/);
    const image = join(dir, 'domains', name, 'disk.img');
    const swap = join(dir, 'domains', name, 'swap.img');
    // the disks the config names are there and readable by root only
    for (const f of [image, swap]) expect((statSync(f).mode & 0o777).toString(8)).toBe('600');
    process.stderr.write(`xen-tools defaults: built ${name} in ${out.seconds.toFixed(0)}s\n`);
    return { name, image, swap, config, password: out.access!.generatedPassword, seconds: out.seconds };
  }

  /** boot-test --xen with the build's config, logging in as root with the generated password. */
  function bootUnderXen(g: Built): Record<string, unknown> {
    const pw = join(s.dir, `${g.name}.password`);
    writeFileSync(pw, `${g.password}\n`, { mode: 0o600 });
    const before = sha(g.image);
    const logDir = join(s.dir, `boot-${g.name}`);
    // a generous limit: GRUB for Xen PV reads the kernel and initrd slowly under emulation (not a timing assertion)
    const r = runCli(['boot-test', '--xen', '--config', g.config, g.image, '--password-file', pw, '--json', '--timeout', '2400', '--log-dir', logDir]);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    if (out.passed !== true) process.stderr.write(`boot-test --xen ${g.name} failed: ${String(out.reason)}\n${((out.tail as string[]) ?? []).join('\n')}\n`);
    expect(out).toMatchObject({
      ok: true,
      passed: true,
      mode: 'xen',
      hostname: g.name,
      prompts: [g.name],
      virtualization: ['xen'],
      kernel: { source: 'bootloader' },
      // test files run side by side, and whichever first boots under Xen builds the cached Dom0 (this
      // one did in a CI run where its guest was ready before boot-test.test.ts's): that the cache is
      // reused is boot-test.test.ts's to check, where it builds the Dom0 itself before booting
      dom0: { key: expect.stringMatching(/^[0-9a-f]{16}$/) },
      // logged in with the password the build printed, not one boot-test set on a copy
      login: { user: 'root', credentials: 'given', answers: { hostname: g.name, uid: '0', state: 'running' } },
    });
    expect(r.status).toBe(0);
    expect(out.notes).toBeUndefined();
    // the guest's answers as its console printed them; the password never reaches the log
    const log = readFileSync(join(logDir, 'guest-console.log'), 'latin1');
    expect(log).not.toContain(g.password);
    // both disks of the config went to the guest: root xvda2 and swap xvda1, as xen-tools lays them out
    expect(out.guestConfig).toMatch(/vdev=xvda2, access=rw, target=\/dev\/vdc/);
    expect(out.guestConfig).toMatch(/vdev=xvda1, access=rw, target=\/dev\/vdd/);
    expect(out.dropped ?? []).toEqual(expect.not.arrayContaining([expect.stringMatching(/^disk/)]));
    // the flag's memory, over xen-tools.conf's 256M
    expect(out.guestConfig).toMatch(/^memory = 512$/m);
    expect(sha(g.image)).toBe(before);
    process.stderr.write(`xen-tools defaults: ${g.name} booted under Xen and logged in in ${String(out.seconds)}s\n`);
    return out;
  }

  it('the defaults file is the conversion of the shipped xen-tools.conf', () => {
    const text = readFileSync(defaults, 'utf8');
    expect(text).toContain(`converted from ${XEN_TOOLS_CONF}`);
    for (const line of ['size: 4G', 'swap: 512M', 'fs: ext4', 'memory: 256M', 'kernel: dom0', 'initrd: dom0', 'tool: debootstrap']) expect(text).toContain(line);
  });

  it('a boot flag replaces the kernel the defaults name (as xen-create-image --pygrub does); --kernel replaces a bootloader', () => {
    const spec = (flags: string[]) => {
      const r = runCli(['build', '--hostname', 'df-xt-spec', '--dir', dir, ...flags, '--print-spec', '--json'], env);
      expect(r.status, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { spec: { domain: Record<string, unknown> }; origins: Record<string, string> });
    };
    let p = spec(['--pygrub']);
    expect(p.spec.domain).toMatchObject({ pygrub: true, pvgrub: false });
    expect(p.spec.domain.kernel).toBeUndefined();
    expect(p.spec.domain.initrd).toBeUndefined();
    expect(p.origins['domain.memory']).toBe(`site defaults ${defaults}`);
    p = spec(['--bootloader', 'pvgrub']);
    expect(p.spec.domain).toMatchObject({ pygrub: false, pvgrub: true });
    expect(p.spec.domain.kernel).toBeUndefined();
    // without a flag, the defaults' "dom0" kernel and initrd (the running Dom0's) stand
    p = spec([]);
    expect(p.spec.domain).toMatchObject({ kernel: 'dom0', initrd: 'dom0', pygrub: false });
    // the other way round: site defaults that boot with PyGRUB, a --kernel flag
    const pygrubDefaults = join(s.dir, 'pygrub-defaults.yaml');
    writeFileSync(pygrubDefaults, 'source:\n  install:\n    distro: debian\ntarget:\n  size: 4G\ndomain:\n  pygrub: true\n');
    const k = runCli(['build', '--hostname', 'df-xt-spec', '--dir', dir, '--kernel', '/boot/vmlinuz-test', '--print-spec', '--json'], { ...env, DOMU_FORGE_DEFAULTS: pygrubDefaults });
    expect(k.status, k.stderr).toBe(0);
    expect((JSON.parse(k.stdout) as { spec: { domain: Record<string, unknown> } }).spec.domain).toMatchObject({ kernel: '/boot/vmlinuz-test', pygrub: false });
    // --kernel and --pygrub both on the command line: refused, naming both
    const r = runCli(['build', '--hostname', 'df-xt-spec', '--dir', dir, '--kernel', '/boot/vmlinuz', '--pygrub', '--print-spec'], env);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--pygrub|--kernel/);
  });

  it('PyGRUB: build --hostname NAME --dir DIR --pygrub boots under Xen; root logs in with the generated password', () => {
    const g = build('df-xt-pygrub', ['--pygrub']);
    const cfg = readFileSync(g.config, 'utf8');
    expect(cfg).toContain('bootloader  = "pygrub"');
    const out = bootUnderXen(g);
    expect(out.guestConfig).toContain('bootloader = "pygrub"');
  });

  it('pvgrub: build --hostname NAME --dir DIR --bootloader pvgrub boots through grub-x86_64-xen.bin under Xen; root logs in', () => {
    const g = build('df-xt-pvgrub', ['--bootloader', 'pvgrub']);
    const cfg = readFileSync(g.config, 'utf8');
    expect(cfg).toContain(`kernel      = "${PVGRUB_IMAGE}"`);
    expect(cfg).not.toMatch(/bootloader|ramdisk|root +=/);
    const out = bootUnderXen(g);
    // the Dom0 runs its own grub-xen-host GRUB, named by the config as it is; nothing of the guest is read in the Dom0
    expect(out.guestConfig).toContain(`kernel = "${PVGRUB_IMAGE}"`);
    expect(out.guestConfig).not.toContain('/run/domu-forge-job/vmlinuz');
    expect((out.dom0 as { versions: Record<string, string> }).versions['grub-xen-host']).toMatch(/^2\./);
  });

  it.skipIf(spawnSync('xl', ['info']).status === 0)('build --boot where xl info does not answer: exit 3, the build itself succeeded, the guest kept', () => {
    const name = 'df-xt-boot';
    const config = join(dir, `${name}.cfg`);
    const args = ['build', '--hostname', name, '--dir', dir, '--pygrub', '--boot', '--config', config];
    const r = runCli(args, env);
    expect(r.status).toBe(3);
    const line = /^domu-forge: --boot: .*$/m.exec(r.stderr)?.[0];
    expect(line).toMatch(new RegExp(`^domu-forge: --boot: the build itself succeeded \\(disk ${join(dir, 'domains', name, 'disk.img')}, config ${config}\\) but the guest was not started: xl info does not answer \\(status \\d+.*\\): this host is not a running Xen Dom0; start it on the Xen Dom0 with: xl create ${config}$`));
    // the guest stays: image, swap, config and its inventory entry
    for (const f of [join(dir, 'domains', name, 'disk.img'), join(dir, 'domains', name, 'swap.img'), config]) expect(existsSync(f), f).toBe(true);
    expect(sh(`blkid -o value -s TYPE '${join(dir, 'domains', name, 'disk.img')}'`).trim()).toBe('ext4');
    const list = runCli(['list', '--json'], env);
    expect(list.stdout).toContain(`"${name}"`);
    // --json: the same error in the result, the finished stages and the failed xen/start
    const j = runCli([...args, '--force', '--json'], env);
    expect(j.status).toBe(3);
    const out = JSON.parse(j.stdout) as { ok: boolean; error: { code: string; message: string }; stages: { id: string; status: string }[]; config: string };
    expect(out).toMatchObject({ ok: false, error: { code: 'ENVIRONMENT' }, config });
    expect(out.error.message).toMatch(/^--boot: the build itself succeeded/);
    expect(out.stages.filter((st) => st.status === 'failed').map((st) => st.id)).toEqual(['xen/start']);
    expect(out.stages.find((st) => st.id === 'inventory')?.status).toBe('done');
    // the guest stays, so its generated root password is shown, as for any finished build
    expect((out as { access?: { generatedPassword: string } }).access?.generatedPassword).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(r.stdout).toMatch(/login: {2}root, generated password [A-Za-z0-9]{20} \(shown once, stored nowhere\)/);
    expect(existsSync(join(dir, 'domains', name, 'swap.img'))).toBe(true);
  });
});
