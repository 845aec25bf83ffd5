// Small helpers shared by the install modules.

import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';

export function formatMiB(bytes: number): string {
  if (!Number.isFinite(bytes)) return '? MiB';
  return `${(bytes / 1048576).toFixed(bytes < 10 * 1048576 ? 1 : 0)} MiB`;
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The host's architecture in Debian's spelling (amd64), or in RPM's (x86_64). */
export function hostArch(kind: 'deb' | 'rpm'): string {
  if (kind === 'deb') {
    const r = spawnSync('dpkg', ['--print-architecture'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  const m: Record<string, [string, string]> = {
    x64: ['amd64', 'x86_64'],
    ia32: ['i386', 'i686'],
    arm64: ['arm64', 'aarch64'],
    arm: ['armhf', 'armv7hl'],
    ppc64: ['ppc64el', 'ppc64le'],
    s390x: ['s390x', 's390x'],
  };
  const pair = m[process.arch] ?? [process.arch, process.arch];
  return kind === 'deb' ? pair[0] : pair[1];
}

/** Split comma lists and repeated flags into one clean list. */
export function splitList(values: readonly string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(/[,\s]+/)).filter((v) => v !== '');
}
