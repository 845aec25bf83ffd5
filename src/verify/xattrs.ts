// Reading every entry's extended attributes (POSIX ACLs included, as system.posix_acl_*) in
// batches: the names go raw, NUL-separated, through `xargs -0 getfattr`, never one process per file.

import { spawn } from 'node:child_process';
import { runTool } from '../sys/exec.js';

/** name -> hex value ("0x..."), per path (latin1, relative to the root). */
export type XattrMap = Map<string, Map<string, string>>;

/** getfattr escapes control bytes, backslash and the like as \ooo in the file name; undo it. */
export function unescapeGetfattr(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseGetfattr(out: Buffer): XattrMap {
  const result: XattrMap = new Map();
  const text = out.toString('latin1');
  let current: Map<string, string> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      let rel = unescapeGetfattr(line.slice(8));
      if (rel.startsWith('./')) rel = rel.slice(2);
      else if (rel === '.') rel = '';
      current = new Map();
      result.set(rel, current);
    } else if (line.length > 0 && current) {
      const eq = line.indexOf('=');
      const name = unescapeGetfattr(eq < 0 ? line : line.slice(0, eq));
      current.set(name, eq < 0 ? '' : line.slice(eq + 1));
    }
  }
  return result;
}

/**
 * Read the xattrs of `rels` under `root`, split into `parallel` getfattr pipelines. Paths are given
 * relative with a leading "./" from the root as working directory, so a name starting with "-" is
 * never an option and the argument lists stay short.
 */
export async function readXattrs(root: string, rels: readonly string[], parallel = 2): Promise<XattrMap> {
  const chunks: string[][] = Array.from({ length: Math.max(1, parallel) }, () => []);
  // Deal round-robin by directory-ish order so each chunk gets a similar mix.
  rels.forEach((r, i) => chunks[i % chunks.length]!.push(r));
  const outs = await Promise.all(
    chunks
      .filter((c) => c.length > 0)
      .map(async (chunk) => {
        const input = Buffer.from(chunk.map((r) => (r === '' ? '.\0' : `./${r}\0`)).join(''), 'latin1');
        // xargs exits 123 when a getfattr run reports a file that vanished; what we got still counts.
        const r = await runTool('xargs', ['-0', '-r', 'getfattr', '-h', '-d', '-m', '-', '-e', 'hex', '--'], {
          input,
          cwd: root,
          allowFailure: true,
        });
        if (r.status !== 0 && r.status !== 123) {
          throw new Error(`getfattr failed in ${root}: ${r.stderr.split('\n')[0]}`);
        }
        return parseGetfattr(r.stdout);
      }),
  );
  const merged: XattrMap = new Map();
  for (const m of outs) for (const [k, v] of m) merged.set(k, v);
  return merged;
}

/** Paths as getfattr's NUL-separated input ("./rel\0", "." for the root), latin1. */
export function encodeXattrPaths(rels: readonly string[]): Buffer {
  return Buffer.from(rels.map((r) => (r === '' ? '.\0' : `./${r}\0`)).join(''), 'latin1');
}

/**
 * A getfattr pipeline fed while the walk runs: add() hands it paths (latin1, relative to `root`)
 * as they are found, finish() closes its input and parses what it read. One xargs for the whole
 * tree, so the reading of xattrs overlaps the walk on another core.
 */
export function streamXattrs(root: string): { add(rels: readonly string[] | Buffer): void; finish(): Promise<XattrMap> } {
  const child = spawn('xargs', ['-0', '-r', 'getfattr', '-h', '-d', '-m', '-', '-e', 'hex', '--'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  child.stdin.on('error', () => undefined);
  const done = new Promise<XattrMap>((resolve, reject) => {
    child.on('error', (e) => reject(new Error(`getfattr could not run in ${root}: ${e.message}`)));
    child.on('close', (code) => {
      // xargs exits 123 when a getfattr run reports a file that vanished; what we got still counts.
      if (code !== 0 && code !== 123) reject(new Error(`getfattr failed in ${root}: ${Buffer.concat(err).toString().split('\n')[0]}`));
      else resolve(parseGetfattr(Buffer.concat(out)));
    });
  });
  done.catch(() => undefined);
  return {
    add(rels) {
      // a Buffer is paths already encoded (encodeXattrPaths), so both sides' pipelines share one
      if (rels.length > 0) child.stdin.write(Buffer.isBuffer(rels) ? rels : encodeXattrPaths(rels));
    },
    finish() {
      child.stdin.end();
      return done;
    },
  };
}
