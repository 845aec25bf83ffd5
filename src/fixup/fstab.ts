// fixup/fstab: the guest's /etc/fstab names the domain's disks (root, swap, other filesystems) as
// the domain model gives them, so fstab and the config agree. Every other line (proc, tmpfs, NFS,
// swap files, comments) is kept where it was.

import { defaultMountOptions, guestDevices, type GuestDevice } from '../xen/domain.js';
import { defineStage } from './context.js';

interface Line {
  text: string;
  fields?: string[];
}

/** fstab's octal escapes (\040 for a space) decoded, for comparing mount points. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function fstabLine(d: GuestDevice): string {
  const swap = d.mount.fs === 'swap';
  const options = d.mount.options ?? defaultMountOptions(d.mount.fs, d.mount.mountpoint);
  const pass = swap ? 0 : d.mount.mountpoint === '/' ? 1 : 2;
  const point = swap ? 'none' : d.mount.mountpoint.replace(/[\s\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return [d.device, point, d.mount.fs, options, '0', String(pass)].join('\t');
}

/** The new fstab text: the domain's entries in place of the old ones for the same mount points. */
export function updateFstab(text: string, devices: GuestDevice[]): string {
  const lines: Line[] = text.split('\n').map((t) => {
    const s = t.trim();
    if (s === '' || s.startsWith('#')) return { text: t };
    const fields = s.split(/\s+/);
    return fields.length >= 2 ? { text: t, fields } : { text: t };
  });
  if (lines.length > 0 && lines[lines.length - 1]!.text === '') lines.pop();
  const ours = new Set(devices.map((d) => d.device));
  const points = new Set(devices.filter((d) => d.mount.fs !== 'swap').map((d) => d.mount.mountpoint));
  const haveSwap = devices.some((d) => d.mount.fs === 'swap');
  const isDeviceSpec = (spec: string) => /^(\/dev\/|UUID=|LABEL=|PARTUUID=|PARTLABEL=)/.test(spec);
  const managed = (l: Line): boolean => {
    if (!l.fields) return false;
    const [spec, file, type] = l.fields;
    if (ours.has(spec!)) return true;
    if (type === 'swap') return haveSwap && isDeviceSpec(spec!);
    return points.has(unescape(file!));
  };
  const used = new Set<number>();
  const replacement = new Map<number, string>();
  const append: string[] = [];
  for (const d of devices) {
    const swap = d.mount.fs === 'swap';
    const idx = lines.findIndex((l, i) => !used.has(i) && managed(l) && (swap ? l.fields![2] === 'swap' : unescape(l.fields![1]!) === d.mount.mountpoint));
    const want = fstabLine(d);
    if (idx < 0) {
      append.push(want);
      continue;
    }
    used.add(idx);
    const f = lines[idx]!.fields!;
    // the same device, place and type: the user's options and pass numbers stay
    const same = f[0] === d.device && (swap || unescape(f[1]!) === d.mount.mountpoint) && f[2] === d.mount.fs;
    replacement.set(idx, same ? lines[idx]!.text : want);
  }
  const out: string[] = [];
  lines.forEach((l, i) => {
    if (replacement.has(i)) out.push(replacement.get(i)!);
    else if (!managed(l)) out.push(l.text);
  });
  out.push(...append);
  return `${out.join('\n')}\n`;
}

export const fstabStage = defineStage('fstab', 'write the domain\'s disks into /etc/fstab, keeping other lines', async (ctx, p) => {
  const devices = guestDevices(ctx.domain);
  if (devices.length === 0) return 'the domain model mounts no filesystems';
  if (!(await ctx.view.exists('/etc'))) await p.ensureDir('/etc');
  if (!ctx.domainGiven) p.note(`no domain given: assumed ${devices.map((d) => `${d.device} on ${d.mount.mountpoint} (${d.mount.fs})`).join(', ')}`);
  const text = (await ctx.view.readText('/etc/fstab', 1 << 20)) ?? '';
  const next = updateFstab(text, devices);
  if (next !== text) await p.writeFile('/etc/fstab', next);
});
