// The package cache against a real local HTTP mirror (127.0.0.1): pool files are fetched once,
// index files are revalidated (304) or trusted within their max age, served offline when the
// mirror is down, and clients (curl, as wget and apt would) fetch through the proxy.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isImmutablePath, PackageCache } from '../../src/install/package-cache.js';

const run = promisify(execFile);
const deb = Buffer.alloc(200_000, 7);
const LAST_MODIFIED = 'Wed, 01 Nov 2023 10:00:00 GMT';
let mirror: http.Server;
let mirrorUrl = '';
const hits: string[] = [];
let inRelease = 'Suite: test\nCodename: test\n';

function startMirror(port = 0): Promise<void> {
  mirror = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    if (req.url === '/debian/pool/main/x/x_1_amd64.deb') {
      res.writeHead(200, { 'content-length': String(deb.length) }).end(deb);
    } else if (req.url === '/debian/dists/test/InRelease') {
      if (req.headers['if-modified-since'] === LAST_MODIFIED) res.writeHead(304).end();
      else res.writeHead(200, { 'last-modified': LAST_MODIFIED, 'content-type': 'text/plain' }).end(inRelease);
    } else res.writeHead(404).end();
  });
  return new Promise((resolve) => mirror.listen(port, '127.0.0.1', () => resolve()));
}

let dir = '';
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'domu-pkgcache-'));
  await startMirror();
  mirrorUrl = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/debian`;
});
function stopMirror(): Promise<unknown> {
  mirror.closeAllConnections();
  return new Promise((r) => mirror.close(r));
}

afterAll(async () => {
  await stopMirror();
  rmSync(dir, { recursive: true, force: true });
});

describe('package cache', () => {
  it('knows which paths never change', () => {
    expect(isImmutablePath('/debian/pool/main/b/bash/bash_5.2_amd64.deb')).toBe(true);
    expect(isImmutablePath('/debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/ab12')).toBe(true);
    expect(isImmutablePath('/repo/repodata/0768ec91d4402d8dbf89bf19f1955a3fba47e356d3c2fcbd482c7ed98cf11696-primary.xml.gz')).toBe(true);
    expect(isImmutablePath('/debian/dists/bookworm/InRelease')).toBe(false);
    expect(isImmutablePath('/repo/repodata/repomd.xml')).toBe(false);
  });

  it('refuses URL paths that climb out of the cache', () => {
    const c = new PackageCache(dir);
    // the URL parser folds %2e%2e segments; an encoded slash stays inside one file name
    expect(c.fileFor(new URL('http://h/a/%2e%2e/%2e%2e/etc/passwd'))).toBe(join(dir, 'http', 'h', 'etc/passwd'));
    expect(c.fileFor(new URL('http://h/a/..%2F..%2F..%2Fetc/passwd'))).toBe(join(dir, 'http', 'h', 'a', '..%2F..%2F..%2Fetc', 'passwd'));
    expect(c.fileFor(new URL('http://h:8080/debian/pool/x.deb'))).toBe(join(dir, 'http', 'h:8080', 'debian/pool/x.deb'));
  });

  it('fetches a pool file once; a second client gets it from the cache (curl through the proxy)', async () => {
    const c = new PackageCache(join(dir, 'a'));
    const proxy = await c.start();
    try {
      // asynchronously: the proxy runs in this process
      const get = () => run('curl', ['-sS', '-x', proxy, '-o', '/dev/null', '-w', '%{http_code} %{size_download}', `${mirrorUrl}/pool/main/x/x_1_amd64.deb`]);
      const before = hits.length;
      expect((await get()).stdout).toBe(`200 ${deb.length}`);
      expect((await get()).stdout).toBe(`200 ${deb.length}`);
      expect(hits.length - before).toBe(1);
      expect(c.stats).toMatchObject({ misses: 1, hits: 1, downloadedBytes: deb.length, cachedBytes: deb.length });
      const missing = await run('curl', ['-sS', '-x', proxy, '-o', '/dev/null', '-w', '%{http_code}', `${mirrorUrl}/dists/nope/InRelease`]);
      expect(missing.stdout).toBe('404');
    } finally {
      await c.stop();
    }
  });

  it('revalidates an index file with If-Modified-Since when its max age is 0, and trusts it within the max age', async () => {
    const strict = new PackageCache(join(dir, 'b'), 0);
    const first = await strict.read(`${mirrorUrl}/dists/test/InRelease`);
    expect(first.source).toBe('miss');
    expect(first.body?.toString()).toBe(inRelease);
    const again = new PackageCache(join(dir, 'b'), 0);
    const before = hits.length;
    const second = await again.read(`${mirrorUrl}/dists/test/InRelease`);
    expect(second.source).toBe('revalidated');
    expect(hits.length - before).toBe(1);
    expect(again.stats.downloadedBytes).toBe(0);

    const trusting = new PackageCache(join(dir, 'b'), 3600);
    const third = await trusting.read(`${mirrorUrl}/dists/test/InRelease`);
    expect(third.source).toBe('hit');
    expect(hits.length - before).toBe(1);
    await Promise.all([strict.stop(), again.stop(), trusting.stop()]);
  });

  it('serves what it has when the mirror is down, and names the mirror when it has nothing', async () => {
    const c0 = new PackageCache(join(dir, 'c'), 0);
    await c0.read(`${mirrorUrl}/dists/test/InRelease`);
    await c0.stop();
    const port = (mirror.address() as AddressInfo).port;
    await stopMirror();
    try {
      const c = new PackageCache(join(dir, 'c'), 0);
      const r = await c.read(`${mirrorUrl}/dists/test/InRelease`);
      expect(r.source).toBe('offline');
      expect(r.body?.toString()).toBe(inRelease);
      await expect(c.read(`${mirrorUrl}/dists/other/InRelease`)).rejects.toThrow(/connection refused/);
      expect(c.lastUnreachable?.url).toBe(`http://127.0.0.1:${port}`);
      await c.stop();
    } finally {
      await startMirror(port);
    }
  });
});
