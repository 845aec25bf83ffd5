// Writing an uncompressed archive's files on worker threads. The main thread keeps the order of the
// archive for everything that names a path: it makes the directories, symlinks and hard links, and
// creates each regular file (O_EXCL|O_NOFOLLOW, replacing what was there as before). Only the
// writing of a created file's data and its owner and mode go to a worker, as an open descriptor:
// nothing a worker does resolves a path, so nothing it does can be led outside the target.
//
// That order is safe for everything an archive can do next: a later entry of the same name unlinks
// the file being written (the worker finishes an inode nobody sees) and makes its own; a hard link to
// it links the inode, whose data is complete once the workers are done, which the extraction waits
// for before owners of directories, xattrs and times are set.
//
// Measured on a 266 MiB Debian root of 12,087 entries (9,606 files), into a fresh ext4: the main
// thread alone spent 0.31 s reading the archive and 0.31 s writing, of 1.1 s.

import { closeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { DomuError } from '../errors.js';

export interface FileWrite {
  /** The created file, open for writing (the worker closes it). */
  fd: number;
  /** Where its data starts in the archive, and its length. */
  at: number;
  size: number;
  uid: number;
  gid: number;
  mode: number;
}

export interface WriteBatch {
  /** The archive, open for reading (positioned reads only). */
  archive: number;
  files: FileWrite[];
}

export interface WriteBatchResult {
  /** The first failure; the files after it in the batch were closed unwritten. */
  error?: { code: string; message: string };
}

/** The worker file. Under vitest this module runs from src/*.ts; workers always load the build. */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return here.replace(/\/src\/tar\/extract-writers\.ts$/, '/dist/tar/extract.worker.js');
  return here.replace(/extract-writers\.js$/, 'extract.worker.js');
}

/** A batch goes to a worker at this many files or bytes of data (and at the end). */
const BATCH_FILES = 128;
const BATCH_BYTES = 8 << 20;

/** Workers for an extraction: one per core, at most 4 (the main thread is busy too). */
export function defaultWriterCount(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/** Fewer files than this are written on the main thread: starting the workers would cost more. */
export const WRITERS_MIN_FILES = 256;

export class FileWriters {
  private readonly pool: Piscina<WriteBatch, WriteBatchResult>;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly maxInFlight: number;
  private batch: FileWrite[] = [];
  private batchBytes = 0;
  private failure: Error | undefined;

  constructor(private readonly archive: number, workers: number) {
    this.pool = new Piscina({ filename: workerFile(), minThreads: workers, maxThreads: workers, idleTimeout: 10_000, recordTiming: false });
    this.maxInFlight = workers * 2;
  }

  /** Hand on a created file; a promise only when the workers are behind (wait for it). */
  add(f: FileWrite): Promise<void> | undefined {
    this.raise();
    this.batch.push(f);
    this.batchBytes += f.size;
    if (this.batch.length < BATCH_FILES && this.batchBytes < BATCH_BYTES) return undefined;
    return this.submit();
  }

  /** Every file handed on is written and closed (throws the first failure). */
  async drain(): Promise<void> {
    if (this.batch.length > 0) await this.submit();
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    this.raise();
  }

  /** After a failure elsewhere: wait until no worker holds a file or reads the archive, then stop them. */
  async stop(): Promise<void> {
    for (const f of this.batch.splice(0)) {
      try {
        closeSync(f.fd);
      } catch {
        /* already closed */
      }
    }
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    await this.pool.destroy();
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }

  private raise(): void {
    if (this.failure) throw this.failure;
  }

  private async submit(): Promise<void> {
    const files = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    const p: Promise<void> = this.pool.run({ archive: this.archive, files }).then(
      (r) => {
        this.inFlight.delete(p);
        if (r.error && !this.failure) {
          this.failure = r.error.code === 'TRUNCATED' ? new DomuError('BAD_INPUT', r.error.message) : Object.assign(new Error(r.error.message), { code: r.error.code });
        }
      },
      (e: unknown) => {
        this.inFlight.delete(p);
        this.failure ??= e instanceof Error ? e : new Error(String(e));
      },
    );
    this.inFlight.add(p);
    while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
    this.raise();
  }
}
