// Reading and writing xl domain configs, and the qemu command lines of both modes.
import { describe, expect, it } from 'vitest';
import { parseXlConfig, parseXlDisk, renderXlDisk, renderXlSettings } from '../../src/boot/xl-config.js';
import { plainQemuArgs, qemuEscape, xenQemuArgs } from '../../src/boot/qemu.js';
import { compareKernelVersions, fstabRootDevice } from '../../src/boot/guest-files.js';

// the shape xen-create-image writes
const XT = `#
# Configuration file for the Xen instance banquo, created
# by xen-tools 4.9.2 on Thu Nov 26 2026.
#
kernel      = '/boot/vmlinuz-6.1.0-50-amd64'
extra       = 'elevator=noop'
ramdisk     = '/boot/initrd.img-6.1.0-50-amd64'
vcpus       = '1'
memory      = '512'
root        = '/dev/xvda2 ro'
disk        = [
                  'file:/home/xen/domains/banquo/disk.img,xvda2,w',
                  'file:/home/xen/domains/banquo/swap.img,xvda1,w',
              ]
name        = 'banquo'
vif         = [ 'ip=10.0.0.5 ,mac=00:16:3E:12:34:56' ]
on_poweroff = 'destroy'
on_reboot   = 'restart'
on_crash    = 'restart'
`;

describe('parseXlConfig', () => {
  it('reads xen-tools output: strings, multi-line lists with a trailing comma, comments', () => {
    const s = parseXlConfig(XT, 'banquo.cfg');
    expect(s.map((x) => x.key)).toEqual(['kernel', 'extra', 'ramdisk', 'vcpus', 'memory', 'root', 'disk', 'name', 'vif', 'on_poweroff', 'on_reboot', 'on_crash']);
    expect(s.find((x) => x.key === 'disk')).toEqual({
      key: 'disk',
      value: ['file:/home/xen/domains/banquo/disk.img,xvda2,w', 'file:/home/xen/domains/banquo/swap.img,xvda1,w'],
      line: 11,
    });
    expect(s.find((x) => x.key === 'name')?.value).toBe('banquo');
  });

  it('reads numbers, double quotes with escapes and semicolons', () => {
    expect(parseXlConfig('memory = 512; vcpus=2\nextra = "a \\"b\\""\nx=0x10\n')).toEqual([
      { key: 'memory', value: 512, line: 1 },
      { key: 'vcpus', value: 2, line: 1 },
      { key: 'extra', value: 'a "b"', line: 2 },
      { key: 'x', value: 16, line: 3 },
    ]);
  });

  it('names the file and line of every error', () => {
    expect(() => parseXlConfig('name = "x"\nmemory 512\n', 'g.cfg')).toThrow('g.cfg:2: expected = after memory');
    expect(() => parseXlConfig('name = "x\n', 'g.cfg')).toThrow('g.cfg:1: unterminated string');
    expect(() => parseXlConfig('disk = [ "a" "b" ]\n', 'g.cfg')).toThrow('g.cfg:1: expected , or ] in list');
    expect(() => parseXlConfig('\n\nname = @\n', 'g.cfg')).toThrow('g.cfg:3: unexpected "@"');
  });

  it('writes what it reads back to the same settings', () => {
    const s = parseXlConfig(XT);
    expect(parseXlConfig(renderXlSettings(s)).map(({ key, value }) => ({ key, value }))).toEqual(s.map(({ key, value }) => ({ key, value })));
  });
});

describe('parseXlDisk', () => {
  it('reads the old prefix form, the positional form and key=value', () => {
    expect(parseXlDisk('file:/srv/a.img,xvda2,w')).toEqual({ target: '/srv/a.img', vdev: 'xvda2', access: 'w' });
    expect(parseXlDisk('phy:/dev/vg0/malcom-disk,xvda1,w')).toEqual({ target: '/dev/vg0/malcom-disk', vdev: 'xvda1', access: 'w' });
    expect(parseXlDisk('tap:aio:/srv/b.img,xvdb,r')).toEqual({ target: '/srv/b.img', vdev: 'xvdb', access: 'r' });
    expect(parseXlDisk('/srv/c.qcow2,qcow2,xvda,rw')).toEqual({ target: '/srv/c.qcow2', format: 'qcow2', vdev: 'xvda', access: 'rw' });
    expect(parseXlDisk('format=raw, vdev=xvda, access=rw, target=/srv/d,1.img')).toEqual({ target: '/srv/d,1.img', vdev: 'xvda', access: 'rw', format: 'raw' });
    expect(() => parseXlDisk('/srv/e.img')).toThrow('disk "/srv/e.img": no virtual device (vdev)');
  });

  it('writes key=value with the target last', () => {
    expect(renderXlDisk({ target: '/dev/vdc', vdev: 'xvda2', access: 'w' })).toBe('format=raw, vdev=xvda2, access=w, target=/dev/vdc');
  });
});

describe('qemu command lines', () => {
  it('plain: the guest kernel, serial console both ways (a socket, logged to a file), the image under snapshot=on', () => {
    const a = plainQemuArgs({ kernel: '/k', initrd: '/i', append: 'root=/dev/vda ro console=ttyS0', disk: { file: '/img,1' }, memoryMiB: 1024, vcpus: 1, consoleLog: '/log', consoleSocket: '/s,ock' });
    expect(a).toContain('-nodefaults');
    expect(a.slice(a.indexOf('-accel'), a.indexOf('-accel') + 4)).toEqual(['-accel', 'tcg', '-cpu', 'qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt']);
    expect(a[a.indexOf('-drive') + 1]).toBe('file=/img,,1,format=raw,if=virtio,snapshot=on');
    expect(a.slice(a.indexOf('-kernel'))).toEqual(['-kernel', '/k', '-append', 'root=/dev/vda ro console=ttyS0', '-initrd', '/i']);
    expect(a[a.indexOf('-chardev') + 1]).toBe('socket,id=guestcon,path=/s,,ock,server=on,wait=off,logfile=/log');
    expect(a[a.indexOf('-serial') + 1]).toBe('chardev:guestcon');
  });

  it('xen: Xen as the kernel, the Dom0 kernel with its arguments and initrd as multiboot modules', () => {
    const a = xenQemuArgs({ xen: '/x', xenArgs: 'dom0_mem=512M,max:512M smep=0 smap=0', dom0Kernel: '/v', dom0Args: 'root=/dev/vda console=hvc0', dom0Initrd: '/i', disks: [{ file: '/d' }, { file: '/j' }], memoryMiB: 1280, vcpus: 2, dom0Log: '/l0', guestLog: '/l1', guestSocket: '/s1' });
    expect(a.slice(a.indexOf('-kernel'))).toEqual(['-kernel', '/x', '-append', 'dom0_mem=512M,max:512M smep=0 smap=0', '-initrd', '/v root=/dev/vda console=hvc0,/i']);
    // com1: Xen and the Dom0 (output only); com2: the guest's console both ways
    expect(a.filter((x, i) => a[i - 1] === '-serial')).toEqual(['file:/l0', 'chardev:guestcon']);
    expect(a[a.indexOf('-chardev') + 1]).toBe('socket,id=guestcon,path=/s1,server=on,wait=off,logfile=/l1');
    expect(() => xenQemuArgs({ xen: '/x', xenArgs: '', dom0Kernel: '/v', dom0Args: 'a=b,c', dom0Initrd: '/i', disks: [], memoryMiB: 1, vcpus: 1, dom0Log: '', guestLog: '', guestSocket: '' })).toThrow(
      'the Dom0 command line cannot hold a comma: a=b,c',
    );
    expect(qemuEscape('a,b,,c')).toBe('a,,b,,,,c');
  });
});

describe('guest file helpers', () => {
  it('orders kernel versions numerically', () => {
    const v = ['6.1.0-9-amd64', '6.1.0-50-amd64', '5.10.0-28-amd64', '6.1.0-10-amd64'].sort(compareKernelVersions);
    expect(v).toEqual(['5.10.0-28-amd64', '6.1.0-9-amd64', '6.1.0-10-amd64', '6.1.0-50-amd64']);
  });

  it('finds the root device of an fstab', () => {
    expect(fstabRootDevice('# c\nproc /proc proc defaults 0 0\n/dev/xvda2 / ext4 errors=remount-ro 0 1\n')).toBe('/dev/xvda2');
    expect(fstabRootDevice('UUID=1234\t/\text4 defaults 0 1\n')).toBe('UUID=1234');
    expect(fstabRootDevice('/dev/xvda1 none swap sw 0 0\n')).toBeUndefined();
  });
});
