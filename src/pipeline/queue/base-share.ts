// The base on every host, for a clone source: the clone is of one named host's root, so that host's
// worker packs it (the project's own tarball writer) and serves it by its SHA-256 over HTTP; the
// other hosts fetch it, authenticated with the fleet key, verified on arrival, cached by hash, and
// never used half-fetched.
//
// The protocol, one request per base:
//   GET /bases/<sha256>            (lower-case hex)
//   Host: <the server's host:port, as in the URL it gave out>
//   X-Domu-Forge-Time: <milliseconds since the epoch>
//   X-Domu-Forge-Nonce: <32 hex digits, fresh for every request>
//   Authorization: DomuForge-HMAC-SHA256 <hex>
// The signature is HMAC-SHA256, under a key derived from the fleet key for this use alone (so a job
// signature can never pass for a request or the other way round), over the canonical JSON of
// {kind, method, path, host, time, nonce}. The server refuses (401, one line saying why) a request
// that is unsigned, wrongly signed, signed for another host name, more than BASE_SHARE_MAX_SKEW_MS
// away from its clock, or whose nonce it has already seen; then 404 for a base it does not hold.
// The content is not encrypted: what makes a fetched base trustworthy is its SHA-256, which comes
// from the signed job; keep the traffic on the Dom0s' private network (see the README).

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { constants as fsc, createReadStream } from 'node:fs';
import { chmod, lstat, mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { DomuError, errnoCode, isDomuError, oneLine } from '../../errors.js';
import { writeTarball } from '../../tar/index.js';
import type { TarSummary } from '../../tar/index.js';
import { signPayload } from './sign.js';

/** How far a request's time may be from the server's clock, either way. Dom0s are expected to run NTP. */
export const BASE_SHARE_MAX_SKEW_MS = 120_000;
/** A fetch whose connection is silent this long fails. */
const IDLE_TIMEOUT_MS = 60_000;
const AUTH_SCHEME = 'DomuForge-HMAC-SHA256';
const H_TIME = 'x-domu-forge-time';
const H_NONCE = 'x-domu-forge-nonce';
const SHA_RE = /^[0-9a-f]{64}$/;
const NONCE_RE = /^[0-9a-f]{32}$/;
const PATH_RE = /^\/bases\/([0-9a-f]{64})$/;

function requestKey(key: Buffer): Buffer {
  return createHmac('sha256', key).update('domu-forge base-share v1').digest();
}

export interface BaseRequestFields {
  method: string;
  path: string;
  /** The Host header as sent: host[:port], as URL.host gives it. */
  host: string;
  time: number;
  nonce: string;
}

/** The request signature (hex). */
export function signBaseRequest(key: Buffer, f: BaseRequestFields): string {
  return signPayload(requestKey(key), { kind: 'base-share', method: f.method.toUpperCase(), path: f.path, host: f.host.toLowerCase(), time: f.time, nonce: f.nonce });
}

/** The headers that authenticate one request (Host is the caller's to send, and must be `host`). */
export function baseRequestHeaders(key: Buffer, method: string, path: string, host: string, now: number = Date.now()): Record<string, string> {
  const nonce = randomBytes(16).toString('hex');
  const time = Math.floor(now);
  return {
    host,
    [H_TIME]: String(time),
    [H_NONCE]: nonce,
    authorization: `${AUTH_SCHEME} ${signBaseRequest(key, { method, path, host, time, nonce })}`,
  };
}

function shortHash(sha: string): string {
  return sha.slice(0, 12);
}

// ---------------------------------------------------------------------------------------------
// The announcement: where a packed base is and its SHA-256, as the serving host's base job returns
// it (its BullMQ return value, which the fetching hosts' base jobs read as their child's). Redis is
// not trusted, so it is signed with the fleet key (under a key derived for this use alone) over
// the fleet, the run and the host it is from; a fetching worker checks all of them.

export interface BaseShare {
  fleet: string;
  /** The queueing of the fleet it was packed for. */
  run: string;
  /** The host whose root it is (source.clone.host). */
  host: string;
  /** The base key, computed on that host (the same key on every host). */
  key: string;
  sha256: string;
  /** That host's base server (http://HOST:PORT). */
  url: string;
}

export interface SignedBaseShare extends BaseShare {
  signature: string;
}

function announceKey(key: Buffer): Buffer {
  return createHmac('sha256', key).update('domu-forge base-share announce v1').digest();
}

function shareFields(s: BaseShare): BaseShare {
  return { fleet: s.fleet, run: s.run, host: s.host, key: s.key, sha256: s.sha256, url: s.url };
}

export function signBaseShare(key: Buffer, s: BaseShare): SignedBaseShare {
  const f = shareFields(s);
  return { ...f, signature: signPayload(announceKey(key), { kind: 'base-share-announce', ...f }) };
}

/** Check an announcement read from Redis: signed with the fleet key, for this fleet, run and host. Throws a one-line DomuError. */
export function checkBaseShare(key: Buffer, value: unknown, want: { fleet: string; run: string; host: string }): BaseShare {
  const v = value as Partial<SignedBaseShare> | null;
  const from = `host ${want.host}'s packed clone`;
  if (!v || typeof v !== 'object' || typeof v.signature !== 'string' || [v.fleet, v.run, v.host, v.key, v.sha256, v.url].some((x) => typeof x !== 'string')) {
    throw new DomuError('BAD_INPUT', `${from}: no signed announcement (is that host's worker a domu-forge with base sharing, started with --serve?)`);
  }
  const f = shareFields(v as BaseShare);
  const expect = Buffer.from(signPayload(announceKey(key), { kind: 'base-share-announce', ...f }), 'hex');
  const got = /^[0-9a-f]{64}$/.test(v.signature) ? Buffer.from(v.signature, 'hex') : Buffer.alloc(0);
  if (got.length !== expect.length || !timingSafeEqual(got, expect)) throw new DomuError('BAD_INPUT', `${from}: the announcement's signature does not match under this worker's key; refused`);
  if (f.fleet !== want.fleet || f.run !== want.run || f.host !== want.host) throw new DomuError('BAD_INPUT', `${from}: the announcement is for fleet ${f.fleet} run ${f.run} from ${f.host}, not fleet ${want.fleet} run ${want.run}; refused`);
  if (!SHA_RE.test(f.sha256) || !/^[0-9a-f]{64}$/.test(f.key)) throw new DomuError('BAD_INPUT', `${from}: the announcement's hash or key is malformed; refused`);
  return f;
}

// ---------------------------------------------------------------------------------------------
// The server

export interface ServeBasesOptions {
  /** The folder holding the bases, each as <sha256>.tar (as packBase and fetchBase leave them) or <sha256>. */
  dir: string;
  /** The fleet key. */
  key: Buffer;
  /** The name or address the other hosts reach this one by: it goes into the URL, and requests must name it (Host). */
  host: string;
  /** 0 for any free port (the URL tells which). */
  port: number;
  /** The address to listen on; default `host`. */
  address?: string;
  /** Refusals and failures, one line each. */
  log?: (line: string) => void;
}

export interface BaseServer {
  /** http://HOST:PORT: what fetchBase() takes. */
  url: string;
  /** Stop listening and end every connection (a transfer under way breaks; its client keeps nothing). */
  close(): Promise<void>;
}

function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** Serve the bases in `dir` by SHA-256, to requests signed with the fleet key. */
export async function serveBases(opts: ServeBasesOptions): Promise<BaseServer> {
  const dir = resolve(opts.dir);
  const st = await lstat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new DomuError('BAD_INPUT', `the base folder ${opts.dir} is not a directory`);
  if (opts.key.length < 32) throw new DomuError('BAD_INPUT', `the fleet key is too short (${opts.key.length} bytes; at least 32)`);
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new DomuError('USAGE', `the base server's port ${opts.port} is not a port number`);
  const key = opts.key;
  const log = opts.log ?? (() => undefined);
  /** nonce -> request time, for requests that passed the signature check, kept while they could still be replayed */
  const seen = new Map<string, number>();
  let expectedHost = '';
  const sockets = new Set<Socket>();

  const refuse = (req: IncomingMessage, res: ServerResponse, status: number, why: string): void => {
    log(`base server: refused ${req.method} ${String(req.url).slice(0, 100)} from ${req.socket.remoteAddress ?? '?'}: ${why}`);
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close', ...(status === 401 ? { 'www-authenticate': AUTH_SCHEME } : {}) });
    res.end(`${why}\n`);
  };

  const authenticate = (req: IncomingMessage, now: number): string | undefined => {
    const auth = req.headers.authorization;
    const timeText = req.headers[H_TIME];
    const nonce = req.headers[H_NONCE];
    if (typeof auth !== 'string' || typeof timeText !== 'string' || typeof nonce !== 'string') return 'unsigned request';
    const m = new RegExp(`^${AUTH_SCHEME} ([0-9a-f]{64})$`).exec(auth);
    if (!m || !/^\d{1,16}$/.test(timeText) || !NONCE_RE.test(nonce)) return 'malformed signature headers';
    const time = Number(timeText);
    if (Math.abs(now - time) > BASE_SHARE_MAX_SKEW_MS) return `stale request (its time is ${Math.round((now - time) / 1000)} s from this host's clock; at most ${BASE_SHARE_MAX_SKEW_MS / 1000} s)`;
    const host = String(req.headers.host ?? '');
    const want = Buffer.from(signBaseRequest(key, { method: req.method ?? '', path: req.url ?? '', host, time, nonce }), 'hex');
    if (!timingSafeEqual(Buffer.from(m[1]!, 'hex'), want)) return 'bad signature (is the fleet key the same on every host?)';
    if (host.toLowerCase() !== expectedHost) return `the request is for host ${host.slice(0, 100)}, not ${expectedHost}`;
    // forget nonces too old to be accepted again anyway (the map is in arrival order)
    for (const [n, t] of seen) {
      if (t >= now - 2 * BASE_SHARE_MAX_SKEW_MS) break;
      seen.delete(n);
    }
    if (seen.has(nonce)) return 'replayed request (this nonce was used before)';
    seen.set(nonce, time);
    return undefined;
  };

  const openBase = async (sha: string): Promise<FileHandle | undefined> => {
    for (const name of [`${sha}.tar`, sha]) {
      let fh: FileHandle;
      try {
        fh = await open(join(dir, name), fsc.O_RDONLY | fsc.O_NOFOLLOW);
      } catch (e) {
        if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ELOOP') continue;
        throw e;
      }
      if ((await fh.stat()).isFile()) return fh;
      await fh.close();
    }
    return undefined;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET') return refuse(req, res, 405, `method ${String(req.method).slice(0, 20)} not allowed (GET only)`);
    const why = authenticate(req, Date.now());
    if (why) return refuse(req, res, 401, why);
    const m = PATH_RE.exec(req.url ?? '');
    if (!m) return refuse(req, res, 404, 'no such path (GET /bases/<sha256>)');
    const sha = m[1]!;
    const fh = await openBase(sha);
    if (!fh) return refuse(req, res, 404, `no base ${sha} here`);
    const size = (await fh.stat()).size;
    res.writeHead(200, { 'content-type': 'application/x-tar', 'content-length': String(size), 'x-domu-forge-sha256': sha });
    const stream = fh.createReadStream({ highWaterMark: 1 << 20 });
    stream.on('error', (e) => {
      log(`base server: reading base ${shortHash(sha)} failed: ${oneLine(e)}`);
      res.destroy();
    });
    res.on('close', () => stream.destroy());
    stream.pipe(res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      log(`base server: ${req.method} ${String(req.url).slice(0, 100)}: ${oneLine(e)}`);
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
        res.end('internal error\n');
      } else res.destroy();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const address = opts.address ?? opts.host;
  await new Promise<void>((res, rej) => {
    const onError = (e: Error): void => {
      rej(new DomuError('ENVIRONMENT', `the base server cannot listen on ${urlHost(address)}:${opts.port}: ${oneLine(e)}`));
    };
    server.once('error', onError);
    server.listen(opts.port, address, () => {
      server.off('error', onError);
      res();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${urlHost(opts.host)}:${port}`;
  expectedHost = new URL(url).host.toLowerCase();
  server.on('error', (e) => log(`base server: ${oneLine(e)}`));
  let closing: Promise<void> | undefined;
  return {
    url,
    close() {
      closing ??= new Promise<void>((res) => {
        server.close(() => res());
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The client

export interface FetchBaseOptions {
  /** The serving host's URL (http://HOST:PORT, as serveBases() gave it), or the base's own URL (…/bases/<sha256>). */
  url: string;
  /** The base's SHA-256 (from the signed job). */
  sha256: string;
  key: Buffer;
  /** Where bases are cached: <cacheDir>/<sha256>.tar. */
  cacheDir: string;
  signal?: AbortSignal;
}

async function hashFile(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, ...(signal ? { signal } : {}) })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Sync a folder so that a rename in it survives a crash. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The cached base, if it is there and whole (a file that does not match its name is removed). */
async function cachedBase(final: string, sha: string, signal?: AbortSignal): Promise<boolean> {
  const st = await lstat(final).catch(() => undefined);
  if (!st) return false;
  if (!st.isFile()) {
    await rm(final, { force: true, recursive: false }).catch(() => undefined);
    return false;
  }
  if ((await hashFile(final, signal)) !== sha) {
    await rm(final, { force: true });
    return false;
  }
  if ((st.mode & 0o777) !== 0o600) await chmod(final, 0o600);
  return true;
}

function baseUrl(url: string, sha: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DomuError('BAD_INPUT', `the base's URL "${url}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new DomuError('BAD_INPUT', `the base's URL ${u.origin} must be http:// or https://`);
  const m = /\/bases\/([0-9a-fA-F]{64})$/.exec(u.pathname);
  if (m) {
    if (m[1]!.toLowerCase() !== sha) throw new DomuError('BAD_INPUT', `the base's URL names ${shortHash(m[1]!.toLowerCase())}…, not ${shortHash(sha)}…`);
    u.pathname = u.pathname.replace(/[0-9a-fA-F]{64}$/, sha);
  } else u.pathname = `${u.pathname.replace(/\/+$/, '')}/bases/${sha}`;
  u.search = '';
  u.hash = '';
  return u;
}

/** Start the GET and hand back the response, whatever its status. */
function get(u: URL, key: Buffer, signal: AbortSignal): Promise<IncomingMessage> {
  const path = u.pathname;
  const headers = baseRequestHeaders(key, 'GET', path, u.host);
  const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)({
    protocol: u.protocol, hostname: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: u.port || undefined, method: 'GET', path, headers, signal,
    timeout: IDLE_TIMEOUT_MS, agent: false,
  });
  return new Promise<IncomingMessage>((res, rej) => {
    req.on('response', res);
    req.on('error', rej);
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer for ${IDLE_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })));
    req.end();
  });
}

async function readReason(res: IncomingMessage): Promise<string> {
  let text = '';
  try {
    for await (const chunk of res) {
      text += (chunk as Buffer).toString('utf8');
      if (text.length > 400) break;
    }
  } catch {
    // the reason is a courtesy
  }
  res.destroy();
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
}

/**
 * Fetch the base `sha256` from another host's base server into `<cacheDir>/<sha256>.tar` (mode 0600)
 * and return that path. The bytes go to a temporary file in cacheDir, hashed as they arrive; only a
 * file whose SHA-256 matches is renamed into place. A base already in the cache is checked and
 * reused. On any failure or abort the temporary file is removed and a one-line DomuError thrown:
 * BAD_INPUT for a refused key (401), ENVIRONMENT for a missing base (404) or a network failure,
 * VERIFY_FAILED for bytes that do not match their hash, INTERRUPTED for an abort.
 */
export async function fetchBase(opts: FetchBaseOptions): Promise<string> {
  const sha = opts.sha256.toLowerCase();
  if (!SHA_RE.test(sha)) throw new DomuError('BAD_INPUT', `"${opts.sha256.slice(0, 80)}" is not a SHA-256 (64 hex digits)`);
  const u = baseUrl(opts.url, sha);
  const where = u.host;
  const what = `base ${shortHash(sha)}… from ${where}`;
  const cacheDir = resolve(opts.cacheDir);
  await mkdir(cacheDir, { recursive: true, mode: 0o700 });
  const final = join(cacheDir, `${sha}.tar`);
  const signal = opts.signal ?? new AbortController().signal;
  const interrupted = (): DomuError => new DomuError('INTERRUPTED', `fetching ${what} was interrupted; nothing kept`);
  if (signal.aborted) throw interrupted();
  try {
    if (await cachedBase(final, sha, signal)) return final;
  } catch (e) {
    if (signal.aborted) throw interrupted();
    throw new DomuError('ENVIRONMENT', `cannot check the cached base ${final}: ${oneLine(e)}`);
  }

  const temp = join(cacheDir, `.${sha}.tar.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
  let fh: FileHandle | undefined;
  let bytes = 0;
  try {
    let res: IncomingMessage;
    try {
      res = await get(u, opts.key, signal);
    } catch (e) {
      throw netError(e, what, 0, signal);
    }
    if (res.statusCode !== 200) {
      const reason = await readReason(res);
      const said = reason ? `: ${reason}` : '';
      if (res.statusCode === 401) throw new DomuError('BAD_INPUT', `fetching ${what}: refused (401${said})`, { hint: 'every host of the fleet must use the same fleet key (--key), and their clocks must agree (NTP)' });
      if (res.statusCode === 404) throw new DomuError('ENVIRONMENT', `fetching ${what}: that host does not have it (404${said})`);
      throw new DomuError('ENVIRONMENT', `fetching ${what}: HTTP ${res.statusCode ?? '?'}${said}`);
    }
    const expected = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
    fh = await open(temp, 'wx', 0o600);
    const hash = createHash('sha256');
    try {
      for await (const chunk of res) {
        const b = chunk as Buffer;
        hash.update(b);
        bytes += b.length;
        let off = 0;
        try {
          while (off < b.length) off += (await fh.write(b, off, b.length - off)).bytesWritten;
        } catch (e) {
          throw new DomuError('ENVIRONMENT', `fetching ${what}: cannot write ${temp}: ${oneLine(e)}; nothing kept`);
        }
      }
    } catch (e) {
      if (isDomuError(e)) throw e;
      throw netError(e, what, bytes, signal);
    }
    if (!res.complete || (expected !== undefined && bytes !== expected)) {
      throw new DomuError('ENVIRONMENT', `fetching ${what}: the connection ended after ${bytes}${expected !== undefined ? ` of ${expected}` : ''} bytes; nothing kept`);
    }
    const got = hash.digest('hex');
    if (got !== sha) throw new DomuError('VERIFY_FAILED', `fetching ${what}: the bytes received have SHA-256 ${shortHash(got)}…, not ${shortHash(sha)}…; refused, nothing kept`);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(temp, final);
    await syncDir(cacheDir);
    return final;
  } catch (e) {
    if (signal.aborted && !(isDomuError(e) && e.code === 'INTERRUPTED')) throw interrupted();
    if (isDomuError(e)) throw e;
    throw new DomuError('ENVIRONMENT', `fetching ${what}: ${oneLine(e)}; nothing kept`);
  } finally {
    if (fh) await fh.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
  }
}

function netError(e: unknown, what: string, bytes: number, signal: AbortSignal): DomuError {
  if (signal.aborted) return new DomuError('INTERRUPTED', `fetching ${what} was interrupted; nothing kept`);
  const code = errnoCode(e);
  const after = bytes > 0 ? ` after ${bytes} bytes` : '';
  if (code === 'ECONNREFUSED') return new DomuError('ENVIRONMENT', `fetching ${what}: connection refused (is that host's worker running?)`);
  if (code === 'ETIMEDOUT') return new DomuError('ENVIRONMENT', `fetching ${what}: the connection timed out${after}; nothing kept`);
  if (code === 'ECONNRESET' || code === 'EPIPE' || /aborted|socket hang up|premature close/i.test(oneLine(e))) {
    return new DomuError('ENVIRONMENT', `fetching ${what}: the connection broke${after}; nothing kept`);
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new DomuError('ENVIRONMENT', `fetching ${what}: the host name does not resolve`);
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new DomuError('ENVIRONMENT', `fetching ${what}: the host is unreachable`);
  return new DomuError('ENVIRONMENT', `fetching ${what}: ${oneLine(e)}${after}; nothing kept`);
}

// ---------------------------------------------------------------------------------------------
// Packing

export interface PackedBase {
  /** <cacheDir>/<sha256>.tar, mode 0600. */
  path: string;
  sha256: string;
  /** The writer's summary (entries left out, entries that changed while read, warnings). */
  summary: TarSummary;
}

/**
 * Pack the tree at `root` (a clone source) with the project's tarball writer, uncompressed, into
 * `<cacheDir>/<sha256>.tar` (mode 0600), as `domu-forge pack` writes it. Nothing is left behind on
 * failure. `exclude` and `oneFileSystem` leave out what the clone leaves out (the clone's own patterns,
 * default excludes included).
 */
export async function packBase(root: string, cacheDir: string, opts: { signal?: AbortSignal; exclude?: readonly string[]; oneFileSystem?: boolean } = {}): Promise<PackedBase> {
  const dir = resolve(cacheDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.pack-${process.pid}-${randomBytes(4).toString('hex')}.tar`);
  try {
    const summary = await writeTarball(root, temp, { compression: 'none', ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.exclude ? { exclude: opts.exclude } : {}), ...(opts.oneFileSystem ? { oneFileSystem: true } : {}) });
    await chmod(temp, 0o600);
    const sha256 = await hashFile(temp, opts.signal);
    const path = join(dir, `${sha256}.tar`);
    await rename(temp, path);
    await syncDir(dir);
    return { path, sha256, summary: { ...summary, archive: path } };
  } catch (e) {
    if (opts.signal?.aborted && !(isDomuError(e) && e.code === 'INTERRUPTED')) throw new DomuError('INTERRUPTED', `packing ${root} was interrupted; nothing kept`);
    if (isDomuError(e)) throw e;
    throw new DomuError('ENVIRONMENT', `packing ${root} into ${dir}: ${oneLine(e)}`);
  } finally {
    await rm(temp, { force: true }).catch(() => undefined);
  }
}
