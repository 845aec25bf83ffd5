// Solaris ACL headers (type A, Sun tar's `-p` on a file with an ACL): the header's data is an octal
// number (the ACL's kind in the high bits, 01000000 POSIX draft ACL or 03000000 NFSv4 ACL, and its
// entry count) and a NUL, then the ACL in Solaris text form and a NUL. It applies to the entry that
// follows. A POSIX draft ACL becomes the Linux access and default ACL texts the ACL path applies;
// an NFSv4 ACL has no Linux form and is reported as read and not applied.

import { EntryError } from './types.js';

export interface SolarisAcl {
  access?: string;
  default?: string;
  /** Why the ACL is not applied, when it is not. */
  notApplied?: string;
}

const POSIX_DRAFT = 0o1000000;
const NFS4 = 0o3000000;

export function solarisAcl(body: Buffer, where: string): SolarisAcl {
  const nul = body.indexOf(0);
  const head = body.toString('latin1', 0, nul < 0 ? body.length : nul);
  if (!/^[0-7]{1,8}$/.test(head)) throw new EntryError(`the Solaris ACL header before ${where} is malformed (its type "${head.slice(0, 20)}" is not an octal number)`);
  const type = parseInt(head, 8) & ~0o777777;
  const rest = nul < 0 ? '' : body.subarray(nul + 1).toString('utf8');
  const end = rest.indexOf('\0');
  const text = end < 0 ? rest : rest.slice(0, end);
  if (type === NFS4) return { notApplied: 'Solaris NFSv4 ACL (type A header; Linux has no NFSv4 ACLs on local filesystems)' };
  if (type !== POSIX_DRAFT) return { notApplied: `Solaris ACL of unknown kind ${type.toString(8)} (type A header)` };
  const access: string[] = [];
  const dflt: string[] = [];
  for (const raw of text.split(/[,\n]/)) {
    let e = raw.replace(/#.*$/, '').trim();
    if (!e) continue;
    let isDefault = false;
    const m = /^(?:default:|d:|default(?=user|group|mask|other))(.*)$/.exec(e);
    if (m) {
      isDefault = true;
      e = m[1]!;
    }
    const f = e.split(':');
    // Solaris writes "mask:rwx" and "other:r--" (no qualifier field)
    if ((f[0] === 'mask' || f[0] === 'other' || f[0] === 'm' || f[0] === 'o') && f.length === 2) f.splice(1, 0, '');
    if (f.length < 3 || !/^(user|group|mask|other|u|g|m|o)$/.test(f[0]!) || !/^[rwx-]{1,3}$/.test(f[2]!)) {
      throw new EntryError(`the Solaris ACL header before ${where} is malformed (entry "${raw.trim().slice(0, 60)}")`);
    }
    (isDefault ? dflt : access).push(f.join(':'));
  }
  const out: SolarisAcl = {};
  if (access.length > 0) out.access = access.join('\n');
  if (dflt.length > 0) out.default = dflt.join('\n');
  return out;
}
