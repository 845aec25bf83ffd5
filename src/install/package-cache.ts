// The package cache: a small caching HTTP proxy on 127.0.0.1 that debootstrap (wget), mmdebstrap
// (apt) and dnf download through, so the second install of a suite fetches nothing from the mirror.
// Files whose name pins their content (pool/, by-hash/, *.deb, *.rpm, hashed repodata) are kept for
// good; index files (InRelease, repomd.xml, ...) are revalidated with a conditional GET each time and
// served from the cache when the mirror answers 304, or when it cannot be reached at all.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DomuError, errnoCode, oneLine } from '../errors.js';

/** Counters for one install: what came from the mirror and what from the cache. */
export interface PackageCacheStats {
  /** Requests answered (proxy and direct). */
  requests: number;
  /** Answered from the cache without asking the mirror. */
  hits: number;
  /** Index files the mirror confirmed unchanged (304). */
  revalidated: number;
  /** Fetched from the mirror and stored. */
  misses: number;
  /** Served from the cache because the mirror could not be reached. */
  offline: number;
  /** Bytes received from mirrors (bodies only). */
  downloadedBytes: number;
  /** Bytes answered from the cache. */
  cachedBytes: number;
}

export interface CachedResponse {
  status: number;
  /** The cached file holding the body, when status is 200. */
  file?: string;
  size: number;
  contentType?: string;
  /** How the answer was obtained. */
  source: 'hit' | 'revalidated' | 'miss' | 'offline' | 'passthrough';
}

interface Meta {
  url: string;
  /** When the mirror last sent or confirmed this body (ms since the epoch). */
  fetchedAt?: number;
  lastModified?: string;
  etag?: string;
  contentType?: string;
  size: number;
}

/** Upstream failures worth naming: the mirror's host is down, refuses, or does not resolve. */
export class MirrorUnreachable extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`${url}: ${reason}`);
  }
}

const IMMUTABLE = [
  /\/pool\//,
  /\/by-hash\//,
  /\.(u?deb|rpm|drpm)$/,
  /\/repodata\/[0-9a-f]{32,}-[^/]+$/, // createrepo's hash-prefixed metadata
];

/** Whether a URL path names content that can never change (so a cached copy never needs asking). */
export function isImmutablePath(p: string): boolean {
  return IMMUTABLE.some((re) => re.test(p));
}

export class PackageCache {
  readonly dir: string;
  readonly stats: PackageCacheStats = {
    requests: 0,
    hits: 0,
    revalidated: 0,
    misses: 0,
    offline: 0,
    downloadedBytes: 0,
    cachedBytes: 0,
  };
  /** The last failure to reach a mirror, for error messages after a tool fails. */
  lastUnreachable: MirrorUnreachable | undefined;
  private server: http.Server | undefined;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  private readonly inflight = new Map<string, Promise<CachedResponse>>();
  /** URLs already revalidated in this run: ask the mirror once per run, not once per request. */
  private readonly fresh = new Set<string>();

  /**
   * @param dir the cache directory
   * @param indexMaxAge seconds an index file (InRelease, repomd.xml) is used without asking the
   *   mirror again; 0 asks every time. Mirrors that send no Last-Modified/ETag cannot answer a
   *   conditional GET, so within this window is the only way a rerun downloads nothing at all.
   */
  constructor(
    dir: string,
    readonly indexMaxAge = 3600,
  ) {
    this.dir = path.resolve(dir);
  }

  /** Where a URL's body lives in the cache: <dir>/http/<host>/<path>, query strings hashed in. */
  fileFor(url: URL): string {
    if (url.protocol !== 'http:') throw new DomuError('INTERNAL', `package cache: not an http URL: ${url.href}`);
    const segments = url.pathname.split('/').filter((s) => s !== '');
    if (segments.some((s) => s === '.' || s === '..' || s.includes('\0'))) {
      throw new DomuError('BAD_INPUT', `package cache: refusing URL path ${url.pathname}`);
    }
    let name = segments.map((s) => decodeURIComponent(s).replace(/\//g, '%2F')).join('/') || 'index';
    if (url.pathname.endsWith('/')) name += '/.index';
    if (url.search) name += `.q-${createHash('sha256').update(url.search).digest('hex').slice(0, 16)}`;
    const host = url.host.replace(/[^A-Za-z0-9.:_-]/g, '_');
    return path.join(this.dir, 'http', host, name);
  }

  /** Start the proxy; resolves to its URL (http://127.0.0.1:PORT). */
  async start(): Promise<string> {
    await fsp.mkdir(this.dir, { recursive: true });
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.on('connect', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.tunnel(req, socket, head));
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.agent.destroy();
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** https goes through CONNECT, which a cache cannot see into: pass it on untouched. */
  private tunnel(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const m = /^([^:]+):(\d+)$/.exec(req.url ?? '');
    if (!m) {
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(m[2]), m[1]!, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n'));
    socket.on('error', () => upstream.destroy());
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
      if (url.protocol !== 'http:') throw new Error('not http');
    } catch {
      res.writeHead(400).end('domu-forge package cache: absolute http:// URLs only\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    try {
      const r = await this.obtain(url);
      if (r.status !== 200 || !r.file) {
        res.writeHead(r.status, { 'content-length': '0' }).end();
        return;
      }
      res.writeHead(200, {
        'content-length': String(r.size),
        'content-type': r.contentType ?? 'application/octet-stream',
      });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      await pipeline(createReadStream(r.file), res);
    } catch (e) {
      if (!res.headersSent) {
        const status = e instanceof MirrorUnreachable ? 502 : 500;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(`domu-forge package cache: ${oneLine(e)}\n`);
      } else res.destroy();
    }
  }

  /**
   * Make sure the cache holds the body of `url` (fetching or revalidating it as its kind needs) and
   * say where. Concurrent calls for one URL share one fetch. A 404 or other non-200 answer is
   * returned as its status and never stored.
   */
  obtain(url: URL | string): Promise<CachedResponse> {
    const u = typeof url === 'string' ? new URL(url) : url;
    const key = u.href;
    const running = this.inflight.get(key);
    if (running) return running;
    const p = this.obtainOnce(u).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** obtain() and read the body into memory (for small index files). */
  async read(url: URL | string): Promise<{ status: number; body?: Buffer; source: CachedResponse['source'] }> {
    const r = await this.obtain(url);
    return { status: r.status, body: r.file ? await fsp.readFile(r.file) : undefined, source: r.source };
  }

  private async obtainOnce(url: URL): Promise<CachedResponse> {
    this.stats.requests += 1;
    const file = this.fileFor(url);
    const meta = await readMeta(file);
    const immutable = isImmutablePath(url.pathname);
    const young = meta?.fetchedAt !== undefined && Date.now() - meta.fetchedAt < this.indexMaxAge * 1000;
    if (meta && (immutable || young || this.fresh.has(url.href))) {
      this.stats.hits += 1;
      this.stats.cachedBytes += meta.size;
      return { status: 200, file, size: meta.size, contentType: meta.contentType, source: 'hit' };
    }
    const headers: Record<string, string> = { 'user-agent': 'domu-forge-package-cache' };
    if (meta?.lastModified) headers['if-modified-since'] = meta.lastModified;
    if (meta?.etag) headers['if-none-match'] = meta.etag;
    let res: http.IncomingMessage;
    try {
      res = await this.request(url, headers);
    } catch (e) {
      const why = new MirrorUnreachable(url.origin, describeNetError(e));
      this.lastUnreachable = why;
      if (meta) {
        this.stats.offline += 1;
        this.stats.cachedBytes += meta.size;
        return { status: 200, file, size: meta.size, contentType: meta.contentType, source: 'offline' };
      }
      throw why;
    }
    if (res.statusCode === 304 && meta) {
      res.resume();
      await fsp.writeFile(`${file}.meta`, JSON.stringify({ ...meta, fetchedAt: Date.now() }));
      this.fresh.add(url.href);
      this.stats.revalidated += 1;
      this.stats.cachedBytes += meta.size;
      return { status: 200, file, size: meta.size, contentType: meta.contentType, source: 'revalidated' };
    }
    if (res.statusCode !== 200) {
      res.resume();
      return { status: res.statusCode ?? 502, size: 0, source: 'passthrough' };
    }
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.part-${randomBytes(6).toString('hex')}`;
    let size = 0;
    res.on('data', (b: Buffer) => {
      size += b.length;
      this.stats.downloadedBytes += b.length;
    });
    try {
      await pipeline(res, createWriteStream(tmp, { mode: 0o644 }));
      const expected = Number(res.headers['content-length'] ?? NaN);
      if (Number.isFinite(expected) && expected !== size) {
        throw new Error(`short read: ${size} of ${expected} bytes`);
      }
      const m: Meta = { url: url.href, fetchedAt: Date.now(), size, contentType: res.headers['content-type'] };
      if (typeof res.headers['last-modified'] === 'string') m.lastModified = res.headers['last-modified'];
      if (typeof res.headers.etag === 'string') m.etag = res.headers.etag;
      // meta first: a body without meta is never trusted, a stale meta is overwritten on the next fetch
      await fsp.writeFile(`${tmp}.meta`, JSON.stringify(m));
      await fsp.rename(tmp, file);
      await fsp.rename(`${tmp}.meta`, `${file}.meta`);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      await fsp.rm(`${tmp}.meta`, { force: true });
      const why = new MirrorUnreachable(url.origin, `download of ${url.pathname} failed: ${describeNetError(e)}`);
      this.lastUnreachable = why;
      throw why;
    }
    this.fresh.add(url.href);
    this.stats.misses += 1;
    return { status: 200, file, size, contentType: res.headers['content-type'], source: 'miss' };
  }

  private request(url: URL, headers: Record<string, string>): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = http.get(url, { agent: this.agent, headers, timeout: 60_000 }, resolve);
      req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
    });
  }
}

async function readMeta(file: string): Promise<Meta | undefined> {
  try {
    const meta = JSON.parse(await fsp.readFile(`${file}.meta`, 'utf8')) as Meta;
    const st = await fsp.stat(file);
    return st.size === meta.size ? meta : undefined;
  } catch {
    return undefined;
  }
}

function describeNetError(e: unknown): string {
  const code = errnoCode(e);
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name does not resolve';
    case 'ETIMEDOUT':
      return 'timed out';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to host';
    case 'ECONNRESET':
      return 'connection reset';
    default:
      return oneLine(e);
  }
}
