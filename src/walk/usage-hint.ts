// What sizing a tree yields, for the targets that size an image or volume from it.

/** What a tree needs: bytes by the one sizing rule (walk/usage.ts), and the number of entries if known. */
export interface UsageHint {
  bytes: number;
  inodes?: number;
}
