// fixup/access: someone can log in to the guest. Root's password (given, read from a file, generated,
// or a ready hash), hashed with the strongest scheme the guest's own PAM / login.defs name (never MD5
// crypt); root's authorized_keys from key files; and, as xen-tools' --accounts does, the Dom0's
// non-system accounts (uid >= 1000) with homes made from the guest's /etc/skel.

import { randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DomuError, oneLine } from '../errors.js';
import { runTool } from '../sys/exec.js';
import { defineStage, type FixupContext, type StagePlanner } from './context.js';
import { appendRootAuthorizedKeys } from './identity.js';

export type { AccessOptions, RootPassword } from './access-options.js';
import type { AccessOptions, RootPassword } from './access-options.js';

export type HashScheme = 'yescrypt' | 'sha512crypt' | 'sha256crypt';

/** The first uid (and gid) of an ordinary account, and the overflow ids that are never copied. */
const FIRST_UID = 1000;
const NOBODY = 65534;

/** Letters and digits without the look-alikes (0/O, 1/l/I), so a password read off a screen is typed right. */
const ALPHABET = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** A random password from the kernel's CSPRNG: 20 characters of a 57-letter alphabet (about 116 bits). */
export function generatePassword(length = 20): string {
  if (!Number.isInteger(length) || length < 12 || length > 128) throw new DomuError('USAGE', 'a generated password is 12 to 128 characters long');
  let s = '';
  for (let i = 0; i < length; i += 1) s += ALPHABET[randomInt(ALPHABET.length)];
  return s;
}

/**
 * Resolve a generated or file password into a plain one before the build runs: the caller keeps
 * `generated` to print it once at the end; nothing stores it.
 */
export async function prepareAccess(options: AccessOptions): Promise<{ options: AccessOptions; generated?: string }> {
  const rp = options.rootPassword;
  if (rp?.kind === 'generate') {
    const password = generatePassword(rp.length);
    return { options: { ...options, rootPassword: { kind: 'plain', password } }, generated: password };
  }
  if (rp?.kind === 'file') return { options: { ...options, rootPassword: { kind: 'plain', password: await readPasswordFile(rp.path) } } };
  return { options };
}

/** The first line of a password file, without its newline; an empty one is refused. */
export async function readPasswordFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new DomuError('BAD_INPUT', `cannot read the password file ${path}: ${oneLine(e)}`);
  }
  const line = text.split('\n')[0]!.replace(/\r$/, '');
  if (line === '') throw new DomuError('BAD_INPUT', `the password file ${path} is empty`);
  return line;
}

const RANK: Record<HashScheme, number> = { sha256crypt: 1, sha512crypt: 2, yescrypt: 3 };

/**
 * The strongest scheme the guest itself names: its PAM pam_unix password options (Debian 12:
 * `yescrypt`) and login.defs ENCRYPT_METHOD. MD5, DES and blowfish-only guests get SHA-512, which
 * every glibc since 2.7 reads; so does a guest that names nothing.
 */
export function hashSchemeOf(pamTexts: readonly string[], loginDefs: string | undefined): { scheme: HashScheme; evidence: string } {
  let best: { scheme: HashScheme; evidence: string } | undefined;
  const consider = (scheme: HashScheme, evidence: string) => {
    if (!best || RANK[scheme] > RANK[best.scheme]) best = { scheme, evidence };
  };
  for (const text of pamTexts) {
    for (const raw of text.split('\n')) {
      const l = raw.replace(/#.*/, '').trim();
      if (!/^-?password\s/.test(l) || !/\bpam_unix\.so\b/.test(l)) continue;
      const opts = l.split(/\s+/);
      if (opts.includes('yescrypt')) consider('yescrypt', 'pam_unix yescrypt');
      else if (opts.includes('sha512')) consider('sha512crypt', 'pam_unix sha512');
      else if (opts.includes('sha256')) consider('sha256crypt', 'pam_unix sha256');
    }
  }
  const m = loginDefs ? /^\s*ENCRYPT_METHOD\s+(\S+)/m.exec(loginDefs) : null;
  const method = m?.[1]?.toUpperCase();
  if (method === 'YESCRYPT') consider('yescrypt', 'login.defs ENCRYPT_METHOD YESCRYPT');
  else if (method === 'SHA512') consider('sha512crypt', 'login.defs ENCRYPT_METHOD SHA512');
  else if (method === 'SHA256') consider('sha256crypt', 'login.defs ENCRYPT_METHOD SHA256');
  // SHA-256 is named only where nothing stronger is: SHA-512 costs the guest nothing more
  if (!best || best.scheme === 'sha256crypt') return { scheme: 'sha512crypt', evidence: best ? `${best.evidence}; SHA-512 instead` : 'the guest names no scheme: SHA-512' };
  return best;
}

/** Hash a password with mkpasswd (Debian's whois package), the password on stdin, never argv. */
export async function hashPassword(password: string, scheme: HashScheme): Promise<string> {
  if (/[\n\r\0]/.test(password)) throw new DomuError('BAD_INPUT', 'a password cannot hold a newline or NUL');
  const r = await runTool('mkpasswd', ['-m', scheme, '-s'], { input: `${password}\n`, allowFailure: true });
  const hash = r.stdout.toString().trim();
  if (r.status !== 0 || !/^\$(y|6|5)\$/.test(hash)) throw new DomuError('INTERNAL', `mkpasswd -m ${scheme} failed: ${oneLine(r.stderr)}`);
  return hash;
}

export const CRYPT_HASH = /^(\$[0-9a-z]+\$[^:\s]+|[!*][^:\s]*)$/;

function checkHash(hash: string): void {
  if (!CRYPT_HASH.test(hash)) throw new DomuError('BAD_INPUT', 'the root password hash must be a crypt(3) hash ($y$..., $6$...) or a lock (!, *), without ":" or spaces');
  if (/^\$1\$/.test(hash)) throw new DomuError('BAD_INPUT', 'the root password hash is MD5 crypt ($1$), which is broken: give a yescrypt ($y$) or SHA-512 ($6$) hash');
}

/** /etc/shadow with one account's password field set (the other fields kept). */
export function setShadowPassword(shadow: string, user: string, hash: string): string {
  const lines = shadow.split('\n');
  const i = lines.findIndex((l) => l.startsWith(`${user}:`));
  if (i < 0) throw new DomuError('BAD_INPUT', `the guest's /etc/shadow has no ${user} line`);
  const f = lines[i]!.split(':');
  if (f.length < 3) throw new DomuError('BAD_INPUT', `the guest's /etc/shadow ${user} line is malformed`);
  f[1] = hash;
  // a last-change day of 0 forces a change at first login: a set password is meant to be used
  if (f[2] === '0') f[2] = String(Math.floor(Date.now() / 86_400_000));
  lines[i] = f.join(':');
  return lines.join('\n');
}

async function guestHashScheme(ctx: FixupContext): Promise<{ scheme: HashScheme; evidence: string }> {
  const pam: string[] = [];
  for (const f of ['/etc/pam.d/common-password', '/etc/pam.d/system-auth', '/etc/pam.d/password-auth', '/etc/pam.d/passwd']) {
    const t = await ctx.view.readText(f, 1 << 20);
    if (t !== undefined) pam.push(t);
  }
  return hashSchemeOf(pam, await ctx.view.readText('/etc/login.defs', 1 << 20));
}

async function setRootPassword(ctx: FixupContext, p: StagePlanner, rp: RootPassword): Promise<void> {
  let hash: string;
  if (rp.kind === 'hash') {
    checkHash(rp.hash);
    hash = rp.hash;
  } else if (rp.kind === 'generate') {
    throw new DomuError('INTERNAL', 'a generated root password must be made with prepareAccess() before the stage runs');
  } else {
    const password = rp.kind === 'plain' ? rp.password : await readPasswordFile(rp.path);
    if (password === '') throw new DomuError('BAD_INPUT', 'the root password is empty');
    const { scheme, evidence } = await guestHashScheme(ctx);
    hash = await hashPassword(password, scheme);
    p.note(`root password hashed with ${scheme} (${evidence})`);
  }
  const shadow = await ctx.view.readText('/etc/shadow', 1 << 22);
  if (shadow === undefined) throw new DomuError('BAD_INPUT', 'the guest has no /etc/shadow: cannot set the root password');
  const next = setShadowPassword(shadow, 'root', hash);
  if (next !== shadow) await p.writeFile('/etc/shadow', next);
}

/** The keys of a file of ssh public keys (blank lines and comments dropped), each checked. */
export function parseAuthorizedKeys(text: string, file: string): string[] {
  const keys = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  for (const k of keys) {
    if (/[\r\0]/.test(k) || !/(^|\s)(ssh-(rsa|dss|ed25519)|ecdsa-sha2-\S+|sk-\S+)\s+[A-Za-z0-9+/]+=*(\s|$)/.test(k)) {
      throw new DomuError('BAD_INPUT', `${file}: not an ssh public key: ${k.slice(0, 40)}`);
    }
  }
  if (keys.length === 0) throw new DomuError('BAD_INPUT', `${file} holds no ssh public key`);
  return keys;
}

async function writeAuthorizedKeys(ctx: FixupContext, p: StagePlanner, files: readonly string[]): Promise<void> {
  const keys: string[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = await readFile(f, 'utf8');
    } catch (e) {
      throw new DomuError('BAD_INPUT', `cannot read the authorized keys file ${f}: ${oneLine(e)}`);
    }
    for (const k of parseAuthorizedKeys(text, f)) if (!keys.includes(k)) keys.push(k);
  }
  await appendRootAuthorizedKeys(ctx, p, keys, true);
}

type Table = string[][];

const parseTable = (text: string | undefined): Table =>
  (text ?? '').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')).map((l) => l.split(':'));

const joinTable = (text: string, add: Table): string => `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${add.map((r) => r.join(':')).join('\n')}\n`;

export interface AccountsPlan {
  passwd: Table;
  shadow: Table;
  group: Table;
  gshadow: Table;
  /** Accounts of the Dom0 not copied, and why. */
  skipped: string[];
}

const ordinary = (id: string | undefined) => {
  const n = Number(id);
  return Number.isInteger(n) && n >= FIRST_UID && n !== NOBODY && n < 4294967294;
};

/**
 * Which of the Dom0's entries to add to the guest: accounts with uid >= 1000 (not nobody), their
 * primary groups and the groups numbered >= 1000, each only when neither its name nor its id is
 * taken in the guest already. Pure: the four Dom0 and four guest files in, the lines to add out.
 */
export function planAccounts(
  dom0: { passwd?: string; shadow?: string; group?: string; gshadow?: string },
  guest: { passwd?: string; shadow?: string; group?: string; gshadow?: string },
): AccountsPlan {
  const gp = parseTable(guest.passwd);
  const gg = parseTable(guest.group);
  const skipped: string[] = [];
  const users = parseTable(dom0.passwd).filter((r) => r.length >= 7 && ordinary(r[2]));
  const takenUser = (r: string[]) => gp.find((g) => g[0] === r[0] || g[2] === r[2]);
  const passwd: Table = [];
  for (const u of users) {
    const t = takenUser(u);
    if (t) skipped.push(`${u[0]} (uid ${u[2]}): the guest has ${t[0]} (uid ${t[2]})`);
    else passwd.push(u);
  }
  const names = new Set(passwd.map((u) => u[0]));
  const primaries = new Set(passwd.map((u) => u[3]));
  const group: Table = [];
  for (const g of parseTable(dom0.group)) {
    if (g.length < 4 || !(ordinary(g[2]) || primaries.has(g[2]!))) continue;
    if (gg.some((x) => x[0] === g[0] || x[2] === g[2])) {
      if (primaries.has(g[2]!) && !gg.some((x) => x[0] === g[0] && x[2] === g[2])) skipped.push(`group ${g[0]} (gid ${g[2]}): taken in the guest`);
      continue;
    }
    // members that are not copied would be names the guest does not know
    const guestNames = new Set(gp.map((r) => r[0]));
    const members = g[3]!.split(',').filter((m) => m !== '' && (names.has(m) || guestNames.has(m)));
    group.push([g[0]!, g[1]!, g[2]!, members.join(',')]);
  }
  const groupNames = new Set(group.map((g) => g[0]));
  const gsh = new Set(parseTable(guest.gshadow).map((r) => r[0]));
  const gshadow = parseTable(dom0.gshadow).filter((r) => groupNames.has(r[0]!) && !gsh.has(r[0]));
  const ssh = new Set(parseTable(guest.shadow).map((r) => r[0]));
  const shadow = parseTable(dom0.shadow).filter((r) => names.has(r[0]!) && !ssh.has(r[0]));
  // an account without a shadow line on the Dom0 gets a locked one, never a passwordless one
  for (const u of passwd) if (!shadow.some((s) => s[0] === u[0]) && !ssh.has(u[0])) shadow.push([u[0]!, '!', '', '', '', '', '', '', '']);
  return { passwd, shadow, group, gshadow, skipped };
}

/** Copy the guest's /etc/skel into a new home, owned by the account. */
async function makeHome(ctx: FixupContext, p: StagePlanner, home: string, uid: number, gid: number): Promise<void> {
  if (await ctx.view.exists(home)) {
    p.note(`${home} already exists in the guest; left as it is`);
    return;
  }
  await p.ensureDir(home, 0o700, { uid, gid });
  const copy = async (from: string, to: string, depth: number): Promise<void> => {
    if (depth > 8) return;
    for (const n of await ctx.view.list(from)) {
      const kind = await ctx.view.kind(`${from}/${n}`, false);
      if (kind === 'file') {
        const text = await ctx.view.readText(`${from}/${n}`, 1 << 20);
        if (text !== undefined) await p.writeFile(`${to}/${n}`, text, { mode: 0o644, uid, gid });
      } else if (kind === 'dir') {
        await p.ensureDir(`${to}/${n}`, 0o755, { uid, gid });
        await copy(`${from}/${n}`, `${to}/${n}`, depth + 1);
      } else p.note(`/etc/skel: ${from}/${n} is not a file or directory; not copied into ${home}`);
    }
  };
  if ((await ctx.view.kind('/etc/skel')) === 'dir') await copy('/etc/skel', home, 0);
}

async function copyAccounts(ctx: FixupContext, p: StagePlanner, from: string): Promise<void> {
  const read = async (f: string) => {
    try {
      return await readFile(join(from, 'etc', f), 'latin1');
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT' && f === 'gshadow') return undefined;
      throw new DomuError('BAD_INPUT', `cannot read the Dom0's /etc/${f}: ${oneLine(e)}`);
    }
  };
  const dom0 = { passwd: await read('passwd'), shadow: await read('shadow'), group: await read('group'), gshadow: await read('gshadow') };
  const files = ['passwd', 'shadow', 'group', 'gshadow'] as const;
  const guest: Partial<Record<(typeof files)[number], string>> = {};
  for (const f of files) {
    const t = await ctx.view.readText(`/etc/${f}`, 1 << 22);
    if (t !== undefined) guest[f] = t;
  }
  if (guest.passwd === undefined || guest.shadow === undefined || guest.group === undefined) throw new DomuError('BAD_INPUT', 'the guest has no /etc/passwd, /etc/shadow or /etc/group: cannot copy accounts');
  const plan = planAccounts(dom0, guest);
  for (const s of plan.skipped) p.note(`account not copied: ${s}`);
  if (plan.passwd.length === 0) {
    p.note('the Dom0 has no accounts with uid >= 1000 to copy');
    return;
  }
  if (plan.passwd.length) await p.writeFile('/etc/passwd', joinTable(guest.passwd, plan.passwd));
  if (plan.shadow.length) await p.writeFile('/etc/shadow', joinTable(guest.shadow, plan.shadow));
  if (plan.group.length) await p.writeFile('/etc/group', joinTable(guest.group, plan.group));
  if (plan.gshadow.length && guest.gshadow !== undefined) await p.writeFile('/etc/gshadow', joinTable(guest.gshadow, plan.gshadow));
  for (const u of plan.passwd) {
    const home = u[5]!;
    if (!home.startsWith('/') || home === '/' || home.split('/').includes('..')) {
      p.note(`${u[0]}: home ${home} is not made`);
      continue;
    }
    await makeHome(ctx, p, home, Number(u[2]), Number(u[3]));
  }
  p.note(`copied the Dom0's accounts: ${plan.passwd.map((u) => u[0]).join(', ')}`);
}

export const accessStage = defineStage('access', 'root password and authorized_keys; the Dom0\'s accounts', async (ctx, p) => {
  const o = ctx.options.access;
  if (!o || (!o.rootPassword && !o.authorizedKeysFiles?.length && !o.accounts)) return 'no access asked for';
  if (o.rootPassword) await setRootPassword(ctx, p, o.rootPassword);
  if (o.authorizedKeysFiles?.length) await writeAuthorizedKeys(ctx, p, o.authorizedKeysFiles);
  if (o.accounts) await copyAccounts(ctx, p, o.accountsFrom ?? '/');
});
