// The worker pool. It owns Piscina; the work itself lives in copy.worker.ts. A bounded number of
// batches is in flight, so the walk waits for the workers instead of queueing the whole tree.

import { Piscina } from 'piscina';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { BatchResult, WorkerTask } from './types.js';

/** The worker file. Under vitest this module runs from src/*.ts; workers always load the build. */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return here.replace(/\/src\/copy\/pool\.ts$/, '/dist/copy/copy.worker.js');
  return here.replace(/pool\.js$/, 'copy.worker.js');
}

/**
 * Two threads a core, at least 2 and at most 8. On the 2-core reference machine (bench/clone.ts,
 * interleaved rounds, fresh ext4 each run), with the workers reading the directories themselves:
 * /usr copy warm, 4 workers 4.83 s against 2 workers 5.12 s; cold, 4 workers 14.9 s against
 * 8 workers 17.0 s; 100,000 small files, 2 and 4 workers alike (2.45 and 2.47 s). Synchronous
 * calls block a worker on I/O, so a few more workers than cores keep the disk and the CPUs busy;
 * many more only add thread start-up, JIT compiling per thread and context switches.
 */
export function defaultWorkerCount(): number {
  return Math.max(2, Math.min(8, availableParallelism() * 2));
}

export class CopyPool {
  private readonly pool: Piscina<WorkerTask, BatchResult>;
  private readonly inFlight = new Set<Promise<void>>();
  readonly maxInFlight: number;

  constructor(workers: number, private readonly onResult: (task: WorkerTask, result: BatchResult) => void) {
    this.pool = new Piscina({ filename: workerFile(), minThreads: workers, maxThreads: workers, idleTimeout: 60_000, recordTiming: false });
    this.maxInFlight = workers * 2;
  }

  /** Queue a task; resolves once there is room for another (backpressure for the walk). */
  async submit(task: WorkerTask): Promise<void> {
    while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
    const p: Promise<void> = this.pool.run(task).then(
      (result) => {
        this.inFlight.delete(p);
        this.onResult(task, result);
      },
      (e: unknown) => {
        this.inFlight.delete(p);
        throw e;
      },
    );
    p.catch(() => undefined); // surfaced by drain() or the next submit()
    this.inFlight.add(p);
  }

  /** Tasks submitted and not finished. */
  get busy(): number {
    return this.inFlight.size;
  }

  /** Wait until one task in flight finishes (its result handled). */
  async settleOne(): Promise<void> {
    if (this.inFlight.size > 0) await Promise.race(this.inFlight);
  }

  /** Wait for every task submitted so far. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
