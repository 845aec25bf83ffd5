// The library's public exports.
export { DomuError, EXIT_STATUS, type ErrorCode } from './errors.js';
export { CleanupStack } from './build/cleanup.js';
