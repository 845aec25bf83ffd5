// Writing a domain config file: validate, render, then write atomically (temp file + rename in the
// same directory). An existing file with other content is kept unless `force` is given.

import { promises as fsp, constants as C } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';
import { DomuError, errnoCode, oneLine } from '../errors.js';
import type { XenDomain } from './domain.js';
import { renderXlConfig, renderXmConfig, type ConfigFormat, type RenderOptions } from './render.js';

export const DEFAULT_CONFIG_DIR = '/etc/xen';

export interface WriteConfigOptions extends RenderOptions {
  format?: ConfigFormat;
  /** Exact output path; default OUTPUT_DIR/NAME.cfg. */
  output?: string;
  /** Directory for NAME.cfg; default /etc/xen. */
  outputDir?: string;
  /** Replace an existing file whose content differs. */
  force?: boolean;
  /** Render and check, but write nothing. */
  dryRun?: boolean;
}

export interface WriteConfigResult {
  path: string;
  format: ConfigFormat;
  text: string;
  /** created, replaced, unchanged (same content already there), or planned (dry run). */
  status: 'created' | 'replaced' | 'unchanged' | 'planned';
}

/** The path a domain's config goes to under these options. */
export function configPath(domain: XenDomain, options: Pick<WriteConfigOptions, 'output' | 'outputDir' | 'format'> = {}): string {
  if (options.output) return options.output;
  return join(options.outputDir ?? DEFAULT_CONFIG_DIR, `${domain.name}.cfg`);
}

export async function writeDomainConfig(domain: XenDomain, options: WriteConfigOptions = {}): Promise<WriteConfigResult> {
  const format = options.format ?? 'xl';
  const text = format === 'xm' ? renderXmConfig(domain, options) : renderXlConfig(domain, options);
  const path = configPath(domain, options);
  let existing: string | undefined;
  try {
    const st = await fsp.lstat(path);
    if (!st.isFile()) throw new DomuError('BAD_INPUT', `${path} exists and is not a regular file`);
    existing = await fsp.readFile(path, 'utf8');
  } catch (e) {
    if (e instanceof DomuError) throw e;
    if (errnoCode(e) !== 'ENOENT') throw new DomuError('BAD_INPUT', `cannot read ${path}: ${oneLine(e)}`);
  }
  if (existing === text) return { path, format, text, status: 'unchanged' };
  if (existing !== undefined && !options.force) {
    throw new DomuError('BAD_INPUT', `${path} already exists with other content`, { hint: 'pass --force to replace it' });
  }
  if (options.dryRun) return { path, format, text, status: 'planned' };
  const dir = dirname(path);
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
  } catch (e) {
    throw new DomuError('BAD_INPUT', `cannot create ${dir}: ${oneLine(e)}`);
  }
  const tmp = join(dir, `.${basename(path)}.domu-forge-${randomBytes(6).toString('hex')}`);
  try {
    const fh = await fsp.open(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o644);
    try {
      await fh.writeFile(text);
      await fh.chmod(0o644);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, path);
  } catch (e) {
    await fsp.unlink(tmp).catch(() => undefined);
    throw new DomuError('BAD_INPUT', `cannot write ${path}: ${oneLine(e)}`);
  }
  return { path, format, text, status: existing === undefined ? 'created' : 'replaced' };
}
