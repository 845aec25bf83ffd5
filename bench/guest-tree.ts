// The benchmarks' guest trees: a Debian-like skeleton (os-release, hostname, fstab, interfaces, an
// init and a kernel name) with a payload that each benchmark chooses, made once under BENCH_DIR.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export function benchDir(): string {
  const dir = process.env.BENCH_DIR || '/var/tmp/domu-forge-bench';
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * BENCH_DIR/NAME as a guest root, made once (a `.complete` marker says it is whole). `payload` is a
 * shell fragment run inside the new root after the skeleton; `args` are its $2, $3, ...
 */
export function guestTree(name: string, payload: string, args: string[] = []): string {
  const root = join(benchDir(), name);
  if (existsSync(join(root, '.complete'))) return root;
  rmSync(root, { recursive: true, force: true });
  execFileSync('bash', ['-c', `
    set -e
    mkdir -p "$1" && cd "$1"
    mkdir -p etc/network lib/systemd sbin usr/bin usr/lib usr/share boot dev proc sys tmp var root
    chmod 1777 tmp
    printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\\nVERSION_ID="12"\\nID=debian\\n' > etc/os-release
    echo buildhost > etc/hostname
    printf '127.0.0.1 localhost\\n' > etc/hosts
    printf '/dev/sda1 / ext4 defaults 0 1\\n' > etc/fstab
    printf 'auto lo\\niface lo inet loopback\\n' > etc/network/interfaces
    printf 'root:x:0:0:root:/root:/bin/sh\\n' > etc/passwd
    printf '#!/bin/sh\\n' > lib/systemd/systemd && chmod 755 lib/systemd/systemd && ln -s /lib/systemd/systemd sbin/init
    echo k > boot/vmlinuz-6.1.0-18-amd64 && echo i > boot/initrd.img-6.1.0-18-amd64
    ${payload}
    touch .complete
  `, name, root, ...args]);
  return root;
}
