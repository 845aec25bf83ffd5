// Test helpers for targets: a tree holding every kind of entry and attribute a clone keeps, the
// rsync comparison, read-only mounting of an image, and a sweep of leftovers (mounts, loop devices).

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export function sh(script: string, cwd?: string): string {
  return execFileSync('bash', ['-euo', 'pipefail', '-c', script], { cwd, encoding: 'latin1', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * A tree with regular, sparse and empty files, hard links, relative and absolute symlinks, devices,
 * a fifo, a socket, xattrs (user.*, security.capability), access and default ACLs, high uid/gid,
 * setuid/setgid/sticky modes, nanosecond mtimes, a non-UTF-8 name and a 255-byte name.
 */
export function makeRichTree(dir: string, extraMiB = 0): void {
  // it chowns and chmods its directory: only ever a fresh one under a temporary directory
  if (!/^\/(var\/)?tmp\/./.test(dir)) throw new Error(`makeRichTree: ${dir} is not under /tmp or /var/tmp`);
  execFileSync('bash', ['-euo', 'pipefail', '-c', `
    cd -- "\${1:?no directory}"
    mkdir -p d1/d2/d3 emptydir
    printf 'hello\\n' > f1; printf 'data\\n' > d1/f2; : > empty
    ln f1 hardlink1; ln d1/f2 d1/d2/hl2
    ln -s f1 rel-sym; ln -s /etc/passwd abs-sym; ln -s ../../f1 d1/d2/up-sym
    mknod cdev c 1 3; mknod bdev b 7 200; mkfifo fifo1
    node -e "require('net').createServer().listen('sock1', () => process.exit(0))"
    cp /bin/true capbin; chmod 4755 capbin
    setfattr -n security.capability -v 0sAQAAAgAgAAAAAAAAAAAAAAAAAAA= capbin
    setfattr -n user.foo -v bar f1; setfattr -n user.bin -v 0x00ff10 d1/f2
    setfacl -m u:1234:rwx,g:77:r d1; setfacl -d -m g:55:rx d1
    chown 1001:2002 f1; chown 4000000:4000001 d1/f2; chown -h 3:4 rel-sym
    chmod 1777 emptydir; chmod 2750 d1/d2
    head -c 3145728 /dev/urandom > big
    truncate -s 64M sparse; printf x | dd of=sparse bs=1 seek=50000000 conv=notrunc status=none
    node -e "require('fs').writeFileSync(Buffer.from('non-utf8-\\xff\\xfe', 'latin1'), 'x')"
    touch "$(printf 'n%.0s' $(seq 255))"
    if [ "$2" -gt 0 ]; then head -c "$(( $2 * 1048576 ))" /dev/urandom > filler; fi
    touch -d '2001-02-03 04:05:06.123456789' f1 d1/f2
    touch -h -d '1999-01-01 00:00:00.5' rel-sym
    touch -d '2010-10-10 10:10:10.987654321' d1/d2/d3 d1/d2 d1 .
    chmod 0751 .; chown 5:6 .
  `, 'bash', dir, String(extraMiB)], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * The standard exactness check, plus --modify-window=-1 so that nanoseconds count too (rsync
 * compares whole seconds by default). Returns rsync's itemized differences: '' means identical.
 * XFS shows each ACL a second time as a trusted.SGI_ACL_* xattr (root sees trusted.*): those are
 * left out of the comparison with `xfs`; the ACLs themselves are still compared (-A).
 */
export function rsyncDiff(src: string, dst: string, nanoseconds = true, xfs = false): string {
  const args = ['-aHAXc', '--numeric-ids', '--dry-run', '--itemize-changes'];
  if (nanoseconds) args.push('--modify-window=-1');
  if (xfs) args.push('--filter=-x trusted.SGI_ACL_*');
  const r = spawnSync('rsync', [...args, `${src}/`, `${dst}/`], { encoding: 'latin1' });
  if (r.status !== 0) throw new Error(`rsync failed: ${r.stderr}`);
  return r.stdout;
}

/** Mount a raw image read-only on a temporary directory, run fn, then unmount and detach. */
export async function withImageMounted<T>(image: string, fn: (root: string) => T | Promise<T>, fsType?: string): Promise<T> {
  const mnt = mkdtempSync('/tmp/domu-forge-test-ro-');
  const dev = sh(`losetup --find --show --read-only '${image}'`).trim();
  try {
    // no journal replay on a read-only look
    const opts = fsType === 'xfs' ? 'ro,norecovery' : fsType === 'ext3' || fsType === 'ext4' ? 'ro,noload' : 'ro';
    sh(`mount ${fsType ? `-t ${fsType}` : ''} -o ${opts} ${dev} '${mnt}'`);
    try {
      return await fn(mnt);
    } finally {
      sh(`umount '${mnt}'`);
    }
  } finally {
    sh(`losetup -d ${dev}`);
    spawnSync('rmdir', [mnt]);
  }
}

export function fsck(image: string, fs: string): { status: number; output: string } {
  const r = fs === 'xfs' ? spawnSync('xfs_repair', ['-n', image], { encoding: 'latin1' }) : spawnSync('e2fsck', ['-fn', image], { encoding: 'latin1' });
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

/** Mount points whose path contains `needle` (ours are under /tmp/domu-forge-mnt-* or the test dir). */
export function mountsMatching(needle: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'latin1')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.includes(needle));
}

/** Loop devices whose backing file lies under `dir`. */
export function loopsUnder(dir: string): string[] {
  const out = sh('losetup --noheadings -O NAME,BACK-FILE --list || true');
  return out.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f[1]?.startsWith(dir)).map((f) => f[0]!);
}

/** Release whatever a test left under `dir` or at `mounts` (mounts first, then loop devices), then remove it. */
export function sweep(dir: string, mounts: string[] = []): void {
  const mine = new Set(mounts);
  const all = readFileSync('/proc/self/mountinfo', 'latin1').split('\n').map((l) => l.split(' ')[4] ?? '');
  for (const m of all.filter((m) => m.startsWith(`${dir}/`) || mine.has(m)).reverse()) spawnSync('umount', ['-l', m]);
  for (const m of mine) spawnSync('rmdir', [m]);
  for (const l of loopsUnder(dir)) spawnSync('losetup', ['-d', l]);
  rmSync(dir, { recursive: true, force: true });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join('/var/tmp', `domu-forge-test-${prefix}-`));
}
