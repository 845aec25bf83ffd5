// Helpers for the tarball tests: GNU tar extraction, nanosecond times of a tree, the pax records of
// an archive, and a raw tar builder for hostile archives (bad checksums, negative sizes, ...).

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

/** The GNU tar command line the README documents for our tarballs. */
export function gnuTarExtract(archive: string, dst: string, extra: string[] = []): void {
  mkdirSync(dst, { recursive: true });
  execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', ...extra, '-xpf', archive, '-C', dst], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** "path mtime" for every entry, mtime with all of find's fractional digits; sorted. */
export function nsTimes(dir: string): string[] {
  const r = spawnSync('find', [dir, '-mindepth', '0', '-printf', '%P %T@\\0'], { encoding: 'latin1', maxBuffer: 1 << 28 });
  return r.stdout.split('\0').filter(Boolean).sort();
}

/** Every pax record ("key=value", raw bytes) in the archive, decompressed as needed. */
export async function paxRecordsOf(archive: string, headBytes = Infinity): Promise<Buffer[]> {
  const child = spawn('sh', ['-c', 'case "$(head -c 4 "$1" | od -An -tx1 | tr -d " ")" in 1f8b*) gzip -dc "$1";; fd377a58) xz -dc "$1";; 28b52ffd) zstd -dc "$1";; *) cat "$1";; esac', 'sh', archive], { stdio: ['ignore', 'pipe', 'inherit'] });
  const out: Buffer[] = [];
  let pending = Buffer.alloc(0);
  let skip = 0;
  let paxLeft = -1;
  let paxData: Buffer[] = [];
  let seen = 0;
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    seen += chunk.length;
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    for (;;) {
      if (skip > 0) {
        const n = Math.min(skip, pending.length);
        if (paxLeft >= 0) paxData.push(pending.subarray(0, n));
        skip -= n;
        pending = pending.subarray(n);
        if (skip > 0) break;
        if (paxLeft >= 0) {
          const data = Buffer.concat(paxData).subarray(0, paxLeft);
          let at = 0;
          while (at < data.length) {
            const sp = data.indexOf(0x20, at);
            const len = Number(data.toString('latin1', at, sp));
            out.push(Buffer.from(data.subarray(sp + 1, at + len - 1)));
            at += len;
          }
          paxLeft = -1;
          paxData = [];
        }
      }
      if (pending.length < 512) break;
      const h = pending.subarray(0, 512);
      pending = pending.subarray(512);
      if (h.every((b) => b === 0)) continue;
      const sizeField = h.subarray(124, 136);
      const size = sizeField[0]! & 0x80 ? Number(sizeField.readBigUInt64BE(4)) : parseInt(sizeField.toString('latin1').replace(/\0.*$/, '').trim() || '0', 8);
      const type = String.fromCharCode(h[156]!);
      skip = Math.ceil(size / 512) * 512;
      if (type === 'x') {
        paxLeft = size;
        paxData = [];
      }
    }
    if (seen >= headBytes) {
      child.kill();
      break;
    }
  }
  return out;
}

// ---- a raw tar builder for archives no honest tool writes ----

export interface RawEntry {
  name: string | Buffer;
  type?: string; // '0' file, '1' hard link, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo, 'x' pax
  mode?: number;
  size?: number;
  /** Base-256 size field holding this (possibly negative) value. */
  rawSize?: bigint;
  linkname?: string | Buffer;
  data?: Buffer | string;
  uid?: number;
  gid?: number;
  devmajor?: number;
  devminor?: number;
  /** Spoil the checksum. */
  badChecksum?: boolean;
  /** pax records to put in an 'x' header before this entry. */
  pax?: Record<string, string | Buffer>;
}

export function rawHeader(e: RawEntry): Buffer {
  const b = Buffer.alloc(512);
  const name = typeof e.name === 'string' ? Buffer.from(e.name, 'latin1') : e.name;
  name.copy(b, 0, 0, Math.min(100, name.length));
  const oct = (v: number, len: number, at: number) => b.write(`${v.toString(8).padStart(len - 1, '0')}\0`, at, 'latin1');
  oct(e.mode ?? 0o644, 8, 100);
  oct(e.uid ?? 0, 8, 108);
  oct(e.gid ?? 0, 8, 116);
  const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
  if (e.rawSize !== undefined) {
    let v = BigInt.asUintN(88, e.rawSize);
    for (let i = 135; i > 124; i--) {
      b[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    b[124] = e.rawSize < 0n ? 0xff : 0x80;
  } else oct(e.size ?? data.length, 12, 124);
  oct(1600000000, 12, 136);
  b.write(e.type ?? '0', 156, 'latin1');
  if (e.linkname !== undefined) (typeof e.linkname === 'string' ? Buffer.from(e.linkname, 'latin1') : e.linkname).copy(b, 157, 0, 100);
  b.write('ustar\x0000', 257, 'latin1');
  oct(e.devmajor ?? 0, 8, 329);
  oct(e.devminor ?? 0, 8, 337);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  if (e.badChecksum) sum += 1;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

function pad(buf: Buffer): Buffer {
  return Buffer.concat([buf, Buffer.alloc((512 - (buf.length % 512)) % 512)]);
}

export function paxData(records: Record<string, string | Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(records)) {
    const body = Buffer.concat([Buffer.from(` ${k}=`, 'latin1'), Buffer.from(v as Buffer), Buffer.from('\n')]);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    parts.push(Buffer.from(String(len)), body);
  }
  return Buffer.concat(parts);
}

/** A whole archive: each entry (with its pax header, if any), then the two zero blocks. */
export function rawTar(entries: RawEntry[], { end = true } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    if (e.pax) {
      const d = paxData(e.pax);
      parts.push(rawHeader({ name: 'PaxHeader', type: 'x', size: d.length }), pad(d));
    }
    parts.push(rawHeader(e));
    if (e.data !== undefined) parts.push(pad(Buffer.from(e.data)));
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
