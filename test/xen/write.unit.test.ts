// Writing a domain config: atomic, 0644, kept when it differs unless forced, nothing written on a dry run.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configPath, writeDomainConfig } from '../../src/xen/write.js';
import { renderXlConfig, renderXmConfig } from '../../src/xen/render.js';
import { domainFromOptions } from '../../src/xen/options.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-xenwrite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// the renderer checks that the disk exists: the image the default layout names, made under dir
mkdirSync(join(dir, 'domains', 'cfg1'), { recursive: true });
writeFileSync(join(dir, 'domains', 'cfg1', 'disk.img'), '');
const domain = domainFromOptions({ hostname: 'cfg1', pygrub: true, memory: 256, dir });

describe('configPath', () => {
  it('is /etc/xen/NAME.cfg unless an output dir or file is given', () => {
    expect(configPath(domain)).toBe('/etc/xen/cfg1.cfg');
    expect(configPath(domain, { outputDir: '/tmp/x' })).toBe('/tmp/x/cfg1.cfg');
    expect(configPath(domain, { output: '/tmp/y.conf', outputDir: '/tmp/x' })).toBe('/tmp/y.conf');
  });
});

describe('writeDomainConfig', () => {
  it('creates the file (and its directory) with the rendered text, 0644, no temp file left', async () => {
    const out = join(dir, 'a', 'b');
    const r = await writeDomainConfig(domain, { outputDir: out });
    expect(r).toEqual({ path: join(out, 'cfg1.cfg'), format: 'xl', text: renderXlConfig(domain, {}), status: 'created' });
    expect(readFileSync(r.path, 'utf8')).toBe(r.text);
    expect(statSync(r.path).mode & 0o777).toBe(0o644);
    expect(readdirSync(out)).toEqual(['cfg1.cfg']);
  });

  it('is unchanged when the same text is there; refuses other content unless forced', async () => {
    const out = join(dir, 'again');
    await writeDomainConfig(domain, { outputDir: out });
    expect((await writeDomainConfig(domain, { outputDir: out })).status).toBe('unchanged');
    const other = domainFromOptions({ hostname: 'cfg1', pygrub: true, memory: 1024, dir });
    await expect(writeDomainConfig(other, { outputDir: out })).rejects.toMatchObject({ code: 'BAD_INPUT', message: `${join(out, 'cfg1.cfg')} already exists with other content`, hint: 'pass --force to replace it' });
    expect(readFileSync(join(out, 'cfg1.cfg'), 'utf8')).toBe(renderXlConfig(domain, {}));
    const r = await writeDomainConfig(other, { outputDir: out, force: true });
    expect(r.status).toBe('replaced');
    expect(readFileSync(r.path, 'utf8')).toBe(renderXlConfig(other, {}));
  });

  it('a dry run writes nothing, and the xm format renders the xm text', async () => {
    const out = join(dir, 'dry');
    const r = await writeDomainConfig(domain, { outputDir: out, dryRun: true, format: 'xm' });
    expect(r).toMatchObject({ status: 'planned', format: 'xm', text: renderXmConfig(domain, {}) });
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a path that is not a regular file (a symlink is not followed)', async () => {
    const out = join(dir, 'odd');
    mkdirSync(join(out, 'cfg1.cfg'), { recursive: true });
    await expect(writeDomainConfig(domain, { outputDir: out })).rejects.toThrow(`${join(out, 'cfg1.cfg')} exists and is not a regular file`);
    writeFileSync(join(dir, 'victim'), 'keep');
    symlinkSync(join(dir, 'victim'), join(dir, 'link.cfg'));
    await expect(writeDomainConfig(domain, { output: join(dir, 'link.cfg'), force: true })).rejects.toThrow(/is not a regular file/);
    expect(readFileSync(join(dir, 'victim'), 'utf8')).toBe('keep');
  });
});
