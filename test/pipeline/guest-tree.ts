// A small Debian-like guest root for build and fleet tests: enough of /etc and the init system for
// the fixups to recognise it (os-release, systemd, ifupdown, fstab), plus a few MiB of payload, a
// hard link, a symlink, an xattr and a device node, so that clone and verify have real work.

import { execFileSync } from 'node:child_process';

export function makeGuestTree(root: string, payloadMiB = 4): void {
  execFileSync('bash', ['-c', `
    set -e
    mkdir -p "$1" && cd "$1"
    mkdir -p etc/network etc/ssh etc/systemd/system lib/systemd sbin usr/bin usr/sbin usr/lib boot dev proc sys tmp var/lib home root
    chmod 1777 tmp; chmod 700 root
    printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\\nNAME="Debian GNU/Linux"\\nVERSION_ID="12"\\nID=debian\\n' > etc/os-release
    echo 12.5 > etc/debian_version
    echo buildhost > etc/hostname
    printf '127.0.0.1 localhost\\n127.0.1.1 buildhost\\n' > etc/hosts
    printf '# /etc/fstab\\n/dev/sda1 / ext4 defaults 0 1\\n' > etc/fstab
    printf 'auto lo\\niface lo inet loopback\\n' > etc/network/interfaces
    printf 'root:x:0:0:root:/root:/bin/bash\\n' > etc/passwd
    printf 'root:*:19000:0:99999:7:::\\n' > etc/shadow && chmod 640 etc/shadow && chgrp 42 etc/shadow
    printf '#!/bin/sh\\nexit 0\\n' > lib/systemd/systemd && chmod 755 lib/systemd/systemd
    ln -s /lib/systemd/systemd sbin/init
    echo key > etc/ssh/ssh_host_ed25519_key && chmod 600 etc/ssh/ssh_host_ed25519_key
    echo 0123456789abcdef0123456789abcdef > etc/machine-id
    head -c ${payloadMiB}M /dev/urandom > usr/lib/payload.bin
    cp /bin/true usr/bin/true && ln usr/bin/true usr/bin/true-link
    ln -s ../lib/payload.bin usr/bin/payload-link
    setfattr -n user.origin -v fixture usr/lib/payload.bin
    mknod dev/null c 1 3 && chmod 666 dev/null
    touch -d '2024-01-02 03:04:05.123456789' usr/lib/payload.bin
  `, 'guest-tree', root]);
}
