// The library's public exports.
export { DomuError, EXIT_STATUS, type ErrorCode } from './errors.js';
export { CleanupStack } from './build/cleanup.js';
export {
  openTarget, describeTarget, parseSize, estimateImageSize, checkFilesystem, importDisk,
  type TargetSpec, type OpenedTarget, type TargetSummary, type FsType, type OpenOptions, type UsageHint,
  type ImportDiskOptions, type ImportDiskSummary,
} from './targets/index.js';
