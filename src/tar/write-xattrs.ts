// The writer's extended attributes (POSIX ACLs among them, as system.posix_acl_*): one getfattr run
// per batch of entries, asked for while the batch before it is written, so the reading happens in
// other processes on another core. One small shell stays up for the whole archive and starts the
// getfattr of each batch (spawning from Node's large process for every batch costs far more); names
// go raw and NUL-separated through `xargs -0`, and each batch's dump ends with a "#END status" line.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { DomuError, oneLine } from '../errors.js';
import { parseGetfattrDump } from '../sys/xattrs.js';
import type { Xattrs } from './types.js';

// A batch: its length in bytes on a line, then the names. head -c reads exactly that many bytes, and
// the shell's read takes one byte at a time, so neither reads into the next batch. getfattr prints
// "# file: NAME" lines with control characters quoted, so "#END" cannot start a line of its output.
const SCRIPT = `while IFS= read -r n; do
  head -c "$n" | xargs -0 -r getfattr -h -d -m - -e hex --
  printf '#END %s\\n' "$?"
done`;

const END = Buffer.from('#END ');

interface Waiting {
  resolve(m: Map<string, Xattrs>): void;
  reject(e: unknown): void;
}

export class XattrReader {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: Waiting[] = [];
  private pending: Buffer = Buffer.alloc(0);
  private stderr = '';
  private failure: unknown;

  /** Names are relative to `root` (its real path, as a string), which is the helper's working directory. */
  constructor(root: string, signal?: AbortSignal) {
    this.child = spawn('sh', ['-c', SCRIPT], {
      cwd: root, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' }, ...(signal ? { signal } : {}),
    });
    this.child.stdout.on('data', (b: Buffer) => this.data(b));
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (s: string) => {
      if (this.stderr.length < 4000) this.stderr += s;
    });
    this.child.stdin.on('error', () => undefined);
    this.child.on('error', (e) => {
      this.fail(e.name === 'AbortError' ? new DomuError('INTERRUPTED', 'interrupted') : new DomuError('INTERNAL', `getfattr could not run: ${oneLine(e)}`));
    });
    this.child.on('close', (code, sig) => {
      this.fail(new DomuError('INTERNAL', `the getfattr helper ended early: ${oneLine(this.stderr) || (sig ? `killed by ${sig}` : `exit status ${code}`)}`));
    });
  }

  /**
   * The xattrs of `rels` (latin1, relative to the root, '' for the root itself): rel -> attributes,
   * only for entries that have some. A name that vanished meanwhile is left out (the writer notices).
   */
  read(rels: readonly string[]): Promise<Map<string, Xattrs>> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    let input = '';
    for (const r of rels) input += r === '' ? '.\0' : `./${r}\0`;
    const names = Buffer.from(input, 'latin1');
    const p = new Promise<Map<string, Xattrs>>((resolve, reject) => this.waiting.push({ resolve, reject }));
    p.catch(() => undefined); // awaited in turn; not left unhandled if the run stops first
    this.child.stdin.write(`${names.length}\n`);
    this.child.stdin.write(names);
    return p;
  }

  /** No more batches: the helper ends when its input does. */
  close(): void {
    this.child.stdin.end();
    this.waiting.length = 0;
  }

  /** Stop at once (a failed or interrupted run). */
  kill(): void {
    this.waiting.length = 0;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill();
  }

  private fail(e: unknown): void {
    this.failure ??= e;
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
  }

  private data(b: Buffer): void {
    this.pending = this.pending.length === 0 ? b : Buffer.concat([this.pending, b]);
    for (;;) {
      let at = this.pending.indexOf(END);
      while (at > 0 && this.pending[at - 1] !== 0x0a) at = this.pending.indexOf(END, at + 1);
      if (at < 0) return;
      const nl = this.pending.indexOf(0x0a, at);
      if (nl < 0) return;
      const status = this.pending.toString('latin1', at + END.length, nl);
      const dump = this.pending.subarray(0, at);
      this.pending = this.pending.subarray(nl + 1);
      const w = this.waiting.shift();
      if (!w) continue;
      // 123: a getfattr run named a file that vanished since the walk; what it printed still counts
      if (status !== '0' && status !== '123') {
        w.reject(new DomuError('INTERNAL', `getfattr failed reading extended attributes: ${oneLine(this.stderr) || `exit status ${status}`}`));
        continue;
      }
      const byRel = new Map<string, Xattrs>();
      for (const [path, attrs] of parseGetfattrDump(dump)) {
        if (attrs.length === 0) continue;
        byRel.set(path === '.' ? '' : path.startsWith('./') ? path.slice(2) : path, attrs);
      }
      w.resolve(byRel);
    }
  }
}
