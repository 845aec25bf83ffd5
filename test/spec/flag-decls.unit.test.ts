// Flags declared once (src/spec/flags.ts FLAG): build, clone/install/unpack and xen-config take the
// same text, help and choices; --lvm means VG (the volume NAME-disk, swap NAME-swap, as xen-tools
// names them) or VG/LV everywhere; conflicting flags are refused with exit 2, naming both.
import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { DomuError } from '../../src/errors.js';
import { applySpecFlags, loadBuildSpec, parseBuildSpec, SPEC_FLAGS } from '../../src/spec/index.js';
import { FLAG, TARGET_FLAGS } from '../../src/spec/flags.js';
import { addTargetOptions, targetSpecFromOptions } from '../../src/cli/target-options.js';
import { addDomainFlags, domainFromFlags } from '../../src/cli/xen-config.js';
import { diskPathOf, domainOf, swapPathOf } from '../../src/pipeline/pipeline.js';

function usage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DomuError);
    expect((e as DomuError).code).toBe('USAGE');
    expect((e as DomuError).exitStatus).toBe(2);
    return (e as Error).message;
  }
  throw new Error('no usage error');
}

const flagsOf = (cmd: Command) => new Map(cmd.options.map((o) => [o.long, o]));

describe('one declaration', () => {
  it('build, clone and xen-config declare each shared flag with the same text and help', () => {
    const clone = flagsOf(addTargetOptions(new Command('clone')));
    const xen = flagsOf(addDomainFlags(new Command('xen-config')));
    for (const d of TARGET_FLAGS) {
      const spec = SPEC_FLAGS.find((f) => f.flags === d.flags);
      const o = clone.get(d.flags.split(' ')[0]!)!;
      expect(o.flags).toBe(d.flags);
      expect(o.description).toBe(d.description);
      if (spec) expect(spec.description).toBe(d.description);
    }
    for (const d of [FLAG.type, FLAG.memory, FLAG.swap, FLAG.fs, FLAG.ip, FLAG.netmask, FLAG.gateway, FLAG.dhcp, FLAG.mac, FLAG.bridge, FLAG.console, FLAG.pygrub]) {
      expect(xen.get(d.flags.split(' ')[0]!)?.description, d.flags).toBe(d.description);
      expect(SPEC_FLAGS.find((f) => f.key === d.key)?.description, d.flags).toBe(d.description);
    }
    // --lvm and --swap take the same values in every command
    expect(xen.get('--lvm')!.flags).toBe(FLAG.lvm.flags);
    expect(SPEC_FLAGS.find((f) => f.key === 'lvm')!.flags).toBe(FLAG.lvm.flags);
  });

  it('choices come from the schema', () => {
    expect(FLAG.fs.choices).toEqual(['ext2', 'ext3', 'ext4', 'xfs']);
    expect(FLAG.format.choices).toEqual(['raw', 'qcow2', 'vmdk']);
    expect(FLAG.populate.choices).toEqual(['mount', 'mkfs-d']);
    expect(FLAG.type.choices).toEqual(['pv', 'pvh', 'hvm']);
  });

  it('help texts say what is true: swap on xvda1, root on xvda2', () => {
    expect(FLAG.swap.description).toContain('swap on xvda1, root on xvda2');
    for (const f of SPEC_FLAGS) expect(f.description, f.flags).not.toMatch(/xvda2 in the config|swap[^,:]* on xvda2|root on xvda1/);
  });
});

describe('--lvm everywhere', () => {
  it('build: VG is the volume NAME-disk with swap NAME-swap; VG/LV that volume with LV-swap', () => {
    const s = loadBuildSpec(undefined, (r) => applySpecFlags(r, { hostname: 'web1.example.org', clone: '/', lvm: 'vg0', size: '4G', swap: '512M', pygrub: true }));
    expect(s.target).toMatchObject({ kind: 'lvm', vg: 'vg0', lv: 'web1-disk' });
    expect(diskPathOf(s)).toBe('/dev/vg0/web1-disk');
    expect(swapPathOf(s)).toBe('/dev/vg0/web1-swap');
    expect(domainOf(s).disks.map((d) => [d.target, d.vdev])).toEqual([['/dev/vg0/web1-disk', 'xvda2'], ['/dev/vg0/web1-swap', 'xvda1']]);
    const explicit = loadBuildSpec(undefined, (r) => applySpecFlags(r, { hostname: 'web1', clone: '/', lvm: '/dev/vg0/data', size: '4G', swap: '512M', pygrub: true }));
    expect(explicit.target).toMatchObject({ vg: 'vg0', lv: 'data' });
    expect(swapPathOf(explicit)).toBe('/dev/vg0/data-swap');
  });

  it('a spec file: lvm: VG is NAME-disk too', () => {
    const s = parseBuildSpec('name: malc\ntarget: { lvm: scotland, size: 4G, swap: 256M }\nsource: { clone: / }\ndomain: { pygrub: true }\n', 'm.yaml');
    expect(s.target).toMatchObject({ vg: 'scotland', lv: 'malc-disk' });
    expect(swapPathOf(s)).toBe('/dev/scotland/malc-swap');
  });

  it('clone/install/unpack: VG with --name is NAME-disk; VG/LV as given', () => {
    const parse = (argv: string[]) => {
      const cmd = addTargetOptions(new Command('t').exitOverride());
      cmd.parse(argv, { from: 'user' });
      return targetSpecFromOptions(undefined, cmd.opts());
    };
    expect(parse(['--lvm', 'vg0', '--name', 'web1'])).toMatchObject({ kind: 'lvm', vg: 'vg0', lv: 'web1-disk' });
    expect(parse(['--lvm', 'vg0/web1'])).toMatchObject({ kind: 'lvm', vg: 'vg0', lv: 'web1' });
    expect(usage(() => parse(['--lvm', 'vg0']))).toBe('--lvm takes VG/LV (volume group and new volume name), not "vg0"');
  });

  it('xen-config: VG gives HOST-disk and HOST-swap; VG/LV gives LV and LV-swap', async () => {
    const d = await domainFromFlags({ hostname: 'web1.example.org', lvm: 'vg0', swap: '512M', pygrub: true });
    expect(d!.disks.map((x) => [x.target, x.vdev])).toEqual([['/dev/vg0/web1-disk', 'xvda2'], ['/dev/vg0/web1-swap', 'xvda1']]);
    const e = await domainFromFlags({ hostname: 'web1', lvm: 'vg0/data', swap: '512M', pygrub: true });
    expect(e!.disks.map((x) => [x.target, x.vdev])).toEqual([['/dev/vg0/data', 'xvda2'], ['/dev/vg0/data-swap', 'xvda1']]);
    const alone = await domainFromFlags({ hostname: 'web1', lvm: 'vg0/data', pygrub: true });
    expect(alone!.disks.map((x) => [x.target, x.vdev])).toEqual([['/dev/vg0/data', 'xvda1']]);
  });
});

describe('conflicting flags: exit 2, naming both', () => {
  const build = (opts: Record<string, unknown>) => () => loadBuildSpec(undefined, (r) => applySpecFlags(r, { hostname: 'a', clone: '/', image: '/tmp/cli-a.img', ...opts }));
  it('build', () => {
    expect(usage(build({ pygrub: true, kernel: '/boot/vmlinuz' }))).toBe('--kernel conflicts with --pygrub: give one way to boot');
    expect(usage(build({ pygrub: true, bootloader: 'pvgrub' }))).toBe('--pygrub conflicts with --bootloader pvgrub: give one way to boot');
    expect(usage(build({ kernel: '/boot/vmlinuz', bootloader: 'pvgrub' }))).toBe('--kernel conflicts with --bootloader pvgrub: give one way to boot');
    expect(usage(build({ image: undefined, lvm: 'vg0', rootDir: '/tmp/x' }))).toBe('--lvm conflicts with --root-dir: give one target');
    // --no-kernel is not --kernel FILE; --bootloader pygrub is --pygrub again
    expect(() => build({ pygrub: true, kernel: false, size: '1G' })()).not.toThrow(/conflicts/);
    expect(() => build({ pygrub: true, bootloader: 'pygrub', size: '1G' })()).not.toThrow(/conflicts/);
  });

  it('clone/install/unpack targets', () => {
    const parse = (argv: string[]) => {
      const cmd = addTargetOptions(new Command('t').exitOverride());
      cmd.parse(argv, { from: 'user' });
      return targetSpecFromOptions(undefined, cmd.opts());
    };
    expect(usage(() => parse(['--lvm', 'vg/lv', '--device', '/dev/sdz']))).toBe('give one target, not --lvm and --device');
  });

  it('xen-config disks', async () => {
    await expect(domainFromFlags({ hostname: 'a', lvm: 'vg0', dir: '/srv/xen' })).rejects.toThrow('--lvm conflicts with --dir: give one place for the disks');
    await expect(domainFromFlags({ hostname: 'a', dir: '/srv/xen', imageDev: '/dev/sdz' })).rejects.toThrow('--dir conflicts with --image-dev: give one place for the disks');
  });
});
