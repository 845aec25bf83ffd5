// Comparing a source tree with a target tree, image file or volume.
export { verifyTree, displayPath, DIFFERENCE_KINDS, type Difference, type DifferenceKind, type VerifyOptions, type VerifyResult, type VerifyProgress, type MtimePrecision } from './verify.js';
export { openReadOnly, type OpenedTree } from './mount-ro.js';
