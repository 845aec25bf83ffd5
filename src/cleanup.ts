// A last-in-first-out stack of undo steps (unmount, detach a loop device, remove a half-made image),
// run on error, on success where asked, and on SIGINT/SIGTERM, as mmdebstrap does.

export interface CleanupStep {
  /** What the step undoes, for messages: "unmount /tmp/x", "detach /dev/loop3". */
  label: string;
  run: () => void | Promise<void>;
}

export class CleanupStack {
  private readonly steps: CleanupStep[] = [];
  private running: Promise<string[]> | undefined;

  /** Push an undo step; returns a function that drops it again (when the resource was released normally). */
  push(label: string, run: () => void | Promise<void>): () => void {
    const step: CleanupStep = { label, run };
    this.steps.push(step);
    return () => {
      const i = this.steps.lastIndexOf(step);
      if (i >= 0) this.steps.splice(i, 1);
    };
  }

  get size(): number {
    return this.steps.length;
  }

  /**
   * Run every step, newest first. A failing step does not stop the others; the labels and
   * messages of failures are returned. Concurrent calls share one run.
   */
  runAll(): Promise<string[]> {
    if (this.running) return this.running;
    this.running = (async () => {
      const failures: string[] = [];
      while (this.steps.length > 0) {
        const step = this.steps.pop()!;
        try {
          await step.run();
        } catch (e) {
          failures.push(`${step.label}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      this.running = undefined;
      return failures;
    })();
    return this.running;
  }
}
