// The verify worker: walks a batch of directories on both sides and compares what it finds
// (pair.ts), or compares the contents of a batch of files. Plain data in and out.

import { compareContents, walkBatch, type ContentBatch, type ContentResult, type WalkBatch, type WalkResult } from './pair.js';

export type CompareTask = WalkBatch | ContentBatch;
export type CompareResult = WalkResult | ContentResult;

export default function compareTask(task: CompareTask): CompareResult {
  return task.op === 'walk' ? walkBatch(task) : compareContents(task);
}
