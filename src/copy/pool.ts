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
 * Four threads a core, at most 8: on the 2-core reference machine (bench/clone.ts, /usr copy, warm)
 * 8 workers took 6.5-7.9 s, 4 took 7.3, 2 took 9.7 and 16 took 8.7. Synchronous calls block a
 * worker on I/O, so more workers than cores keep the disk and the CPUs busy.
 */
export function defaultWorkerCount(): number {
  return Math.max(2, Math.min(8, availableParallelism() * 4));
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
