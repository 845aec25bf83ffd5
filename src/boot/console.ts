// Judging a guest's serial console: the pass criterion of the boot test, and a follower that
// reads a console log file as qemu writes it.
//
// Pass only when BOTH hold:
//   - a getty prompt `<hostname> login:` shows the guest's own hostname (the part before the
//     first dot, as agetty prints it), and
//   - the guest's init (systemd) reports `Detected virtualization <kind>`, with kind `xen` under
//     Xen and `qemu` (or `kvm`) in plain mode.
// A bare `login:` is not enough: a clone with no fixups reaches one, from the wrong getty and
// under the wrong hostname.

import { promises as fsp } from 'node:fs';

export interface BootCriterion {
  /** The hostname the prompt must show. */
  hostname: string;
  /** Accepted `Detected virtualization` kinds. */
  virtualization: readonly string[];
}

export type VerdictState = 'pass' | 'fail' | 'pending';

export interface ConsoleVerdict {
  state: VerdictState;
  /** Why it failed, or what is still missing. */
  reason: string;
  /** Hostnames seen in login prompts, in order. */
  prompts: string[];
  /** Kinds seen in `Detected virtualization` lines. */
  virtualization: string[];
}

/** Console text without terminal escapes and carriage returns. */
export function cleanConsoleText(raw: string): string {
  // eslint-disable-next-line no-control-regex
  return raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\x1b[()][A-Za-z0-9]/g, '').replace(/\r/g, '');
}

const PROMPT = /(?:^|\n)([A-Za-z0-9][A-Za-z0-9._-]*) login: ?/g;
const VIRT = /Detected virtualization ([A-Za-z0-9_-]+)/g;
const FATAL: readonly [RegExp, string][] = [
  [/Kernel panic - not syncing[^\n]*/, 'the guest kernel panicked'],
  [/You are in emergency mode[^\n]*/, 'the guest dropped to emergency mode'],
  [/Give root password for maintenance[^\n]*/, 'the guest dropped to maintenance mode'],
  [/Gave up waiting for root file system device[^\n]*/, 'the guest initrd did not find its root device'],
  [/ALERT! [^\n]* does not exist\.[^\n]*/, 'the guest initrd did not find its root device'],
];

/** The short hostname agetty shows: up to the first dot. */
export function promptHostname(hostname: string): string {
  return hostname.split('.')[0]!;
}

/** Judge console text against the criterion. */
export function judgeConsole(raw: string, criterion: BootCriterion): ConsoleVerdict {
  const text = cleanConsoleText(raw);
  const prompts = [...text.matchAll(PROMPT)].map((m) => m[1]!);
  const virtualization = [...text.matchAll(VIRT)].map((m) => m[1]!);
  const verdict = (state: VerdictState, reason: string): ConsoleVerdict => ({ state, reason, prompts, virtualization });
  for (const [re, why] of FATAL) {
    const m = re.exec(text);
    if (m) return verdict('fail', `${why}: ${m[0].trim()}`);
  }
  const want = promptHostname(criterion.hostname);
  const virtOk = virtualization.some((v) => criterion.virtualization.includes(v));
  const virtText = criterion.virtualization.join(' or ');
  if (prompts.length > 0) {
    if (!prompts.includes(want)) {
      return verdict('fail', `a login prompt came up for hostname ${prompts[0]}, not for ${want}`);
    }
    if (!virtOk) {
      const saw = virtualization.length > 0 ? `it reported ${virtualization.join(', ')}` : 'it reported none';
      return verdict('fail', `the login prompt came up but the guest's init did not report "Detected virtualization ${virtText}" (${saw})`);
    }
    return verdict('pass', `"${want} login:" and "Detected virtualization ${virtualization.find((v) => criterion.virtualization.includes(v))}"`);
  }
  return verdict('pending', virtOk ? `waiting for "${want} login:"` : `waiting for "Detected virtualization ${virtText}" and "${want} login:"`);
}

/** The last `n` non-empty lines of console text, for failure messages. */
export function lastLines(raw: string, n: number): string[] {
  return cleanConsoleText(raw)
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '')
    .slice(-n);
}

/** Reads a growing log file incrementally. Bytes are taken as latin1 so nothing is lost. */
export class ConsoleFollower {
  private offset = 0;
  private chunks: string[] = [];
  private cached = '';

  constructor(readonly file: string) {}

  /** Read whatever was appended since the last call; returns the whole text so far. */
  async poll(): Promise<string> {
    let fh;
    try {
      fh = await fsp.open(this.file, 'r');
    } catch {
      return this.text();
    }
    try {
      for (;;) {
        const buf = Buffer.alloc(65536);
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        this.chunks.push(buf.subarray(0, bytesRead).toString('latin1'));
      }
    } finally {
      await fh.close();
    }
    return this.text();
  }

  text(): string {
    if (this.chunks.length > 0) {
      this.cached += this.chunks.join('');
      this.chunks = [];
    }
    return this.cached;
  }
}
