// The README is a front door (at most 16 KiB) and every relative link in it and in docs/ leads
// somewhere that exists, anchors included. Needs neither root nor network.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '..', '..');

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? markdownFiles(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
  );
}

/** Markdown with fenced code blocks and inline code removed (links there are not links). */
export function proseOf(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** The targets of inline links `[text](target)`, in prose only. */
export function linksOf(text: string): string[] {
  return [...proseOf(text).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function anchorOf(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
}

function anchorsIn(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```/gm, '');
  return new Set([...text.matchAll(/^#{1,6} (.*)$/gm)].map((m) => anchorOf(m[1]!)));
}

// Written by other work (the schema's generator, the tar formats page): their links are checked by the
// test below that says so, so that a missing one fails once, under its own name.
const OTHER_PAGES = ['docs/spec.md', 'docs/tar-formats.md'].map((p) => join(repo, p));

const files = [join(repo, 'README.md'), ...markdownFiles(join(repo, 'docs'))];

describe('documentation links', () => {
  it('the helpers find links and anchors as GitHub does', () => {
    expect(linksOf('see [a](x.md#y) and `[b](no.md)`\n```\n[c](no2.md)\n```\n[d](../e.md)')).toEqual(['x.md#y', '../e.md']);
    expect(anchorOf('`domu-forge clone`: copy a root')).toBe('domu-forge-clone-copy-a-root');
    expect(anchorOf('Image populate')).toBe('image-populate');
  });

  it('README.md is at most 16 KiB', () => {
    expect(statSync(join(repo, 'README.md')).size).toBeLessThanOrEqual(16384);
  });

  it('README.md links to docs/index.md, the spec reference and the tarball formats', () => {
    const links = linksOf(readFileSync(join(repo, 'README.md'), 'utf8'));
    for (const page of ['docs/index.md', 'docs/spec.md', 'docs/tar-formats.md', 'docs/exit-status.md']) expect(links).toContain(page);
  });

  it('docs/spec.md and docs/tar-formats.md exist (generated from the schema; written with the tar formats)', () => {
    expect(OTHER_PAGES.filter((p) => !existsSync(p)).map((p) => relative(repo, p))).toEqual([]);
  });

  for (const file of files) {
    it(`every relative link in ${relative(repo, file)} exists`, () => {
      const broken: string[] = [];
      for (const link of linksOf(readFileSync(file, 'utf8'))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http:, mailto: ...: not checked (no network)
        const [path, anchor] = link.split('#') as [string, string | undefined];
        const target = path === '' ? file : resolve(dirname(file), path);
        if (OTHER_PAGES.includes(target) && !existsSync(target)) continue; // failed once, above
        if (!existsSync(target)) broken.push(`${link} (no such file)`);
        else if (anchor && target.endsWith('.md') && !anchorsIn(target).has(anchor)) broken.push(`${link} (no such heading)`);
      }
      expect(broken).toEqual([]);
    });
  }
});
