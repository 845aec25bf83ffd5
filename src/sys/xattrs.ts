// Extended attributes of single files (SELinux labels, ACLs, user.*, capabilities) through getfattr
// and setfattr, since Node has no xattr calls, and their dump format ("# file: NAME", "name=0xHEX").
// Paths are bytes: a file name need not be UTF-8. For whole trees use one batched pipeline instead.

import { runTool } from './exec.js';

export type Xattrs = Array<[name: Buffer, value: Buffer]>;

/** getfattr quotes control characters, DEL and backslash as \ooo; setfattr --restore undoes it. */
export function quoteAttrName(name: Buffer): Buffer {
  const out: number[] = [];
  for (const b of name) {
    if (b < 0x20 || b === 0x7f || b === 0x5c) out.push(0x5c, ...Buffer.from(b.toString(8).padStart(3, '0'), 'latin1'));
    else out.push(b);
  }
  return Buffer.from(out);
}

export function unquoteAttrName(text: Buffer): Buffer {
  if (!text.includes(0x5c)) return text;
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const b = text[i]!;
    if (b === 0x5c && i + 3 < text.length && /^[0-7]{3}$/.test(text.toString('latin1', i + 1, i + 4))) {
      out.push(parseInt(text.toString('latin1', i + 1, i + 4), 8));
      i += 3;
    } else out.push(b);
  }
  return Buffer.from(out);
}

/** Parse a getfattr dump (`-d -m - -e hex --absolute-names`): file path (latin1 of its bytes) -> attributes. */
export function parseGetfattrDump(dump: Buffer): Map<string, Xattrs> {
  const result = new Map<string, Xattrs>();
  let current: Xattrs | undefined;
  let at = 0;
  while (at < dump.length) {
    let nl = dump.indexOf(0x0a, at);
    if (nl < 0) nl = dump.length;
    const line = dump.subarray(at, nl);
    at = nl + 1;
    if (line.length === 0) {
      current = undefined;
      continue;
    }
    if (line.subarray(0, 8).toString('latin1') === '# file: ') {
      current = [];
      result.set(unquoteAttrName(line.subarray(8)).toString('latin1'), current);
      continue;
    }
    if (!current) continue;
    const eq = line.indexOf(0x3d);
    if (eq < 0) {
      current.push([unquoteAttrName(line), Buffer.alloc(0)]);
      continue;
    }
    const text = line.toString('latin1', eq + 1);
    let value: Buffer;
    if (text.startsWith('0x')) value = Buffer.from(text.slice(2), 'hex');
    else if (text.startsWith('0s')) value = Buffer.from(text.slice(2), 'base64');
    else if (text.startsWith('"') && text.endsWith('"')) value = unquoteAttrName(Buffer.from(text.slice(1, -1), 'latin1'));
    else value = Buffer.from(text, 'latin1');
    current.push([unquoteAttrName(line.subarray(0, eq)), value]);
  }
  return result;
}

/** One block of a setfattr --restore stream for the file at `absPath`. */
export function setfattrBlock(absPath: Buffer, attrs: Xattrs): Buffer {
  const parts: Buffer[] = [Buffer.from('# file: '), quoteAttrName(absPath), Buffer.from('\n')];
  for (const [name, value] of attrs) parts.push(quoteAttrName(name), Buffer.from(`=0x${value.toString('hex')}\n`, 'latin1'));
  parts.push(Buffer.from('\n'));
  return Buffer.concat(parts);
}

/**
 * The extended attributes of one entry (a symlink's own, never its target's); [] when it has none
 * or its filesystem keeps none.
 */
export async function readXattrs(path: Buffer): Promise<Xattrs> {
  const r = await runTool('getfattr', ['-h', '--absolute-names', '-d', '-m', '-', '-e', 'hex', '--', path], { allowFailure: true });
  const dump = parseGetfattrDump(r.stdout);
  return dump.size === 0 ? [] : [...dump.values()][0]!;
}

/** Set extended attributes on one entry (not following a symlink), one setfattr call. */
export async function writeXattrs(path: Buffer, attrs: Xattrs): Promise<void> {
  if (attrs.length === 0) return;
  await runTool('setfattr', ['-h', '--restore=-'], { input: setfattrBlock(path, attrs) });
}

/** Give `to` the extended attributes of `from`: two tool calls. */
export async function copyXattrs(from: Buffer, to: Buffer): Promise<void> {
  await writeXattrs(to, await readXattrs(from));
}
