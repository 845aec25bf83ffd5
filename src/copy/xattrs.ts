// Extended attributes and POSIX ACLs (which live in system.posix_acl_* xattrs), including
// security.capability. Node has no xattr calls, so one getfattr pipeline reads them for the whole
// run and one setfattr --restore writes them: names go in NUL-separated on stdin, raw bytes,
// through xargs, so non-UTF-8 names survive. Each entry is fed only after its owner and mode
// are final, because chown clears security.capability and chmod rewrites the ACL mask.

import { spawn, type ChildProcess } from 'node:child_process';
import { DomuError } from '../errors.js';

/** getfattr quotes control characters and backslashes as \ooo in its "# file:" lines. */
export function quoteLikeGetfattr(path: string): string {
  let out = '';
  for (const ch of path) {
    const c = ch.charCodeAt(0);
    if (c < 0x20 || ch === '\\' || c === 0x7f) out += `\\${c.toString(8).padStart(3, '0')}`;
    else out += ch;
  }
  return out;
}

export class XattrCopier {
  private readonly getter: ChildProcess;
  private readonly setter: ChildProcess;
  private readonly done: Promise<void>;
  private readonly warnings: string[] = [];
  private readonly srcPrefix: string;
  private readonly dstPrefix: string;
  private pending = '';
  private entries = 0;
  attributesSet = 0;

  constructor(private readonly source: string, target: string) {
    const env = { ...process.env, LC_ALL: 'C' };
    // 1 MiB of names per getfattr run (xargs' default is 128 KiB): fewer processes to start.
    this.getter = spawn('xargs', ['-0', '-r', '-s', '1048576', 'getfattr', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.setter = spawn('setfattr', ['-h', '--restore=-'], { env, stdio: ['pipe', 'ignore', 'pipe'] });
    const root = (p: string) => (p.endsWith('/') ? p : `${p}/`);
    this.srcPrefix = `# file: ${quoteLikeGetfattr(root(source))}`;
    this.dstPrefix = `# file: ${quoteLikeGetfattr(root(target))}`;
    this.getter.stdout!.setEncoding('latin1');
    this.getter.stdout!.on('data', (chunk: string) => this.onDump(chunk));
    this.collectWarnings(this.getter, 'getfattr');
    this.collectWarnings(this.setter, 'setfattr');
    this.getter.stdin!.on('error', () => undefined);
    this.setter.stdin!.on('error', () => undefined);
    const exited = (child: ChildProcess, name: string) =>
      new Promise<number>((resolve, reject) => {
        child.on('error', (e: NodeJS.ErrnoException) =>
          reject(e.code === 'ENOENT' ? new DomuError('MISSING_TOOL', `${name} is not installed`, { hint: 'install it with: apt-get install attr findutils' }) : e));
        child.on('close', (code) => resolve(code ?? 1));
      });
    const getterDone = exited(this.getter, 'getfattr');
    const setterDone = exited(this.setter, 'setfattr');
    this.done = this.closeInOrder(getterDone, setterDone);
    this.done.catch(() => undefined);
  }

  /** The setter's input ends only after the getter's last line has been passed on. */
  private async closeInOrder(getterDone: Promise<number>, setterDone: Promise<number>): Promise<void> {
    await getterDone;
    if (this.pending) this.writeLine(this.pending);
    this.setter.stdin!.end();
    await setterDone;
  }

  private collectWarnings(child: ChildProcess, name: string): void {
    child.stderr!.setEncoding('latin1');
    let buf = '';
    child.stderr!.on('data', (s: string) => {
      buf += s;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (line && this.warnings.length < 1000) this.warnings.push(`${name}: ${line}`);
      }
    });
  }

  private writeLine(line: string): void {
    let out = line;
    if (line.startsWith('# file: ')) {
      if (line.startsWith(this.srcPrefix)) out = this.dstPrefix + line.slice(this.srcPrefix.length);
      else return; // not ours: never write outside the target
    } else if (line.length > 0) this.attributesSet += 1;
    this.setter.stdin!.write(`${out}\n`, 'latin1');
  }

  private onDump(chunk: string): void {
    const text = this.pending + chunk;
    let start = 0;
    let i: number;
    while ((i = text.indexOf('\n', start)) >= 0) {
      this.writeLine(text.slice(start, i));
      start = i + 1;
    }
    this.pending = text.slice(start);
  }

  /** Queue entries (relative latin1 paths) whose xattrs should be copied. */
  add(rels: readonly string[]): void {
    if (rels.length === 0) return;
    // one latin1 string, written as its bytes: a Buffer per name cost the scheduler more than the write
    const root = this.source.endsWith('/') ? this.source : `${this.source}/`;
    let names = '';
    for (const rel of rels) names += rel === '' ? `${this.source}\0` : `${root}${rel}\0`;
    this.entries += rels.length;
    this.getter.stdin!.write(names, 'latin1');
  }

  /** Wait for both tools; returns their warnings (entries that vanished, a target without xattr support ...). */
  async finish(): Promise<string[]> {
    this.getter.stdin!.end();
    await this.done;
    return this.warnings;
  }

  kill(): void {
    this.getter.kill();
    this.setter.kill();
  }
}
