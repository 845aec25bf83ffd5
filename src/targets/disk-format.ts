// Disk formats: converting a raw image to qcow2 or VMDK on the way out, and importing a VMDK, qcow2
// (or other qemu-img format) disk as a raw image Xen can use (the seed's "converting VMware disk images").
// An imported disk is untrusted: qemu-img would follow a backing file, a qcow2 external data file or
// VMDK extents to any path on the host (CVE-2024-32498 and kin), so those are refused.

import { lstat, open, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DomuError, errnoCode, oneLine } from '../errors.js';
import { runTool } from '../sys/exec.js';
import type { CleanupStack } from '../cleanup.js';

export type DiskFormat = 'raw' | 'qcow2' | 'vmdk';

/** Formats qemu-img reads that we import. */
export const IMPORT_FORMATS = ['vmdk', 'qcow2', 'qcow', 'vdi', 'vhdx', 'vpc', 'qed'] as const;

/** A temporary name beside `file`, so that the final rename stays on one filesystem. */
export function partialName(file: string, what: string): string {
  return join(dirname(file), `.${basename(file)}.domu-forge-${what}-${randomBytes(4).toString('hex')}`);
}

/** Convert a raw image to qcow2 or vmdk (qemu-img convert); the output is sparse/compact. */
export async function convertRaw(raw: string, out: string, format: Exclude<DiskFormat, 'raw'>, signal?: AbortSignal): Promise<void> {
  const args = ['convert', '-q', '-f', 'raw', '-O', format];
  if (format === 'vmdk') args.push('-o', 'subformat=monolithicSparse');
  args.push(raw, out);
  await runTool('qemu-img', args, signal ? { signal } : {});
}

interface QemuImgInfo {
  format: string;
  'virtual-size': number;
  'actual-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'format-specific'?: { type: string; data?: Record<string, unknown> };
}

/** qemu-img info of one file, never following a backing chain. */
async function imageInfo(file: string, format?: string): Promise<QemuImgInfo> {
  const args = ['info', '--output=json', ...(format ? ['-f', format] : []), file];
  const r = await runTool('qemu-img', args, { allowFailure: true });
  if (r.status !== 0) throw new DomuError('BAD_INPUT', `${file} is not a disk image qemu-img can read: ${oneLine(r.stderr)}`);
  return JSON.parse(r.stdout.toString()) as QemuImgInfo;
}

export interface ImportDiskOptions {
  input: string;
  output: string;
  /** replace an existing output file */
  force?: boolean;
  /** the input's format; probed when not given (a probed "raw" is refused: there is nothing to convert) */
  inputFormat?: string;
  signal?: AbortSignal;
  cleanup?: CleanupStack;
  log?: (line: string) => void;
}

export interface ImportDiskSummary {
  input: string;
  output: string;
  inputFormat: string;
  /** the disk's size in bytes */
  virtualSize: number;
  /** bytes the raw output occupies on the host (it is sparse) */
  fileBytes: number;
  /** what the disk holds: a partition table (use it as a whole disk, e.g. xvda, with pygrub) or a bare filesystem */
  layout: 'mbr' | 'gpt' | 'ext' | 'xfs' | 'unknown';
}

/** What the first sectors of a raw disk hold. */
export async function probeLayout(file: string): Promise<ImportDiskSummary['layout']> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(2048);
    await fh.read(buf, 0, buf.length, 0);
    if (buf.toString('latin1', 512, 520) === 'EFI PART') return 'gpt';
    if (buf.toString('latin1', 0, 4) === 'XFSB') return 'xfs';
    if (buf.readUInt16LE(1024 + 56) === 0xef53) return 'ext';
    if (buf[510] === 0x55 && buf[511] === 0xaa) return 'mbr';
    return 'unknown';
  } finally {
    await fh.close();
  }
}

/** Refuse anything that would make qemu-img read a file other than the input itself. */
async function checkSelfContained(input: string, info: QemuImgInfo): Promise<void> {
  if (info['backing-filename'] || info['full-backing-filename']) {
    throw new DomuError('BAD_INPUT', `${input} refers to a backing file (${info['backing-filename'] ?? info['full-backing-filename']}); import only self-contained disks`, {
      hint: 'flatten it first where you trust it: qemu-img convert -O qcow2 IN flat.qcow2',
    });
  }
  const data = info['format-specific']?.data ?? {};
  if (typeof data['data-file'] === 'string') {
    throw new DomuError('BAD_INPUT', `${input} keeps its data in an external file (${data['data-file']}); import only self-contained disks`);
  }
  if (info.format === 'vmdk') {
    const extents = Array.isArray(data['extents']) ? (data['extents'] as Array<{ filename?: string }>) : [];
    const self = await realpath(input);
    for (const ext of extents) {
      const name = ext.filename ?? '';
      const real = await realpath(resolve(dirname(input), name)).catch(() => '');
      if (real !== self) {
        throw new DomuError('BAD_INPUT', `${input} is a VMDK whose data lives in other files (${name}); import only a single-file (monolithic) VMDK`, {
          hint: 'convert it to one file first where you trust it: vmware-vdiskmanager -r IN.vmdk -t 0 one.vmdk',
        });
      }
    }
  }
}

/**
 * Import a VMDK, qcow2 (or vdi, vhdx, vpc) disk as a sparse raw image. The output is written
 * beside its final name and renamed into place at the end; an existing output is kept unless `force`.
 */
export async function importDisk(o: ImportDiskOptions): Promise<ImportDiskSummary> {
  const input = resolve(o.input);
  const output = resolve(o.output);
  const st = await stat(input).catch((e: unknown) => {
    throw new DomuError('BAD_INPUT', `cannot read ${input}: ${errnoCode(e) === 'ENOENT' ? 'no such file' : oneLine(e)}`);
  });
  if (!st.isFile()) throw new DomuError('BAD_INPUT', `${input} is not a regular file`);
  const outSt = await lstat(output).catch(() => undefined);
  if (outSt?.isDirectory()) throw new DomuError('BAD_INPUT', `${output} is a directory; give the raw image's file name`);
  if (outSt && !o.force) throw new DomuError('BAD_INPUT', `${output} exists; add --force to replace it`);
  if (outSt && !outSt.isFile() && !outSt.isSymbolicLink()) throw new DomuError('BAD_INPUT', `${output} exists and is not a regular file`);
  await stat(dirname(output)).catch(() => {
    throw new DomuError('BAD_INPUT', `the directory of ${output} does not exist`);
  });
  if (outSt && (await realpath(output).catch(() => '')) === (await realpath(input))) {
    throw new DomuError('BAD_INPUT', 'the output must not be the input');
  }
  if (o.inputFormat !== undefined && !(IMPORT_FORMATS as readonly string[]).includes(o.inputFormat)) {
    throw new DomuError('USAGE', `--input-format ${JSON.stringify(o.inputFormat)} is not one of ${IMPORT_FORMATS.join(', ')}`);
  }

  const info = await imageInfo(input, o.inputFormat);
  if (info.format === 'raw') {
    throw new DomuError('BAD_INPUT', `${input} is already a raw image; Xen can use it as it is`);
  }
  if (!(IMPORT_FORMATS as readonly string[]).includes(info.format)) {
    throw new DomuError('BAD_INPUT', `${input} is a ${info.format} image; import takes ${IMPORT_FORMATS.join(', ')}`);
  }
  await checkSelfContained(input, info);

  const tmp = partialName(output, 'import');
  const removeTmp = () => rm(tmp, { force: true });
  const drop = o.cleanup?.push(`remove half-made ${tmp}`, removeTmp);
  try {
    o.log?.(`converting ${info.format} ${input} to raw ${output}`);
    await runTool('qemu-img', ['convert', '-q', '-f', info.format, '-O', 'raw', input, tmp], o.signal ? { signal: o.signal } : {});
    const layout = await probeLayout(tmp);
    await rename(tmp, output);
    drop?.();
    const outStat = await stat(output);
    return { input, output, inputFormat: info.format, virtualSize: info['virtual-size'], fileBytes: outStat.blocks * 512, layout };
  } catch (e) {
    await removeTmp();
    drop?.();
    if (e instanceof DomuError && e.code === 'INTERNAL' && /No space left/i.test(e.message)) {
      throw new DomuError('ENVIRONMENT', `no space left for ${output} (the disk is ${info['virtual-size']} bytes)`);
    }
    throw e;
  }
}
