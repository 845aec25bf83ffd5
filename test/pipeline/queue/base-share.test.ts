// The base shared between hosts, over real HTTP between two network namespaces joined by a veth
// pair: the serving "host" runs serveBases() in one namespace, the fetching one runs fetchBase() in
// the other. A real tree is packed (the project's tarball writer), fetched, verified, unpacked and
// compared with rsync -aHAXc; then the refusals: no key, a wrong key, a replayed, stale or
// re-addressed request, bytes that do not match their hash, and a server killed mid-transfer. In
// every refusal nothing is left in the fetching host's cache.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { cliPath, repoRoot, rsyncDiff, scratchDir } from '../../helpers/run.js';
import { packBase } from '../../../src/pipeline/queue/base-share.js';
import { DomuError } from '../../../src/errors.js';

const MOD = join(repoRoot, 'dist', 'pipeline', 'queue', 'base-share.js');
const TAG = `dfb${process.pid % 1_000_000}`;
const NS_SRV = `${TAG}s`;
const NS_CLI = `${TAG}c`;
const SRV_IP = '10.251.77.1';
const CLI_IP = '10.251.77.2';

const SERVER_JS = `
import { readFileSync } from 'node:fs';
import { serveBases } from ${JSON.stringify(MOD)};
const [dir, keyFile, host, address] = process.argv.slice(2);
const s = await serveBases({ dir, key: Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'hex'), host, port: 0, address: address || undefined,
  log: (l) => process.stderr.write(l + '\\n') });
process.stdout.write(JSON.stringify({ url: s.url }) + '\\n');
process.on('SIGTERM', () => s.close().then(() => process.exit(0)));
`;

// op "fetch": fetchBase; op "raw": hand-made requests (unsigned, replayed, stale, for another host)
const CLIENT_JS = `
import { request } from 'node:http';
import { fetchBase, baseRequestHeaders } from ${JSON.stringify(MOD)};
const a = JSON.parse(process.argv[2]);
const key = Buffer.from(a.key, 'hex');
function send(url, path, headers, method = 'GET') {
  const u = new URL(url);
  return new Promise((res, rej) => {
    const req = request({ hostname: u.hostname, port: u.port, path, method, headers, agent: false }, (r) => {
      let body = '';
      r.on('data', (c) => { if (body.length < 500) body += c.toString('latin1'); });
      r.on('end', () => res({ status: r.statusCode, body: r.statusCode === 200 ? '(' + r.headers['content-length'] + ' bytes)' : body.trim() }));
      r.on('error', rej);
    });
    req.on('error', rej);
    req.end();
  });
}
let out;
try {
  if (a.op === 'fetch') {
    const ac = new AbortController();
    if (a.abortAfterBytes) {
      // abort once a partial file in the cache holds that much
      // (the cache directory appears only once fetchBase makes it: until then there is nothing to look at)
      const { existsSync, readdirSync, statSync } = await import('node:fs');
      const t = setInterval(() => {
        for (const n of existsSync(a.cacheDir) ? readdirSync(a.cacheDir) : []) {
          let size = 0;
          try { size = statSync(a.cacheDir + '/' + n).size; } catch { continue; } // renamed or removed meanwhile
          if (n.includes('.partial-') && size >= a.abortAfterBytes) { clearInterval(t); ac.abort(); }
        }
      }, 20);
      t.unref();
    }
    out = { ok: true, path: await fetchBase({ url: a.url, sha256: a.sha256, key, cacheDir: a.cacheDir, signal: ac.signal }) };
  } else {
    const u = new URL(a.url);
    const path = '/bases/' + a.sha256;
    const r = {};
    r.unsigned = await send(a.url, path, {});
    const h = baseRequestHeaders(key, 'GET', path, u.host);
    r.first = await send(a.url, path, h);
    r.replayed = await send(a.url, path, h);
    r.stale = await send(a.url, path, baseRequestHeaders(key, 'GET', path, u.host, Date.now() - 3600_000));
    r.future = await send(a.url, path, baseRequestHeaders(key, 'GET', path, u.host, Date.now() + 3600_000));
    r.otherHost = await send(a.url, path, baseRequestHeaders(key, 'GET', path, 'other-dom0:' + u.port));
    const h2 = baseRequestHeaders(key, 'GET', path, u.host);
    r.otherPath = await send(a.url, '/bases/' + 'f'.repeat(64), h2);
    r.post = await send(a.url, path, baseRequestHeaders(key, 'POST', path, u.host), 'POST');
    r.traversal = await send(a.url, '/bases/../../etc/passwd', baseRequestHeaders(key, 'GET', '/bases/../../etc/passwd', u.host));
    out = { ok: true, raw: r };
  }
} catch (e) {
  out = { ok: false, code: e.code, message: e.message };
}
process.stdout.write(JSON.stringify(out) + '\\n');
`;

interface Server { url: string; child: ChildProcess; stderr: string[] }
type ClientOut = { ok: true; path?: string; raw?: Record<string, { status: number; body: string }> } | { ok: false; code: string; message: string };

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

describe('base share between two network namespaces', () => {
  const scratch = scratchDir('baseshare');
  const d = scratch.dir;
  const tree = join(d, 'tree');
  const srvCache = join(d, 'srv-cache');
  const cliCache = join(d, 'cli-cache');
  const keyFile = join(d, 'fleet.key');
  const otherKeyFile = join(d, 'other.key');
  const key = randomBytes(32);
  const servers: Server[] = [];
  let server: Server;
  let packed: { path: string; sha256: string };

  async function startServer(dir: string, ns = NS_SRV): Promise<Server> {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, join(d, 'server.mjs'), dir, keyFile, SRV_IP], { stdio: ['ignore', 'pipe', 'pipe'] });
    const s: Server = { url: '', child, stderr: [] };
    servers.push(s);
    createInterface({ input: child.stderr! }).on('line', (l) => s.stderr.push(l));
    const lines = createInterface({ input: child.stdout! });
    const [first] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => { throw new Error(`server exited: ${s.stderr.join(' ')}`); })])) as [string];
    s.url = (JSON.parse(first) as { url: string }).url;
    return s;
  }

  function client(args: Record<string, unknown>, keyHex = key.toString('hex')): { child: ChildProcess; result: Promise<ClientOut> } {
    const child = spawn('ip', ['netns', 'exec', NS_CLI, process.execPath, join(d, 'client.mjs'), JSON.stringify({ key: keyHex, cacheDir: cliCache, ...args })], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    // 'close', not 'exit': the child's stdout is read to its end before it is parsed
    const result = once(child, 'close').then(([status]) => {
      if (!out.trim()) throw new Error(`the client printed nothing (exit status ${String(status)})`);
      return JSON.parse(out) as ClientOut;
    });
    return { child, result };
  }

  const cacheEntries = (): string[] => (existsSync(cliCache) ? readdirSync(cliCache) : []);

  beforeAll(async () => {
    writeFileSync(join(d, 'server.mjs'), SERVER_JS);
    writeFileSync(join(d, 'client.mjs'), CLIENT_JS);
    writeFileSync(keyFile, key.toString('hex'), { mode: 0o600 });
    writeFileSync(otherKeyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
    ip('netns', 'add', NS_SRV);
    ip('netns', 'add', NS_CLI);
    ip('link', 'add', `${TAG}a`, 'type', 'veth', 'peer', 'name', `${TAG}b`);
    ip('link', 'set', `${TAG}a`, 'netns', NS_SRV);
    ip('link', 'set', `${TAG}b`, 'netns', NS_CLI);
    ip('-n', NS_SRV, 'addr', 'add', `${SRV_IP}/30`, 'dev', `${TAG}a`);
    ip('-n', NS_CLI, 'addr', 'add', `${CLI_IP}/30`, 'dev', `${TAG}b`);
    for (const [ns, dev] of [[NS_SRV, `${TAG}a`], [NS_CLI, `${TAG}b`]] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
    // a tree with what a root filesystem holds: hard links, symlinks, xattrs, ACLs, a device, a fifo,
    // a sparse file, odd names, set-id bits, owners, nanosecond times
    execFileSync('bash', ['-c', `
      set -e
      mkdir -p "$1" && cd "$1"
      mkdir -p etc usr/bin usr/lib var/lib/data dev srv/shared "weird dir"
      printf 'root:x:0:0:root:/root:/bin/sh\\n' > etc/passwd
      printf 'root:*:19000:0:99999:7:::\\n' > etc/shadow && chmod 640 etc/shadow && chgrp 42 etc/shadow
      head -c 3M /dev/urandom > usr/lib/payload.bin
      cp /bin/true usr/bin/true && ln usr/bin/true usr/bin/true-link && chmod 4755 usr/bin/true
      ln -s ../lib/payload.bin usr/bin/payload-link
      ln -s /nonexistent/target usr/bin/dangling
      setfattr -n user.origin -v fixture usr/lib/payload.bin
      setfattr -n security.test -v "$(printf 'bin\\001ary')" etc/passwd 2>/dev/null || true
      setfacl -m u:1234:rwx,g:2345:r-x srv/shared && setfacl -d -m u:1234:rwx srv/shared
      mknod dev/null c 1 3 && chmod 666 dev/null && mkfifo dev/initctl
      truncate -s 64M var/lib/data/sparse.img && printf 'middle' | dd of=var/lib/data/sparse.img bs=1 seek=33554432 conv=notrunc status=none
      printf 'x' > "weird dir/$(printf 'name with\\nnewline')" && printf 'y' > "weird dir/$(printf 'latin1-\\351')"
      chown 1000:1000 "weird dir" && chmod 2775 "weird dir"
      touch -h -d '2024-01-02 03:04:05.123456789' usr/bin/payload-link
      touch -d '2024-01-02 03:04:05.123456789' usr/lib/payload.bin
    `, 'tree', tree]);
    const p = await packBase(tree, srvCache);
    packed = { path: p.path, sha256: p.sha256 };
    server = await startServer(srvCache);
  });

  afterAll(async () => {
    for (const s of servers) {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGKILL');
        await once(s.child, 'exit');
      }
    }
    for (const ns of [NS_SRV, NS_CLI]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // not made
      }
    }
    scratch.cleanup();
  });

  it('packBase writes <sha256>.tar, mode 0600, named by its content', () => {
    expect(packed.path).toBe(join(srvCache, `${packed.sha256}.tar`));
    expect(statSync(packed.path).mode & 0o777).toBe(0o600);
    expect(createHash('sha256').update(readFileSync(packed.path)).digest('hex')).toBe(packed.sha256);
    expect(readdirSync(srvCache)).toEqual([`${packed.sha256}.tar`]);
  });

  it('packBase refuses what is not a directory and leaves nothing', async () => {
    const dir = join(d, 'pack-refused');
    await expect(packBase(join(tree, 'etc/passwd'), dir)).rejects.toThrow(DomuError);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('fetches, verifies and caches the base; it unpacks to the same tree by rsync -aHAXc', async () => {
    const r = await client({ op: 'fetch', url: server.url, sha256: packed.sha256 }).result;
    expect(r).toEqual({ ok: true, path: join(cliCache, `${packed.sha256}.tar`) });
    expect(cacheEntries()).toEqual([`${packed.sha256}.tar`]);
    const path = join(cliCache, `${packed.sha256}.tar`);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path).equals(readFileSync(packed.path))).toBe(true);
    const out = join(d, 'unpacked');
    execFileSync(process.execPath, [cliPath, 'unpack', '--trusted', '-q', path, out], { stdio: ['ignore', 'ignore', 'inherit'] });
    expect(rsyncDiff(tree, out)).toBe('');
    // and the sparse file stayed sparse
    expect(statSync(join(out, 'var/lib/data/sparse.img')).blocks * 512).toBeLessThan(1 << 20);
  });

  it('a cached base is reused without the network, after it is checked', async () => {
    // no server on this port: only the cache can answer
    const r = await client({ op: 'fetch', url: `http://${SRV_IP}:1`, sha256: packed.sha256 }).result;
    expect(r).toEqual({ ok: true, path: join(cliCache, `${packed.sha256}.tar`) });
  });

  it('a cached base that does not match its name is removed, never used', async () => {
    const path = join(cliCache, `${packed.sha256}.tar`);
    const bytes = readFileSync(path);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(path, bytes, { mode: 0o600 });
    const r = await client({ op: 'fetch', url: `http://${SRV_IP}:1`, sha256: packed.sha256 }).result;
    expect(r).toMatchObject({ ok: false, code: 'ENVIRONMENT' });
    expect((r as { message: string }).message).toMatch(/^fetching base [0-9a-f]{12}… from 10\.251\.77\.1:1: connection refused/);
    expect(cacheEntries()).toEqual([]);
    // fetched again from the server, it is whole
    const again = await client({ op: 'fetch', url: server.url, sha256: packed.sha256 }).result;
    expect(again).toMatchObject({ ok: true });
    expect(readFileSync(path).equals(readFileSync(packed.path))).toBe(true);
  });

  it('refuses a request without the key, with a wrong key, replayed, stale, for another host, for another path', async () => {
    const r = await client({ op: 'raw', url: server.url, sha256: packed.sha256 }).result;
    expect(r.ok).toBe(true);
    const raw = (r as { raw: Record<string, { status: number; body: string }> }).raw;
    expect(raw.unsigned).toEqual({ status: 401, body: 'unsigned request' });
    expect(raw.first!.status).toBe(200);
    expect(raw.replayed).toEqual({ status: 401, body: 'replayed request (this nonce was used before)' });
    expect(raw.stale!.status).toBe(401);
    expect(raw.stale!.body).toMatch(/^stale request/);
    expect(raw.future!.status).toBe(401);
    expect(raw.future!.body).toMatch(/^stale request/);
    expect(raw.otherHost).toEqual({ status: 401, body: `the request is for host other-dom0:${new URL(server.url).port}, not ${new URL(server.url).host}` });
    expect(raw.otherPath!.status).toBe(401);
    expect(raw.otherPath!.body).toMatch(/^bad signature/);
    expect(raw.post!.status).toBe(405);
    expect(raw.traversal!.status).toBe(404);
    // each refusal is logged by the server, one line each
    expect(server.stderr.filter((l) => l.includes('refused')).length).toBeGreaterThanOrEqual(7);

    // a wrong key through fetchBase: a one-line BAD_INPUT, nothing in the cache
    const wrongCache = join(d, 'wrong-key-cache');
    const w = await client({ op: 'fetch', url: server.url, sha256: packed.sha256, cacheDir: wrongCache }, readFileSync(otherKeyFile, 'utf8')).result;
    expect(w).toEqual({
      ok: false, code: 'BAD_INPUT',
      message: `fetching base ${packed.sha256.slice(0, 12)}… from ${new URL(server.url).host}: refused (401: bad signature (is the fleet key the same on every host?))`,
    });
    expect(readdirSync(wrongCache)).toEqual([]);
  });

  it('404 for a base the server does not hold', async () => {
    const missing = createHash('sha256').update('no such base').digest('hex');
    const r = await client({ op: 'fetch', url: server.url, sha256: missing, cacheDir: join(d, 'missing-cache') }).result;
    expect(r).toMatchObject({ ok: false, code: 'ENVIRONMENT' });
    expect((r as { message: string }).message).toMatch(/: that host does not have it \(404: no base [0-9a-f]{64} here\)$/);
    expect(readdirSync(join(d, 'missing-cache'))).toEqual([]);
  });

  it('tampered bytes: a file whose content is not its name\'s hash is refused and nothing is kept', async () => {
    const real = randomBytes(1 << 20);
    const sha = createHash('sha256').update(real).digest('hex');
    const tampered = Buffer.from(real);
    tampered[12345] ^= 1;
    writeFileSync(join(srvCache, `${sha}.tar`), tampered, { mode: 0o600 });
    const cache = join(d, 'tampered-cache');
    const r = await client({ op: 'fetch', url: server.url, sha256: sha, cacheDir: cache }).result;
    expect(r).toMatchObject({ ok: false, code: 'VERIFY_FAILED' });
    expect((r as { message: string }).message).toMatch(/^fetching base [0-9a-f]{12}… from .*: the bytes received have SHA-256 [0-9a-f]{12}…, not [0-9a-f]{12}…; refused, nothing kept$/);
    expect(readdirSync(cache)).toEqual([]);
  });

  it('aborted or server killed mid-transfer: nothing half-made is left, and a dead server is a clear error', async () => {
    // a second server in the serving namespace, with a big base, behind a slow link (tc tbf), so
    // that the transfer is surely under way when the server is killed
    const bigDir = join(d, 'big');
    mkdirSync(bigDir);
    const big = randomBytes(16 << 20);
    const sha = createHash('sha256').update(big).digest('hex');
    writeFileSync(join(bigDir, `${sha}.tar`), big, { mode: 0o600 });
    const s = await startServer(bigDir);
    ip('netns', 'exec', NS_SRV, 'tc', 'qdisc', 'add', 'dev', `${TAG}a`, 'root', 'tbf', 'rate', '8mbit', 'burst', '32kbit', 'latency', '400ms');
    const cache = join(d, 'killed-cache');
    try {
      // first an abort of the fetch itself, part way: INTERRUPTED, nothing kept
      const aborted = await client({ op: 'fetch', url: s.url, sha256: sha, cacheDir: cache, abortAfterBytes: 256 << 10 }).result;
      expect(aborted).toEqual({ ok: false, code: 'INTERRUPTED', message: `fetching base ${sha.slice(0, 12)}… from ${new URL(s.url).host} was interrupted; nothing kept` });
      expect(readdirSync(cache)).toEqual([]);
      const c = client({ op: 'fetch', url: s.url, sha256: sha, cacheDir: cache });
      // wait until a partial file holds some of it, then kill the server
      for (;;) {
        const partial = (existsSync(cache) ? readdirSync(cache) : []).find((n) => n.includes('.partial-'));
        if (partial && statSync(join(cache, partial)).size >= 256 << 10) break;
        if (c.child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      s.child.kill('SIGKILL');
      const r = await c.result;
      expect(r).toMatchObject({ ok: false, code: 'ENVIRONMENT' });
      expect((r as { message: string }).message).toMatch(/^fetching base [0-9a-f]{12}… from 10\.251\.77\.1:\d+: the connection (broke|ended) after \d+ (of \d+ )?bytes; nothing kept$/);
      expect(readdirSync(cache)).toEqual([]);
      // the server is gone: connection refused, in one line
      const again = await client({ op: 'fetch', url: s.url, sha256: sha, cacheDir: cache }).result;
      expect(again).toEqual({ ok: false, code: 'ENVIRONMENT', message: `fetching base ${sha.slice(0, 12)}… from ${new URL(s.url).host}: connection refused (is that host's worker running?)` });
      expect(readdirSync(cache)).toEqual([]);
    } finally {
      ip('netns', 'exec', NS_SRV, 'tc', 'qdisc', 'del', 'dev', `${TAG}a`, 'root');
    }
  });
});
